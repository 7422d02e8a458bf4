"""A database that fails anywhere during a token request: a 503 with ``Retry-After``, never a 500.

Each test fails the request's n-th query, for every n, with the errors a real database raises
(``OperationalError``: locked, gone, not migrated; ``InterfaceError``: a dropped connection),
through Django's own ``execute_wrapper`` hook. Nothing may be stored half-way: the same grant
still works afterwards. A real lock (another connection holding SQLite's exclusive lock) and a
forgotten ``migrate`` are tested as they happen.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from django_dpop.conf import conf
from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding, GrantBinding, RefreshTokenBinding
from tests.contrib.oauth2_provider.flows import (
    DEVICE_GRANT,
    App,
    authorize,
    authorize_device,
    code_exchange,
    post_token,
    token_proof,
)
from tests.factories import TestKey


pytestmark = pytest.mark.filterwarnings("ignore:The OAuth 2.0 resource owner password:DeprecationWarning")

ERRORS = [
    pytest.param(lambda: OperationalError("database is locked"), id="locked"),
    pytest.param(lambda: InterfaceError("connection already closed"), id="dropped"),
]
# A connection dropped at SAVEPOINT/RELEASE/COMMIT takes its transaction with it on the server;
# here the connection lives on, so that case cannot be simulated: dropped fails data statements.
_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def _counts(sql: str, error: Callable[[], Exception]) -> bool:
    return not (isinstance(error(), InterfaceError) and sql.lstrip().upper().startswith(_TRANSACTION_CONTROL))


class Counter:
    def __init__(self, error: Callable[[], Exception]) -> None:
        self.count, self.error = 0, error

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += _counts(sql, self.error)
        return execute(sql, params, many, context)


class FailAt:
    """Raise ``error`` instead of running the n-th query (1-based)."""

    def __init__(self, n: int, error: Callable[[], Exception]) -> None:
        self.n, self.error, self.seen = n, error, 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.seen += _counts(sql, self.error)
        if self.seen == self.n and _counts(sql, self.error):
            raise self.error()
        return execute(sql, params, many, context)


def _state() -> tuple[int, ...]:
    return (
        get_access_token_model().objects.count(),
        get_refresh_token_model().objects.filter(revoked__isnull=True).count(),
        get_grant_model().objects.count(),
        AccessTokenBinding.objects.count(),
        RefreshTokenBinding.objects.count(),
        GrantBinding.objects.count(),
    )


def _assert_503(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(conf.DPOP_RETRY_AFTER)
    assert response["Cache-Control"] == "no-store"
    assert json.loads(response.content)["error"] == "temporarily_unavailable"


def _every_query_fails(send: Callable[[], Any], error: Callable[[], Exception]) -> int:
    """Fail each query of ``send()`` in turn: every answer a 503, nothing changed. Returns the count."""
    before = _state()
    # Count the queries of a successful request, then undo it (it would spend the grant).
    probe = Counter(error)
    sid = connection.savepoint()
    with connection.execute_wrapper(probe):
        response = send()
    connection.savepoint_rollback(sid)
    assert response.status_code == 200, response.content
    for n in range(1, probe.count + 1):
        with connection.execute_wrapper(FailAt(n, error)):
            response = send()
        _assert_503(response)
        assert _state() == before, f"query {n} of {probe.count} left something stored"
    return probe.count


@pytest.fixture
def public_app(app_factory: Any) -> App:
    return app_factory("authorization-code", public=True)


def _basic(app: App) -> dict[str, str]:
    pair = f"{app.client_id}:{app.secret}".encode()
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(pair).decode()}


@pytest.mark.parametrize("error", ERRORS)
def test_code_exchange(client: Client, browser: Client, public_app: App, key: TestKey, error: Any) -> None:
    code, verifier = authorize(browser, public_app, dpop_jkt=key.jkt)
    data = code_exchange(code, verifier)

    def send() -> Any:
        return post_token(client, public_app, data, key=key)

    assert _every_query_fails(send, error) > 5
    # Nothing was spent: the code still works, once.
    response = post_token(client, public_app, data, key=key)
    assert response.status_code == 200, response.content
    assert AccessTokenBinding.objects.get().jkt == key.jkt


@pytest.mark.parametrize("error", ERRORS)
def test_refresh(client: Client, browser: Client, public_app: App, key: TestKey, error: Any) -> None:
    code, verifier = authorize(browser, public_app)
    tokens = json.loads(post_token(client, public_app, code_exchange(code, verifier), key=key).content)
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    def send() -> Any:
        return post_token(client, public_app, data, key=key)

    _every_query_fails(send, error)
    response = post_token(client, public_app, data, key=key)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("grant", ["client_credentials", "password"])
@pytest.mark.parametrize("error", ERRORS)
def test_fresh_grants(
    client: Client, app_factory: Any, dot_settings: Any, key: TestKey, grant: str, error: Any
) -> None:
    dot_settings(COMPLIANT_BCP_RFC9700_PASSWORD_GRANT=False)
    app = app_factory(grant.replace("_", "-"))
    data = {"grant_type": grant, "scope": "read"}
    if grant == "password":
        data.update(username="alice", password="wonderland")

    def send() -> Any:
        return post_token(client, app, data, key=key)

    _every_query_fails(send, error)


@pytest.mark.parametrize("error", ERRORS)
def test_device_code(client: Client, browser: Client, app_factory: Any, key: TestKey, error: Any) -> None:
    app = app_factory(DEVICE_GRANT, public=True)
    data = {"grant_type": DEVICE_GRANT, "device_code": authorize_device(Client(), browser, app)}

    def send() -> Any:
        return post_token(client, app, data, key=key)

    _every_query_fails(send, error)
    assert post_token(client, app, data, key=key).status_code == 200


@pytest.mark.parametrize("error", ERRORS)
@pytest.mark.parametrize("endpoint", ["revoke_token", "introspect"])
def test_revocation_and_introspection(
    client: Client, browser: Client, app_factory: Any, key: TestKey, error: Any, endpoint: str
) -> None:
    app = app_factory("authorization-code")
    code, verifier = authorize(browser, app)
    tokens = json.loads(post_token(client, app, code_exchange(code, verifier), key=key).content)
    body = urlencode({"token": tokens["access_token"]})

    def send() -> Any:
        return client.post(
            f"/o/{endpoint}/", body, content_type="application/x-www-form-urlencoded", **_basic(app)
        )

    _every_query_fails(send, error)


# -- real failures, as they happen -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sqlite_locked_by_another_process(
    app_factory: Any, key: TestKey, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    """Another connection holds SQLite's exclusive lock past the busy timeout: 503, logged."""
    app = app_factory("client-credentials")
    settings.DPOP_REPLAY_STORE = None  # the lock must be met by the token transaction itself
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        connection.close()
        with caplog.at_level(logging.ERROR, logger="django_dpop"):
            response = post_token(Client(), app, {"grant_type": "client_credentials"}, key=key)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _assert_503(response)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("django_dpop")]
    assert lines == ["DPoP token endpoint unavailable (503): OperationalError: database is locked"]


