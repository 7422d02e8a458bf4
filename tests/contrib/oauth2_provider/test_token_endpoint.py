"""RFC 9449 §5 at DOT's token endpoint, for every grant DOT offers, through DOT's real views."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from oauth2_provider.models import get_access_token_model

from django_dpop.conf import conf, nonce_store
from django_dpop.contrib.oauth2_provider.models import (
    AccessTokenBinding,
    ApplicationPolicy,
    RefreshTokenBinding,
)
from django_dpop.core.nonces import rotation_period
from django_dpop.proofs import TOKEN_ENDPOINT
from tests.contrib.oauth2_provider.flows import (
    DEVICE_GRANT,
    REDIRECT_URI,
    App,
    authorize,
    authorize_device,
    code_exchange,
    post_token,
    token_proof,
)
from tests.factories import TestKey


# DOT warns on every password grant that RFC 9700 discourages it; the grant is tested on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:The OAuth 2.0 resource owner password:DeprecationWarning")


@dataclass
class Grant:
    """An application and a way to make a fresh, valid token request body for it."""

    app: App
    prepare: Callable[[], dict[str, str]]


def _client_credentials(app_factory: Any, **_: Any) -> Grant:
    app = app_factory("client-credentials")
    return Grant(app, lambda: {"grant_type": "client_credentials", "scope": "read"})


def _password(app_factory: Any, dot_settings: Any, **_: Any) -> Grant:
    # DOT 3.4 refuses the password grant (RFC 9700 §2.4) unless the gate is turned off.
    dot_settings(COMPLIANT_BCP_RFC9700_PASSWORD_GRANT=False)
    app = app_factory("password")
    return Grant(app, lambda: {"grant_type": "password", "username": "alice", "password": "wonderland"})


def _public_password(app_factory: Any, dot_settings: Any, **_: Any) -> Grant:
    dot_settings(COMPLIANT_BCP_RFC9700_PASSWORD_GRANT=False)
    app = app_factory("password", public=True)
    return Grant(app, lambda: {"grant_type": "password", "username": "alice", "password": "wonderland"})


def _authorization_code(app_factory: Any, browser: Client, **_: Any) -> Grant:
    app = app_factory("authorization-code", public=True)

    def prepare() -> dict[str, str]:
        code, verifier = authorize(browser, app)
        return code_exchange(code, verifier)

    return Grant(app, prepare)


def _refresh_token(app_factory: Any, browser: Client, **_: Any) -> Grant:
    # A confidential client whose refresh token was issued without DPoP: refreshing it may bind.
    app = app_factory("authorization-code", skip_authorization=True)

    def prepare() -> dict[str, str]:
        code, verifier = authorize(browser, app, consent=False)
        response = post_token(Client(), app, code_exchange(code, verifier))
        assert response.status_code == 200, response.content
        return {"grant_type": "refresh_token", "refresh_token": json.loads(response.content)["refresh_token"]}

    return Grant(app, prepare)


def _device_code(app_factory: Any, browser: Client, **_: Any) -> Grant:
    app = app_factory(DEVICE_GRANT, public=True)

    def prepare() -> dict[str, str]:
        return {"grant_type": DEVICE_GRANT, "device_code": authorize_device(Client(), browser, app)}

    return Grant(app, prepare)


GRANTS = {
    "client_credentials": _client_credentials,
    "password": _password,
    "password_public": _public_password,
    "authorization_code": _authorization_code,
    "refresh_token": _refresh_token,
    "device_code": _device_code,
}


@pytest.fixture(params=list(GRANTS))
def grant(request: pytest.FixtureRequest, app_factory: Any, browser: Client, dot_settings: Any) -> Grant:
    return GRANTS[request.param](app_factory=app_factory, browser=browser, dot_settings=dot_settings)


def _issued(response: Any) -> tuple[dict[str, Any], Any]:
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    token = get_access_token_model().objects.select_related("dpop_binding").get(token=body["access_token"])
    return body, token


def _jkt(token: Any) -> str | None:
    try:
        return token.dpop_binding.jkt
    except AccessTokenBinding.DoesNotExist:
        return None


def _assert_error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert body["error"] == error
    return body


def test_proof_binds_the_access_token(client: Client, grant: Grant, key: TestKey) -> None:
    body, token = _issued(post_token(client, grant.app, grant.prepare(), key=key))
    assert body["token_type"] == "DPoP"
    assert _jkt(token) == key.jkt


def test_no_proof_gives_a_bearer_token(client: Client, grant: Grant) -> None:
    body, token = _issued(post_token(client, grant.app, grant.prepare()))
    assert body["token_type"] == "Bearer"
    assert _jkt(token) is None


@pytest.mark.parametrize(
    ("proof_kwargs", "reason"),
    [
        ({"claims": {"htm": "GET"}}, "htm"),
        # The refusal names the URI the server expected (what an operator needs to fix a proxy).
        (
            {"claims": {"htu": "http://testserver/o/authorize/"}},
            "htu does not match the request URI; expected http://testserver/o/token/",
        ),
        ({"iat": 1_000_000_000}, "iat"),
        ({"headers": {"typ": "JWT"}}, "typ"),
        ({"claims": {"exp": 1_000_000_000}}, "expired"),  # RFC 7519 §4.1.4
        ({"claims": {"nbf": 4_000_000_000}}, "not valid yet"),  # RFC 7519 §4.1.5
    ],
)
def test_invalid_proof_is_refused(
    client: Client, grant: Grant, key: TestKey, proof_kwargs: dict[str, Any], reason: str
) -> None:
    data = grant.prepare()
    response = post_token(client, grant.app, data, proof=token_proof(key, **proof_kwargs))
    body = _assert_error(response, 400, "invalid_dpop_proof")
    assert reason in body["error_description"]
    assert not AccessTokenBinding.objects.exists()
    # The grant was not consumed: a good proof still succeeds.
    assert json.loads(post_token(client, grant.app, data, key=key).content)["token_type"] == "DPoP"


def test_garbage_dpop_header_is_refused(client: Client, grant: Grant) -> None:
    for value in ("garbage", "a.b.c", "", "x" * 10_000, "é"):
        _assert_error(post_token(client, grant.app, grant.prepare(), proof=value), 400, "invalid_dpop_proof")


def test_two_dpop_headers_are_refused(client: Client, grant: Grant, key: TestKey) -> None:
    # Repeated header lines reach Django comma-joined (RFC 9449 §4.3 check 1).
    proof = f"{token_proof(key)}, {token_proof(key)}"
    _assert_error(post_token(client, grant.app, grant.prepare(), proof=proof), 400, "invalid_dpop_proof")


def test_replayed_proof_is_refused(client: Client, grant: Grant, key: TestKey) -> None:
    proof = token_proof(key)
    _issued(post_token(client, grant.app, grant.prepare(), proof=proof))
    body = _assert_error(
        post_token(client, grant.app, grant.prepare(), proof=proof), 400, "invalid_dpop_proof"
    )
    assert "replay" in body["error_description"].lower()


def test_nonce_required(client: Client, grant: Grant, key: TestKey, settings: Any) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    data = grant.prepare()
    response = post_token(client, grant.app, data, key=key)
    _assert_error(response, 400, "use_dpop_nonce")
    nonce = response["DPoP-Nonce"]
    assert nonce and "," not in nonce  # exactly one DPoP-Nonce (RFC 9449 §8)

    # A made-up nonce is not accepted either.
    stale = post_token(client, grant.app, data, key=key, nonce="not-a-nonce-we-issued")
    _assert_error(stale, 400, "use_dpop_nonce")
    assert stale["DPoP-Nonce"] == nonce

    body, token = _issued(post_token(client, grant.app, data, key=key, nonce=nonce))
    assert body["token_type"] == "DPoP"
    assert _jkt(token) == key.jkt


def test_nonce_not_asked_of_bearer_requests(client: Client, grant: Grant, settings: Any) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    body, _token = _issued(post_token(client, grant.app, grant.prepare()))
    assert body["token_type"] == "Bearer"


class BrokenStore:
    """A replay store whose backend is down: it raises, as a real store does on a lost connection."""

    def check_and_add(self, key: str, expires_at: int) -> bool:
        raise ConnectionError("replay store is down")


def test_store_failure_refuses(client: Client, grant: Grant, key: TestKey, settings: Any) -> None:
    settings.DPOP_REPLAY_STORE = f"{__name__}.BrokenStore"
    response = post_token(client, grant.app, grant.prepare(), key=key)
    _assert_error(response, 503, "temporarily_unavailable")
    assert response.headers["Retry-After"] == "5"  # DPOP_RETRY_AFTER's default (RFC 9110 §10.2.3)
    settings.DPOP_RETRY_AFTER = 7  # the resources' setting, at the token endpoint too
    response = post_token(client, grant.app, grant.prepare(), key=key)
    _assert_error(response, 503, "temporarily_unavailable")
    assert response.headers["Retry-After"] == "7"
    assert not get_access_token_model().objects.filter(dpop_binding__isnull=False).exists()


def test_stale_nonce_is_accepted_and_a_fresh_one_sent(
    client: Client, grant: Grant, key: TestKey, settings: Any
) -> None:
    """RFC 9449 §8.2: a nonce still accepted but superseded earns the newer one on success."""
    settings.DPOP_NONCE_REQUIRED = True
    store = nonce_store()
    previous = store.issue(TOKEN_ENDPOINT, now=time.time() - rotation_period(conf.DPOP_NONCE_LIFETIME))
    response = post_token(client, grant.app, grant.prepare(), key=key, nonce=previous)
    body, token = _issued(response)
    assert _jkt(token) == key.jkt
    assert response["DPoP-Nonce"] == store.issue(TOKEN_ENDPOINT) != previous

    # With the current nonce there is nothing newer to send.
    current = post_token(client, grant.app, grant.prepare(), key=key, nonce=store.issue(TOKEN_ENDPOINT))
    _issued(current)
    assert not current.has_header("DPoP-Nonce")


@pytest.fixture
def pending_device(client: Client, app_factory: Any) -> tuple[App, str]:
    """A device code the user has not approved yet (RFC 8628 §3.5 authorization_pending)."""
    app = app_factory(DEVICE_GRANT, public=True)
    response = client.post(
        "/o/device-authorization/",
        urlencode({"client_id": app.client_id}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    return app, json.loads(response.content)["device_code"]


def test_polling_device_checks_the_proof_first(
    client: Client, pending_device: tuple[App, str], key: TestKey, settings: Any
) -> None:
    """A polling device learns about its proof (and gets its nonce) before the grant is approved."""
    app, device_code = pending_device
    data = {"grant_type": DEVICE_GRANT, "device_code": device_code}
    bad = post_token(client, app, data, proof=token_proof(key, claims={"htm": "GET"}))
    _assert_error(bad, 400, "invalid_dpop_proof")

    settings.DPOP_NONCE_REQUIRED = True
    response = post_token(client, app, data, key=key)
    _assert_error(response, 400, "use_dpop_nonce")
    nonce = response["DPoP-Nonce"]
    pending = post_token(client, app, data, key=key, nonce=nonce)
    _assert_error(pending, 400, "authorization_pending")


def test_client_requiring_dpop_refuses_proofless_requests(client: Client, grant: Grant, key: TestKey) -> None:
    """RFC 9449 §5.2 ``dpop_bound_access_tokens`` on every grant; nothing is stored on refusal."""
    data = grant.prepare()
    ApplicationPolicy.objects.create(application=grant.app.application, dpop_bound_access_tokens=True)
    before = get_access_token_model().objects.count()
    body = _assert_error(post_token(client, grant.app, data), 400, "invalid_dpop_proof")
    assert "DPoP" in body["error_description"]
    assert get_access_token_model().objects.count() == before
    # The grant was not consumed by the refusal.
    body, token = _issued(post_token(client, grant.app, data, key=key))
    assert body["token_type"] == "DPoP"
    assert _jkt(token) == key.jkt


@pytest.mark.filterwarnings("ignore:The OAuth 2.0 implicit grant:DeprecationWarning")
def test_client_requiring_dpop_gets_no_implicit_token(browser: Client, app_factory: Any) -> None:
    """The implicit grant cannot carry a proof, so such a client gets no token from it."""
    app = app_factory("implicit", public=True, skip_authorization=True)
    ApplicationPolicy.objects.create(application=app.application, dpop_bound_access_tokens=True)
    query = urlencode({"response_type": "token", "client_id": app.client_id, "redirect_uri": REDIRECT_URI})
    response = browser.get(f"/o/authorize/?{query}")
    assert response.status_code == 302
    assert "error=invalid_dpop_proof" in response["Location"]
    assert "access_token=" not in response["Location"]
    assert not get_access_token_model().objects.exists()


def test_refresh_token_binding_follows_the_client_type(client: Client, grant: Grant, key: TestKey) -> None:
    """RFC 9449 §5: a public client's refresh token is bound to the proof's key, whatever the
    grant that issued it; a confidential client's is not (it authenticates instead)."""
    body, _token = _issued(post_token(client, grant.app, grant.prepare(), key=key))
    if "refresh_token" not in body:
        assert grant.app.application.authorization_grant_type == "client-credentials"
        return
    bound = RefreshTokenBinding.objects.filter(refresh_token__token=body["refresh_token"]).first()
    assert (bound.jkt if bound else None) == (key.jkt if grant.app.public else None)
    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    without_proof = post_token(client, grant.app, refresh)
    if grant.app.public:
        _assert_error(without_proof, 400, "invalid_dpop_proof")
    else:
        assert json.loads(without_proof.content)["token_type"] == "Bearer"


def test_device_code_is_exchanged_once(
    client: Client, browser: Client, app_factory: Any, key: TestKey, other_key: TestKey
) -> None:
    """A device code yields one token response: a second poll (a thief's, with its own key)
    gets ``expired_token``, not tokens bound to its key (DOT 3.4.1 answered every poll)."""
    app = app_factory(DEVICE_GRANT, public=True)
    data = {"grant_type": DEVICE_GRANT, "device_code": authorize_device(Client(), browser, app)}
    _issued(post_token(client, app, data, key=key))
    count = get_access_token_model().objects.count()
    for second_key in (other_key, key, None):
        _assert_error(post_token(client, app, data, key=second_key), 400, "expired_token")
    assert get_access_token_model().objects.count() == count
