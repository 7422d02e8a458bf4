"""One transaction per token request, and a 503 (never a 500) when the database fails.

RFC 6749 §5.2: the request that loses the race for a one-time grant (an authorization code, a
rotated refresh token, a device code) is answered ``invalid_grant``. Two things make sure the
loser sees the winner's outcome instead of crashing halfway through DOT's code:

* the whole grant handling runs in one transaction (:func:`token_transaction`), and the
  validator locks the grant's row when it first reads it (``SELECT ... FOR UPDATE``,
  :func:`lock_rows`): a concurrent request waits, then finds the grant spent;
* SQLite has no row locks and upgrades a reader to a writer only when no other writer is
  pending (otherwise ``database is locked`` at once, whatever the timeout): the transaction
  takes SQLite's write lock first (a write that changes nothing), so token requests queue on
  the busy timeout instead, like ``BEGIN IMMEDIATE``.

A database that stays locked, went away or was never migrated raises a ``django.db.Error``
(``DatabaseError``, or ``InterfaceError`` for a dropped connection, which is not one):
answered 503 ``temporarily_unavailable`` with ``Retry-After`` and ``Cache-Control: no-store``,
and logged once, with the exception class and the first line of its message (never a token,
proof, code or key: database drivers put row values on later ``DETAIL`` lines).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections, router, transaction

from ...resource import retry_after
from .models import GrantBinding


log = logging.getLogger("django_dpop.contrib.oauth2_provider")

_MAX_CAUSE = 200


def describe(exc: BaseException) -> str:
    """``Class: first line of the message`` of ``exc``'s root cause, short and without values."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = str(exc).strip().splitlines()
    message = lines[0][:_MAX_CAUSE] if lines else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def log_unavailable(endpoint: str, exc: BaseException) -> None:
    """One line naming why ``endpoint`` answered 503 (a forgotten migrate, a store that is down)."""
    log.error("DPoP %s unavailable (503): %s", endpoint, describe(exc))


def unavailable_response(
    description: str = "The authorization server is temporarily unavailable.",
) -> tuple[dict[str, str], str, int]:
    """Headers, body and status of a token-endpoint 503 (``temporarily_unavailable``)."""
    headers = {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Retry-After": retry_after(),  # DPOP_RETRY_AFTER, as every DPoP 503
    }
    body = json.dumps({"error": "temporarily_unavailable", "error_description": description})
    return headers, body, 503


def _take_sqlite_write_lock(alias: str) -> None:
    """Make this SQLite transaction a writer now (it then waits its turn on the busy timeout)."""
    connection = connections[alias]
    table = connection.ops.quote_name(GrantBinding._meta.db_table)
    column = connection.ops.quote_name(GrantBinding._meta.get_field("jkt").column)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = {column} WHERE 1 = 0")  # noqa: S608 - no input


@contextmanager
def token_transaction(model: Any) -> Iterator[None]:
    """The transaction of one token (or revocation) request on ``model``'s write database."""
    alias = router.db_for_write(model)
    with transaction.atomic(using=alias):
        if connections[alias].vendor == "sqlite":
            _take_sqlite_write_lock(alias)
        yield


def lock_rows(queryset: Any) -> None:
    """Lock the rows of ``queryset`` until the transaction ends (no-op outside one, or on SQLite).

    A concurrent request locking the same rows waits here, then reads what the winner committed.
    """
    locked = queryset.select_for_update()  # on the write database, as the transaction is
    if connections[locked.db].in_atomic_block:
        list(locked.values_list("pk", flat=True))
