"""Concurrency: one proof sent by several threads at once is accepted exactly once (RFC 9449 §11.1).

Threads share the test database (``transaction=True``); the replay store is the shared cache
(``cache.add`` is atomic) or the database. No sleeps: a barrier releases every request at once.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.db import connections

from django_dpop.storage import CacheReplayStore
from tests.adversarial.conftest import RESOURCES, call_resource, challenge_params, resource_proof


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.adversarial.urls")]
THREADS = 8
REPLAY_STORES = ["django_dpop.storage.CacheReplayStore", "django_dpop.storage.DatabaseReplayStore"]


@pytest.fixture(autouse=True)
def remembering_cache() -> None:
    """A cache store that has remembered since long before these proofs (else its first request
    finds no state marker and refuses them as possibly seen before a loss): the test then does
    not depend on an earlier test having written the marker."""
    caches["default"].add(CacheReplayStore.MARKER_KEY, 0, None)


def _race(path: str, token: str, proofs: list[str]) -> list[tuple[int, str | None]]:
    barrier = threading.Barrier(len(proofs))

    def send(proof: str) -> tuple[int, str | None]:
        try:
            barrier.wait(timeout=30)
            response = call_resource(path, token, proof)
            error = challenge_params(response).get("error") if response.status_code == 401 else None
            return response.status_code, error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(proofs)) as pool:
        return list(pool.map(send, proofs))


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize("store", REPLAY_STORES)
def test_control_distinct_proofs_in_parallel_all_pass(path, store, key, bound_token, settings) -> None:
    settings.DPOP_REPLAY_STORE = store
    proofs = [resource_proof(key, path, bound_token) for _ in range(THREADS)]
    results = _race(path, bound_token, proofs)
    if "Cache" in store:
        assert results == [(200, None)] * THREADS
    else:
        # SQLite serialises writers: one that cannot get the lock in time is a 503, never a 500.
        assert all(status in (200, 503) for status, _ in results), results
        assert [status for status, _ in results].count(200) >= 1


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize("store", REPLAY_STORES)
def test_one_proof_in_parallel_is_accepted_once(path, store, key, bound_token, settings, events) -> None:
    settings.DPOP_REPLAY_STORE = store
    proof = resource_proof(key, path, bound_token)
    results = _race(path, bound_token, [proof] * THREADS)
    statuses = [status for status, _ in results]
    assert statuses.count(200) == 1, results
    losers = [result for result in results if result[0] != 200]
    # The losers are replays; on SQLite a writer that waited past its bound may be a 503 instead.
    allowed = {(401, "invalid_dpop_proof")} | ({(503, None)} if "Database" in store else set())
    assert set(losers) <= allowed, results
    assert sorted(events.reasons) == sorted(
        "replayed" if status == 401 else "store_unavailable" for status, _ in losers
    )
    assert len(events.accepted) == 1
