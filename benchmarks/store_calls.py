"""Cost of one replay-store call (what every DPoP request pays), per store and backend.

Run from the repository root::

    .venv/bin/python -m benchmarks.store_calls                  # every backend that is reachable
    .venv/bin/python -m benchmarks.store_calls --number 5000

Rows: ``DatabaseReplayStore`` on SQLite in memory and on PostgreSQL (a scratch database at
127.0.0.1:5432, bounded by ``DPOP_STORE_TIMEOUT``: the timeouts travel in the statement's own
round trip), ``CacheReplayStore`` on Redis at 127.0.0.1:6379 (under a key prefix of its own: it
adds keys that expire within a minute; the proof's ``SET NX`` and the state marker's ``GET`` in
one pipelined round trip) and the raw ``cache.add`` it replaces (``SET NX`` alone). The
``unbounded`` rows run the store's own upsert statement without the timeouts, as before
``DPOP_STORE_TIMEOUT``. Rounds are interleaved (every row once per round), so that a noisy
neighbour slows all rows alike; each row is the median and best of ``--repeat`` rounds of
``--number`` calls, in microseconds per call.
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


def timed(call: Callable[[str], Any], number: int) -> float:
    keys = [secrets.token_hex(32) for _ in range(number)]
    started = time.perf_counter()
    for key in keys:
        call(key)
    return (time.perf_counter() - started) / number * 1e6


def unbounded_upsert(alias: str) -> Callable[[str], Any]:
    """The replay upsert of DatabaseReplayStore as one plain statement (no timeouts)."""
    import datetime

    from django.db import connections

    from django_dpop.models import SeenProof

    connection = connections[alias]
    quote = connection.ops.quote_name
    table = quote(SeenProof._meta.db_table)
    key_column, expires_column = quote("key"), quote("expires_at")
    sql = (
        f"INSERT INTO {table} ({key_column}, {expires_column}) VALUES (%s, %s) "
        f"ON CONFLICT ({key_column}) DO UPDATE SET {expires_column} = excluded.{expires_column} "
        f"WHERE {table}.{expires_column} < %s"
    )
    adapt = connection.ops.adapt_datetimefield_value
    expires = adapt(datetime.datetime.fromtimestamp(2**31, tz=datetime.UTC))

    def call(key: str) -> bool:
        now = adapt(datetime.datetime.now(datetime.UTC))
        with connection.cursor() as cursor:
            cursor.execute(sql, [key, expires, now])
            return cursor.rowcount == 1

    return call


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
        vendor = connections[alias].vendor
        rows.append((f"database {vendor}", lambda key, s=store: s.check_and_add(key, 2**31)))
        rows.append((f"database {vendor} unbounded", unbounded_upsert(alias)))
    if REDIS_AVAILABLE:
        cache = caches["redis"]
        cache.set(getattr(CacheReplayStore, "MARKER_KEY", "unused"), 0, 600)
        store = CacheReplayStore("redis")
        expires = int(time.time()) + 60
        rows.append(("cache redis", lambda key: store.check_and_add(key, expires)))
        rows.append(("redis SET NX only", lambda key: cache.add("django_dpop:replay:" + key, 1, 60)))
    try:
        print(f"{args.repeat} rounds x {args.number} calls, microseconds per call")
        results: dict[str, list[float]] = {name: [] for name, _ in rows}
        for _, call in rows:
            call(secrets.token_hex(32))  # warm-up: connection, prepared statements
        for _ in range(args.repeat):
            for name, call in rows:
                results[name].append(timed(call, args.number))
        print("store                          median    best")
        for name, times in results.items():
            print(f"{name:<28} {statistics.median(times):8.1f} {min(times):7.1f}")
    finally:
        if postgres:
            drop_scratch_postgres(postgres)


if __name__ == "__main__":
    main()