def test_forgotten_migrate_is_logged(
    client: Client, app_factory: Any, key: TestKey, caplog: pytest.LogCaptureFixture
) -> None:
    """The replay store's table is missing: 503, and the log says which table (not the proof)."""
    from django_dpop.models import SeenProof

    app = app_factory("client-credentials")
    with connection.cursor() as cursor:  # undone with the test's transaction (SQLite DDL is)
        cursor.execute(f"DROP TABLE {connection.ops.quote_name(SeenProof._meta.db_table)}")
    proof = token_proof(key)
    with caplog.at_level(logging.ERROR, logger="django_dpop"):
        response = post_token(client, app, {"grant_type": "client_credentials"}, proof=proof)
    _assert_503(response)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("django_dpop")]
    assert lines == [
        f"DPoP token endpoint unavailable (503): OperationalError: no such table: {SeenProof._meta.db_table}"
    ]
    assert proof not in caplog.text and app.secret not in caplog.text


def test_unreachable_redis_is_logged(
    client: Client, app_factory: Any, key: TestKey, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    """The replay store on a Redis nobody listens on: 503, and the log names the connection error."""
    pytest.importorskip("redis")
    app = app_factory("client-credentials")
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.DPOP_REPLAY_STORE = "django_dpop.storage.CacheReplayStore"
    settings.DPOP_REPLAY_CACHE = "down"
    proof = token_proof(key)
    with caplog.at_level(logging.ERROR, logger="django_dpop"):
        response = post_token(client, app, {"grant_type": "client_credentials"}, proof=proof)
    _assert_503(response)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("django_dpop")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("DPoP token endpoint unavailable (503): ConnectionError: ")
    assert proof not in caplog.text
    assert not get_access_token_model().objects.exists()


def test_code_deleted_after_its_validation_is_invalid_grant(
    client: Client, browser: Client, public_app: App, key: TestKey
) -> None:
    """Where the row lock cannot hold (reads routed to a replica): the code vanishes between
    ``validate_code`` and DOT's later ``Grant.objects.get()`` reads. invalid_grant, not a 500."""
    code, verifier = authorize(browser, public_app, dpop_jkt=key.jkt)
    Grant = get_grant_model()
    state = {"done": False}

    def delete_after_validation(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        result = execute(sql, params, many, context)
        if not state["done"] and 'FROM "django_dpop_oauth2_grantbinding"' in sql and sql.startswith("SELECT"):
            state["done"] = True  # validate_code's last query: a concurrent winner deletes the code
            Grant.objects.filter(code=code).delete()
        return result

    with connection.execute_wrapper(delete_after_validation):
        response = post_token(client, public_app, code_exchange(code, verifier), key=key)
    assert state["done"]
    assert response.status_code == 400, response.content
    assert json.loads(response.content)["error"] == "invalid_grant"
    assert not get_access_token_model().objects.exists()


@pytest.mark.parametrize("error", ERRORS)
def test_device_authorization(client: Client, app_factory: Any, error: Any) -> None:
    """RFC 8628 §3.1 device authorization request: a failing database is a 503, nothing stored."""
    from oauth2_provider.models import get_device_grant_model

    app = app_factory(DEVICE_GRANT, public=True)

    def send() -> Any:
        body = urlencode({"client_id": app.client_id, "scope": "read"})
        return client.post("/o/device-authorization/", body, content_type="application/x-www-form-urlencoded")

    _every_query_fails(send, error)
    assert not get_device_grant_model().objects.exists()
