"""The database stores on PostgreSQL under faults, through DRF's real view: locked, dropped.

A second connection of the test holds ``LOCK TABLE`` on a store's table (released by the test,
or by PostgreSQL after 30 s at the latest); the request answers 503 while the lock is still
held, so it did not wait for it. A dropped connection is the test's own Django connection,
ended with ``pg_terminate_backend``. No request is accepted that should not be, no 5xx but 503.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connections, router, transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model
from rest_framework.test import APIClient

from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding
from django_dpop.storage import DatabaseNonceStore, DatabaseReplayStore
from tests.contrib.rest_framework.test_authentication import URL, dpop_get
from tests.factories import make_proof


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["default", "postgres"], transaction=True),
    pytest.mark.urls("tests.contrib.rest_framework.test_authentication"),
]

TIMEOUT = 0.3


class AllTo:
    """A router sending every model to one alias."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return self.alias

    db_for_write = db_for_read

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True


@pytest.fixture
def pg(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Any:
    """Every model on the ``postgres`` alias, store calls bounded by TIMEOUT seconds."""
    monkeypatch.setattr(router, "routers", [AllTo("postgres")])
    settings.DPOP_STORE_TIMEOUT = TIMEOUT
    return connections["postgres"]


@pytest.fixture
def token(pg: Any, key: Any) -> Any:
    user = get_user_model().objects.create_user("pg-alice")
    application = get_application_model().objects.create(
        name="pg", user=user, client_type="public", authorization_grant_type="client-credentials"
    )
    access_token = get_access_token_model().objects.create(
        token="pg-faults-token",
        user=user,
        application=application,
        scope="read",
        expires=timezone.now() + datetime.timedelta(hours=1),
    )
    AccessTokenBinding.objects.create(access_token=access_token, jkt=key.jkt)
    return access_token


def other_connection() -> Any:
    import psycopg

    params = connections["postgres"].settings_dict
    return psycopg.connect(
        host=params["HOST"], port=params["PORT"], user=params["USER"], dbname=params["NAME"]
    )


@contextlib.contextmanager
def locked(model: Any) -> Iterator[Any]:
    """Hold ACCESS EXCLUSIVE on ``model``'s table from another connection (30 s at most)."""
    holder = other_connection()
    try:
        holder.execute("SET idle_in_transaction_session_timeout = '30s'")
        holder.execute(f'LOCK TABLE "{model._meta.db_table}" IN ACCESS EXCLUSIVE MODE')
        yield holder
    finally:
        holder.rollback()
        holder.close()


def still_locked(holder: Any) -> bool:
    row = holder.execute(
        "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() "
        "AND mode = 'AccessExclusiveLock' AND granted"
    ).fetchone()
    return bool(row[0])


def get(token: Any, key: Any, proof: str | None = None) -> Any:
    return dpop_get(APIClient(), token, proof or make_proof(key, "GET", URL, access_token=token.token))


def test_a_locked_replay_table_answers_503_without_waiting_for_the_lock(token, key):
    from django_dpop.models import SeenProof

    proof = make_proof(key, "GET", URL, access_token=token.token)
    with locked(SeenProof) as holder:
        response = get(token, key, proof)
        assert response.status_code == 503, response.content
        assert response.headers["Retry-After"]  # the client may retry
        assert still_locked(holder)  # answered while the lock was held: it did not wait for it
    # Nothing was recorded half-way: the proof was never accepted, so it is accepted once now.
    assert get(token, key, proof).status_code == 200
    assert get(token, key, proof).status_code == 401


def test_a_locked_token_table_answers_503(token, key):
    proof = make_proof(key, "GET", URL, access_token=token.token)
    with locked(get_access_token_model()) as holder:
        assert get(token, key, proof).status_code == 503
        assert still_locked(holder)
    # Its replay entry was written before the token lookup failed: refused, never accepted.
    assert get(token, key, proof).status_code == 401
    assert get(token, key).status_code == 200


def test_a_locked_nonce_table_answers_503(token, key, settings):
    from django_dpop.models import ServerNonce

    settings.DPOP_NONCE_REQUIRED = True
    first = get(token, key)
    assert first.status_code == 401
    nonce = first.headers["DPoP-Nonce"]
    with locked(ServerNonce) as holder:
        assert get(token, key).status_code == 503  # issuing a nonce
        with_nonce = make_proof(key, "GET", URL, access_token=token.token, nonce=nonce)
        assert get(token, key, with_nonce).status_code == 503  # checking one
        assert still_locked(holder)
    assert (
        get(token, key, make_proof(key, "GET", URL, access_token=token.token, nonce=nonce)).status_code == 200
    )


def test_atomic_requests_a_locked_table_answers_503_and_the_timeouts_are_restored(
    token, key, pg, monkeypatch
):
    from django_dpop.models import SeenProof

    monkeypatch.setitem(pg.settings_dict, "ATOMIC_REQUESTS", True)
    with locked(SeenProof) as holder:
        assert get(token, key).status_code == 503
        assert still_locked(holder)
    assert get(token, key).status_code == 200
    # Inside a transaction the store's timeouts last only as long as its own call.
    with transaction.atomic(using="postgres"), pg.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '7s'")
        assert DatabaseReplayStore().check_and_add("f" * 64, 2_000_000_000) is True
        DatabaseNonceStore().issue("resource")
        cursor.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
        assert cursor.fetchone() == ("7s", "0")


def test_autocommit_timeouts_end_with_the_statement(token, key, pg):
    assert get(token, key).status_code == 200
    with pg.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
        assert cursor.fetchone() == ("0", "0")


def test_a_dropped_connection_answers_503_once_then_reconnects(token, key, pg):
    assert get(token, key).status_code == 200
    with pg.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    killer = other_connection()
    try:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])  # the test's own connection
    finally:
        killer.close()
    proof = make_proof(key, "GET", URL, access_token=token.token)
    assert get(token, key, proof).status_code == 503
    # Django's handler drops the broken connection at the end of that request (the test client
    # turns that signal off: run it as the handler does); the next request reconnects.
    close_old_connections()
    assert get(token, key, proof).status_code == 200  # never recorded: accepted once
    assert get(token, key, proof).status_code == 401
