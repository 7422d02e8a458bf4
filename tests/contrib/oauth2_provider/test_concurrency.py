"""One grant used by several requests at once, through DOT's real token endpoint and real threads.

RFC 6749 §5.2: a request that loses the race for a one-time grant (a code, a rotated refresh
token) is answered ``invalid_grant``; a locked or unavailable database is a 503 with
``Retry-After`` (the client may retry), never a 500; exactly one winner and nothing stored by a
loser. Transactional tests on a SQLite file (its real single-writer locking) and, marked
``postgres``, on PostgreSQL (row locks) through a router sending every model there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding, GrantBinding, RefreshTokenBinding
from tests.contrib.oauth2_provider.concurrent import at_once, statuses
from tests.contrib.oauth2_provider.flows import (
    DEVICE_GRANT,
    App,
    authorize,
    authorize_device,
    code_exchange,
    make_app,
    post_token,
)
from tests.factories import TestKey


pytestmark = pytest.mark.filterwarnings("ignore:The OAuth 2.0 resource owner password:DeprecationWarning")

TIMES = 8


class PostgresRouter:
    """Every model, read and write, on the ``postgres`` alias."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return "postgres"

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "postgres"

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.django_db(transaction=True)),
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.django_db(transaction=True, databases=["default", "postgres"]),
            ],
        ),
    ]
)
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "postgres":
        with override_settings(DATABASE_ROUTERS=[f"{__name__}.PostgresRouter"]):
            yield request.param
    else:
        yield request.param


@pytest.fixture
def alice(database: str) -> Any:
    return get_user_model().objects.create_user("alice", password="wonderland")


@pytest.fixture
def browser(alice: Any) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def _body(response: Any) -> dict[str, Any]:
    return json.loads(response.content)


def _one_winner(responses: list[Any], loser_error: str = "invalid_grant") -> dict[str, Any]:
    """Exactly one 200; every other answer a 400 ``loser_error`` with the token endpoint's headers."""
    codes = statuses(responses)
    assert codes == [200] + [400] * (TIMES - 1), codes
    for response in responses:
        assert response["Cache-Control"] == "no-store"
        if response.status_code == 400:
            assert _body(response)["error"] == loser_error, response.content
    return next(_body(r) for r in responses if r.status_code == 200)


def _no_orphans() -> None:
    """No binding without its token, no token of a loser (bindings cascade; counts must agree)."""
    AccessToken = get_access_token_model()
    assert AccessTokenBinding.objects.exclude(access_token__in=AccessToken.objects.all()).count() == 0
    assert (
        RefreshTokenBinding.objects.exclude(refresh_token__in=get_refresh_token_model().objects.all()).count()
        == 0
    )


# -- authorization_code: one code, eight exchanges -------------------------------------------------


def test_code_exchanged_at_once_has_one_winner(browser: Client, alice: Any, key: TestKey) -> None:
    app = make_app(alice, "authorization-code", public=True)
    code, verifier = authorize(browser, app, dpop_jkt=key.jkt)
    data = code_exchange(code, verifier)

    winner = _one_winner(at_once(lambda client: post_token(client, app, data, key=key)))

    assert winner["token_type"] == "DPoP"
    tokens = get_access_token_model().objects.filter(application=app.application)
    assert [t.token for t in tokens] == [winner["access_token"]]
    assert AccessTokenBinding.objects.get().jkt == key.jkt
    assert RefreshTokenBinding.objects.get().refresh_token.token == winner["refresh_token"]
    assert not get_grant_model().objects.exists() and not GrantBinding.objects.exists()
    _no_orphans()


def test_code_exchanged_at_once_without_dpop(browser: Client, alice: Any) -> None:
    app = make_app(alice, "authorization-code")
    code, verifier = authorize(browser, app)
    data = code_exchange(code, verifier)
    winner = _one_winner(at_once(lambda client: post_token(client, app, data)))
    assert winner["token_type"] == "Bearer"
    assert get_access_token_model().objects.count() == 1


# -- refresh_token: one refresh token, eight refreshes ----------------------------------------------


