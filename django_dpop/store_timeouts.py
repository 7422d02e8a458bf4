"""Bound every database call of the stores by ``DPOP_STORE_TIMEOUT`` (never wait on a lock forever).

A locked table (``LOCK TABLE``, a migration, a long purge on SQLite) would otherwise make each DPoP
request wait as long as the lock lasts, until the web server kills the worker (a 500). Bounded,
the store call fails after the timeout and the request is refused with 503 (fail closed).

- PostgreSQL: ``lock_timeout`` and ``statement_timeout``, local to the statement's transaction.
  Outside a transaction (autocommit, the usual case) they are sent in the same round trip as the
  statement (one simple-query message: PostgreSQL runs it as one implicit transaction, so
  ``SET LOCAL`` ends with it); inside one (``ATOMIC_REQUESTS``) in a savepoint, restored after.
- SQLite: the connection's ``busy_timeout``, set around the statement and restored after (a
  file database only: an in-memory one has no other process to wait for).
- Other vendors: nothing is changed; their own connection settings bound the wait.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from .conf import conf


def timeout_ms() -> int:
    """``DPOP_STORE_TIMEOUT`` in whole milliseconds (at least 1: 0 would mean "no limit")."""
    return max(1, round(float(conf.DPOP_STORE_TIMEOUT) * 1000))


def _one_round_trip(connection: BaseDatabaseWrapper) -> bool:
    # Client-side binding (Django's default with psycopg 3, always with psycopg2) sends the
    # statements with their parameters as one simple query; server-side binding cannot.
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is not True
    )


def execute(connection: BaseDatabaseWrapper, cursor: Any, sql: str, params: Sequence[Any]) -> None:
    """Run one statement on ``cursor`` within the store timeout; results are read as usual after."""
    if _one_round_trip(connection):
        ms = f"{timeout_ms()}ms"
        cursor.execute(
            "SET LOCAL lock_timeout = %s; SET LOCAL statement_timeout = %s; " + sql,
            [ms, ms, *params],
        )
        # psycopg 3 keeps every result: move to the statement's own (rowcount, rows); psycopg2
        # keeps only the last one, which is it already.
        if not type(getattr(cursor, "cursor", cursor)).__module__.startswith("psycopg2"):
            cursor.nextset()
            cursor.nextset()
        return
    with bounded(connection):
        cursor.execute(sql, params)


@contextlib.contextmanager
def bounded(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Bound the queries made inside the block (ORM or raw) by the store timeout."""
    if connection.vendor == "postgresql":
        with _postgresql(connection):
            yield
    elif connection.vendor == "sqlite" and not connection.is_in_memory_db():
        # (An in-memory database has no other process to wait for: nothing to bound.)
        with _sqlite(connection):
            yield
    else:
        yield


@contextlib.contextmanager
def _postgresql(connection: BaseDatabaseWrapper) -> Iterator[None]:
    nested = connection.in_atomic_block
    ms = f"{timeout_ms()}ms"
    # A transaction (or a savepoint in the caller's one): SET LOCAL ends with it, and a failure
    # (timeout, dropped connection) rolls back to the savepoint instead of poisoning the caller's
    # transaction.
    with transaction.atomic(using=connection.alias):
        with connection.cursor() as cursor:
            if nested:
                cursor.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
                saved = cursor.fetchone()
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
                [ms, ms],
            )
        yield
        if nested:  # RELEASE SAVEPOINT keeps SET LOCAL: restore the caller's values
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
                    list(saved),
                )


@contextlib.contextmanager
def _sqlite(connection: BaseDatabaseWrapper) -> Iterator[None]:
    connection.ensure_connection()
    raw = connection.connection
    (saved,) = raw.execute("PRAGMA busy_timeout").fetchone()
    raw.execute(f"PRAGMA busy_timeout = {timeout_ms():d}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(saved):d}")
