"""CacheReplayStore keeps one redis-py client per pool and process (Django makes one per call)."""

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


def test_one_client_per_pool_and_process(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = remembering(caches["redis"])
    first = storage._redis_client(cache)
    assert storage._redis_client(cache) is first
    assert first.connection_pool is cache._cache._get_connection_pool(True)
    # After a fork (another pid) the parent's client is never reused.
    monkeypatch.setattr(storage.os, "getpid", lambda: -1)
    after_fork = storage._redis_client(cache)
    assert after_fork is not first
    assert storage._redis_client(cache) is after_fork


def test_the_cached_client_still_detects_replays() -> None:
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

    backend = cache._cache
    monkeypatch.setattr(backend, "__class__", Sharded)
    storage._redis_client(cache)
    storage._redis_client(cache)
    assert calls == [True, True]