def _issue(browser: Client, app: App, key: TestKey | None) -> dict[str, Any]:
    code, verifier = authorize(browser, app)
    response = post_token(Client(), app, code_exchange(code, verifier), key=key)
    assert response.status_code == 200, response.content
    return _body(response)


@pytest.mark.parametrize("public", [True, False], ids=["public", "confidential"])
def test_refreshed_at_once_has_one_winner(browser: Client, alice: Any, key: TestKey, public: bool) -> None:
    app = make_app(alice, "authorization-code", public=public)
    first = _issue(browser, app, key)
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}

    winner = _one_winner(at_once(lambda client: post_token(client, app, data, key=key)))

    assert winner["token_type"] == "DPoP"
    AccessToken = get_access_token_model()
    assert sorted(AccessToken.objects.values_list("token", flat=True)) == [winner["access_token"]]
    assert AccessTokenBinding.objects.get().access_token.token == winner["access_token"]
    live = get_refresh_token_model().objects.filter(revoked__isnull=True)
    assert [rt.token for rt in live] == [winner["refresh_token"]]
    assert RefreshTokenBinding.objects.filter(refresh_token__revoked__isnull=True).count() == (
        1 if public else 0
    )
    _no_orphans()


def test_refreshed_at_once_within_the_grace_period(
    browser: Client, alice: Any, key: TestKey, settings: Any
) -> None:
    """DOT's REFRESH_TOKEN_GRACE_PERIOD_SECONDS: every concurrent retry gets the winner's pair."""
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 120}
    app = make_app(alice, "authorization-code", public=True)
    first = _issue(browser, app, key)
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}

    responses = at_once(lambda client: post_token(client, app, data, key=key))

    assert statuses(responses) == [200] * TIMES
    bodies = [_body(r) for r in responses]
    assert {b["access_token"] for b in bodies} == {bodies[0]["access_token"]}
    assert {b["token_type"] for b in bodies} == {"DPoP"}
    assert get_access_token_model().objects.count() == 1
    _no_orphans()


def test_grace_period_race_with_another_key(
    browser: Client, alice: Any, key: TestKey, other_key: TestKey, settings: Any
) -> None:
    """Half the racers hold another key: they never get the winner's token, whoever wins."""
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 120}
    app = make_app(alice, "authorization-code")  # confidential: the refresh token is not bound
    first = _issue(browser, app, None)
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    keys = iter([key, other_key] * (TIMES // 2))
    chosen = [next(keys) for _ in range(TIMES)]
    index = iter(range(TIMES))

    def request(client: Client) -> Any:
        mine = chosen[next(index)]
        response = post_token(client, app, data, key=mine)
        response.key = mine
        return response

    responses = at_once(request)
    ok = [r for r in responses if r.status_code == 200]
    assert all(r.status_code in (200, 400) for r in responses), statuses(responses)
    winners = {_body(r)["access_token"] for r in ok}
    assert len(winners) == 1
    bound = AccessTokenBinding.objects.get(access_token__token=winners.pop()).jkt
    assert all(r.key.jkt == bound for r in ok)
    assert all(_body(r)["error"] == "invalid_grant" for r in responses if r.status_code == 400)
    assert get_access_token_model().objects.count() == 1


# -- device_code: one approved device code, eight polls ---------------------------------------------


def test_device_code_polled_at_once_has_one_winner(browser: Client, alice: Any, key: TestKey) -> None:
    app = make_app(alice, DEVICE_GRANT, public=True)
    device_code = authorize_device(Client(), browser, app)
    data = {"grant_type": DEVICE_GRANT, "device_code": device_code}

    # The spent code answers RFC 8628 §3.5 expired_token, as any later poll would.
    winner = _one_winner(at_once(lambda client: post_token(client, app, data, key=key)), "expired_token")

    assert winner["token_type"] == "DPoP"
    assert get_access_token_model().objects.count() == 1
    assert AccessTokenBinding.objects.get().jkt == key.jkt
    _no_orphans()


# -- grants that mint fresh tokens every time: all succeed ------------------------------------------


@pytest.mark.parametrize("grant", ["client_credentials", "password"])
def test_fresh_grants_at_once_all_succeed(alice: Any, key: TestKey, settings: Any, grant: str) -> None:
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": False}
    app = make_app(alice, grant.replace("_", "-"))
    data = {"grant_type": grant, "scope": "read"}
    if grant == "password":
        data.update(username="alice", password="wonderland")

    responses = at_once(lambda client: post_token(client, app, data, key=key))

    assert statuses(responses) == [200] * TIMES
    tokens = {_body(r)["access_token"] for r in responses}
    assert len(tokens) == TIMES
    assert AccessTokenBinding.objects.filter(access_token__token__in=tokens, jkt=key.jkt).count() == TIMES


# -- revocation and introspection of one token, at once ---------------------------------------------


def _basic(app: App) -> dict[str, str]:
    import base64

    pair = f"{app.client_id}:{app.secret}".encode()
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(pair).decode()}


def test_revoked_at_once(browser: Client, alice: Any, key: TestKey) -> None:
    app = make_app(alice, "authorization-code")
    tokens = _issue(browser, app, key)

    def revoke(client: Client) -> Any:
        body = urlencode({"token": tokens["refresh_token"], "token_type_hint": "refresh_token"})
        return client.post(
            "/o/revoke_token/", body, content_type="application/x-www-form-urlencoded", **_basic(app)
        )

    responses = at_once(revoke)

    assert statuses(responses) == [200] * TIMES  # RFC 7009 §2.2, also for an already revoked token
    assert not get_access_token_model().objects.exists()
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True).exists()
    _no_orphans()


