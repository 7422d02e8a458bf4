"""Cost of one replay-store call (what every DPoP request pays), per store and backend.

Run from the repository root::

    .venv/bin/python -m benchmarks.store_calls                  # every backend that is reachable
    .venv/bin/python -m benchmarks.store_calls --number 5000

Rows: ``DatabaseReplayStore`` on SQLite in memory and on PostgreSQL (a scratch database at
127.0.0.1:5432, bounded by ``DPOP_STORE_TIMEOUT``: the timeouts travel in the statement's own
round trip), ``CacheReplayStore`` on Redis at 127.0.0.1:6379 (under a key prefix of its own: it
adds keys that expire within a minute; the proof's ``SET NX`` and the state marker's ``GET`` in
one pipelined round trip) and the raw ``cache.add`` it replaces (``SET NX`` alone). Each row
is the median and best of ``--repeat`` rounds of ``--number`` calls, in microseconds per call.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.request_cost import create_scratch_postgres, drop_scratch_postgres


def configure(postgres: str | None) -> None:
    import django
    from django.conf import settings

    databases: dict[str, Any] = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    if postgres:
        databases["postgres"] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": postgres,
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": 5432,
        }
    settings.configure(
        SECRET_KEY="benchmark-only",
        USE_TZ=True,
        INSTALLED_APPS=["django_dpop"],
        DATABASES=databases,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "redis": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:6379/0",
                "KEY_PREFIX": f"dpop-bench-{os.getpid()}",
                "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
            },
        },
    )
    django.setup()


def timed(call: Callable[[str], Any], number: int, repeat: int) -> tuple[float, float]:
    rounds = []
    for _ in range(repeat):
        keys = [secrets.token_hex(32) for _ in range(number)]
        started = time.perf_counter()
        for key in keys:
            call(key)
        rounds.append((time.perf_counter() - started) / number * 1e6)
    return statistics.median(rounds), min(rounds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    from tests.services import POSTGRES_AVAILABLE, REDIS_AVAILABLE

    postgres = create_scratch_postgres() if POSTGRES_AVAILABLE else None
    configure(postgres)
    from django.core.cache import caches
    from django.db import connections

    from django_dpop.models import SeenProof, ServerNonce
    from django_dpop.storage import CacheReplayStore, DatabaseReplayStore

    rows: list[tuple[str, Callable[[str], Any]]] = []
    for alias in ("default", "postgres") if postgres else ("default",):
        with connections[alias].schema_editor() as editor:
            editor.create_model(SeenProof)
            editor.create_model(ServerNonce)
        store = DatabaseReplayStore(using=alias)
        rows.append(
            (f"database {connections[alias].vendor}", lambda key, s=store: s.check_and_add(key, 2**31))
        )
    if REDIS_AVAILABLE:
        cache = caches["redis"]
        cache.set(getattr(CacheReplayStore, "MARKER_KEY", "unused"), 0, 600)
        store = CacheReplayStore("redis")
        expires = int(time.time()) + 60
        rows.append(("cache redis", lambda key: store.check_and_add(key, expires)))
        rows.append(("redis SET NX only", lambda key: cache.add("django_dpop:replay:" + key, 1, 60)))
    try:
        print(f"{args.repeat} rounds x {args.number} calls, microseconds per call")
        print("store                  median    best")
        for name, call in rows:
            call(secrets.token_hex(32))  # warm-up: connection, prepared statements
            median, best = timed(call, args.number, args.repeat)
            print(f"{name:<20} {median:8.1f} {best:7.1f}")
    finally:
        if postgres:
            drop_scratch_postgres(postgres)


if __name__ == "__main__":
    main()
