"""CacheReplayStore on Django's RedisCache: one pipelined round trip on the pool, no client per call."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCacheClient

from django_dpop import storage
from django_dpop.storage import CacheReplayStore


pytestmark = pytest.mark.redis


def replay_key(name: str) -> str:
    return hashlib.sha256(f"perf-{name}-{time.time_ns()}".encode()).hexdigest()


def remembering(cache: Any) -> Any:
    cache.add(CacheReplayStore.MARKER_KEY, 0, None)  # real time only: never a fake clock here
    return cache


def test_the_store_writes_on_the_caches_write_pool_without_a_client_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = remembering(caches["redis"])
    assert storage._write_pool(cache) is cache._cache._get_connection_pool(True)
    made: list[Any] = []
    monkeypatch.setattr(cache._cache, "_client", lambda **kwargs: made.append(kwargs))
    assert CacheReplayStore("redis").check_and_add(replay_key("pool"), int(time.time()) + 60) is True
    assert made == []  # Django's get_client (a new redis.Redis) was never called


def test_an_error_reply_refuses_and_drops_the_connection() -> None:
    cache = remembering(caches["redis"])
    pool = storage._write_pool(cache)
    with pytest.raises(Exception, match="(?i)wrong number|unknown|syntax"):
        storage._pipelined(pool, (("SET",), ("GET", "x")))  # the second reply is left unread
    # The connection was dropped, so the next call reads its own replies, not the stale one.
    key = cache.make_and_validate_key(replay_key("next"))
    assert storage._pipelined(pool, (("SET", key, 1, "EX", 5, "NX"), ("GET", key))) == [b"OK", b"1"]


def test_the_pipelined_store_still_detects_replays() -> None:
    remembering(caches["redis"])
    store = CacheReplayStore("redis")
    key = replay_key("replay")
    expires_at = int(time.time()) + 60
    assert store.check_and_add(key, expires_at) is True
    assert store.check_and_add(key, expires_at) is False
    assert store.check_and_add(replay_key("other"), expires_at) is True


def test_a_custom_client_class_is_asked_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = remembering(caches["redis"])
    calls: list[bool] = []

    class Sharded(RedisCacheClient):
        def get_client(self, key: Any = None, *, write: bool = False) -> Any:
            calls.append(write)
            return super().get_client(key, write=write)

    monkeypatch.setattr(cache._cache, "__class__", Sharded)
    assert storage._write_pool(cache) is None
    store = CacheReplayStore("redis")
    key = replay_key("sharded")
    expires_at = int(time.time()) + 60
    assert store.check_and_add(key, expires_at) is True
    assert store.check_and_add(key, expires_at) is False
    assert calls == [True, True]