def test_introspected_at_once(browser: Client, alice: Any, key: TestKey) -> None:
    app = make_app(alice, "authorization-code")
    tokens = _issue(browser, app, key)

    def introspect(client: Client) -> Any:
        body = urlencode({"token": tokens["access_token"]})
        return client.post(
            "/o/introspect/", body, content_type="application/x-www-form-urlencoded", **_basic(app)
        )

    responses = at_once(introspect)

    assert statuses(responses) == [200] * TIMES
    assert {_body(r)["cnf"]["jkt"] for r in responses} == {key.jkt}


# -- mixed races ---------------------------------------------------------------------------------------


def test_bound_code_raced_by_another_key(
    browser: Client, alice: Any, key: TestKey, other_key: TestKey
) -> None:
    """Half the racers hold another key: only the bound key can win, the rest are invalid_grant."""
    app = make_app(alice, "authorization-code", public=True)
    code, verifier = authorize(browser, app, dpop_jkt=key.jkt)
    data = code_exchange(code, verifier)
    turn = iter([key, other_key] * (TIMES // 2))
    keys = [next(turn) for _ in range(TIMES)]
    index = iter(range(TIMES))

    winner = _one_winner(at_once(lambda client: post_token(client, app, data, key=keys[next(index)])))

    assert AccessTokenBinding.objects.get(access_token__token=winner["access_token"]).jkt == key.jkt
    assert get_access_token_model().objects.count() == 1


def test_refresh_raced_by_revocation(browser: Client, alice: Any, key: TestKey) -> None:
    """Refreshes and RFC 7009 revocations of one refresh token at once: no 500, no live orphan."""
    app = make_app(alice, "authorization-code")
    tokens = _issue(browser, app, key)
    index = iter(range(TIMES))

    def request(client: Client) -> Any:
        if next(index) % 2:
            body = urlencode({"token": tokens["refresh_token"], "token_type_hint": "refresh_token"})
            return client.post(
                "/o/revoke_token/", body, content_type="application/x-www-form-urlencoded", **_basic(app)
            )
        return post_token(
            client, app, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, key=key
        )

    responses = at_once(request)

    assert set(statuses(responses)) <= {200, 400}, statuses(responses)
    refreshed = [r for r in responses if r.status_code == 200 and r.content]  # revocation: empty 200
    assert len(refreshed) <= 1
    assert (
        not get_refresh_token_model().objects.filter(revoked__isnull=True, access_token__isnull=True).exists()
    )
    _no_orphans()
