"""The Redis replay store under faults, through DRF's real view: down, hung, flushed, restarted.

Each test runs its own ``redis-server`` (tests/redis_server.py), never the shared one. Whatever
happens to the store, no proof it may have seen is accepted again, and the only 5xx is 503.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.checks import run_checks

from django_dpop.checks import Codes, check_replay_cache_server
from django_dpop.storage import CacheReplayStore
from tests.contrib.rest_framework.test_authentication import URL, dpop_get
from tests.factories import make_proof
from tests.redis_server import RedisServer, own_redis_server


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.contrib.rest_framework.test_authentication")]

SKEW = 5
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from own_redis_server(tmp_path)


@pytest.fixture
def store(redis_server: RedisServer, settings: Any) -> Any:
    """CacheReplayStore on the test's own Redis, remembering since an hour ago."""
    settings.CACHES = {
        "default": LOCMEM,
        "replay": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        },
    }
    settings.DPOP_REPLAY_STORE = "django_dpop.storage.CacheReplayStore"
    settings.DPOP_REPLAY_CACHE = "replay"
    settings.DPOP_CLOCK_SKEW = SKEW
    cache = caches["replay"]
    assert cache.add(CacheReplayStore.MARKER_KEY, int(time.time()) - 3600, None)
    return cache


def marker(cache: Any) -> float:
    return float(cache.get(CacheReplayStore.MARKER_KEY))


def test_a_flush_refuses_every_proof_the_store_may_have_seen(client, key, make_token, store, redis_server):
    token = make_token(jkt=key.jkt)
    seen = make_proof(key, "GET", URL, access_token=token.token)
    assert dpop_get(client, token, seen).status_code == 200
    assert dpop_get(client, token, seen).status_code == 401  # a replay

    redis_server.flushall()  # the store forgets everything, the marker with it
    response = dpop_get(client, token, seen)
    assert response.status_code == 503, response.content  # never 200: it was seen before
    since = marker(store)  # written by that request, not before the flush
    assert since >= time.time() - 5
    # A new proof made now might be a pre-dated proof (iat up to SKEW ahead) used before the
    # flush: refused as well until SKEW has passed.
    assert dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token)).status_code == 503

    # A proof first acceptable after the marker (iat - SKEW > since) cannot have been seen.
    while time.time() < math.floor(since) + 1:
        time.sleep(0.05)
    later = make_proof(key, "GET", URL, access_token=token.token, iat=math.floor(time.time()) + SKEW)
    assert dpop_get(client, token, later).status_code == 200
    assert dpop_get(client, token, later).status_code == 401  # remembered again
    # Refused still: its refused attempt after the flush recorded it, so it is a plain replay.
    assert dpop_get(client, token, seen).status_code == 401


def test_a_restart_without_persistence_refuses_proofs_seen_before(
    client, key, make_token, store, redis_server
):
    token = make_token(jkt=key.jkt)
    seen = make_proof(key, "GET", URL, access_token=token.token)
    assert dpop_get(client, token, seen).status_code == 200
    redis_server.restart()
    assert dpop_get(client, token, seen).status_code == 503
    assert dpop_get(client, token, seen).status_code == 401  # recorded by the refused attempt


def test_a_store_that_is_down_refuses_and_forgets_nothing(client, key, make_token, store, redis_server):
    token = make_token(jkt=key.jkt)
    seen = make_proof(key, "GET", URL, access_token=token.token)
    assert dpop_get(client, token, seen).status_code == 200
    redis_server.stop()
    fresh = make_proof(key, "GET", URL, access_token=token.token)
    for proof in (seen, fresh):
        response = dpop_get(client, token, proof)
        assert response.status_code == 503, response.content
        assert response.headers["Retry-After"]
        assert response.json()["detail"] == "DPoP verification is temporarily unavailable."
    redis_server.start()  # back, empty (no persistence): the marker is gone too
    assert dpop_get(client, token, seen).status_code == 503
    assert dpop_get(client, token, fresh).status_code == 503  # made before the store came back
    assert {dpop_get(client, token, proof).status_code for proof in (seen, fresh)} == {401}


def test_a_hung_store_answers_503_without_waiting_for_it(client, key, make_token, store, redis_server):
    token = make_token(jkt=key.jkt)
    redis_server.hang()  # SIGSTOP: the socket is open, nothing answers, for as long as we like
    try:
        response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token))
        assert response.status_code == 503  # the cache's socket_timeout, not the server's return
        assert redis_server.process is not None and redis_server.process.poll() is None
    finally:
        redis_server.resume()
    assert dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token)).status_code == 200


def test_the_markers_first_writer_wins(store, redis_server):
    """Workers racing to write the marker agree on one value (SET NX), whoever wrote it."""
    redis_server.flushall()
    now = time.time()
    first = CacheReplayStore("replay")
    with pytest.raises(Exception, match="lost its state"):
        first.check_and_add("a" * 64, int(now) + 300 + 2 * SKEW, now=now)
    written = marker(store)
    with pytest.raises(Exception, match="lost its state"):
        CacheReplayStore("replay").check_and_add("b" * 64, int(now) + 300 + 2 * SKEW, now=now + 50)
    assert marker(store) == written == math.ceil(now)
    # The boundary: first acceptable exactly at the marker is refused, one second after passes.
    assert first.check_and_add("c" * 64, written + 1 + 300 + 2 * SKEW, now=now) is True
    with pytest.raises(Exception, match="lost its state"):
        first.check_and_add("d" * 64, written + 300 + 2 * SKEW, now=now)


def test_a_foreign_marker_value_fails_closed(store):
    store.set(CacheReplayStore.MARKER_KEY, "not a time", None)
    with pytest.raises(Exception, match="not a timestamp"):
        CacheReplayStore("replay").check_and_add("e" * 64, int(time.time()) + 300)


# -- the deployment check asks the server how it keeps data -----------------------------------


def deploy_ids(server: RedisServer, settings: Any) -> list[str]:
    settings.CACHES = {
        "default": LOCMEM,
        "replay": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        },
    }
    settings.DPOP_REPLAY_STORE = "django_dpop.storage.CacheReplayStore"
    settings.DPOP_REPLAY_CACHE = "replay"
    return [message.id for message in check_replay_cache_server()]


def test_deploy_check_passes_a_redis_that_never_evicts_nor_restores_snapshots(redis_server, settings):
    assert deploy_ids(redis_server, settings) == []


def test_deploy_check_warns_of_eviction_and_snapshots(tmp_path, settings):
    server = own_redis_server(
        tmp_path, **{"maxmemory": "50mb", "maxmemory-policy": "allkeys-lru", "save": "900 1"}
    )
    for running in server:
        assert deploy_ids(running, settings) == [Codes.REPLAY_CACHE_EVICTS, Codes.REPLAY_CACHE_SNAPSHOTS]
        # Registered as a deployment check: `manage.py check --deploy` only (it connects).
        deployed = {message.id for message in run_checks(include_deployment_checks=True)}
        assert {Codes.REPLAY_CACHE_EVICTS, Codes.REPLAY_CACHE_SNAPSHOTS} <= deployed
        assert Codes.REPLAY_CACHE_EVICTS not in {message.id for message in run_checks()}


def test_deploy_check_accepts_append_only_persistence(tmp_path, settings):
    for running in own_redis_server(tmp_path, **{"appendonly": "yes", "save": "900 1"}):
        assert deploy_ids(running, settings) == []


def test_deploy_check_is_silent_when_the_server_is_unreachable(settings):
    settings.CACHES = {
        "default": LOCMEM,
        "replay": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.DPOP_REPLAY_STORE = "django_dpop.storage.CacheReplayStore"
    settings.DPOP_REPLAY_CACHE = "replay"
    assert check_replay_cache_server() == []
