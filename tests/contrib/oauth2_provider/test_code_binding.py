"""RFC 9449 §10 ``dpop_jkt`` at DOT's authorization endpoint, and §5.2 per-client policy."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import DatabaseError
from django.test import Client
from oauth2_provider.models import get_grant_model

from django_dpop.contrib.oauth2_provider.models import ApplicationPolicy, GrantBinding
from tests.contrib.oauth2_provider.flows import (
    AUTHORIZE_URL,
    App,
    authorize,
    authorize_params,
    code_exchange,
    pkce_pair,
    post_token,
)
from tests.factories import TestKey


def _error(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.content
    assert response["Cache-Control"] == "no-store"
    return json.loads(response.content)["error"]


@pytest.fixture(params=["consent_form", "skip_authorization"])
def flow(request: pytest.FixtureRequest, app_factory: Any) -> tuple[App, bool]:
    """A public client going through DOT's consent form, or one that skips it."""
    consent = request.param == "consent_form"
    return app_factory("authorization-code", public=True, skip_authorization=not consent), consent


def test_dpop_jkt_binds_the_code(
    client: Client, browser: Client, flow: tuple[App, bool], key: TestKey
) -> None:
    app, consent = flow
    code, verifier = authorize(browser, app, dpop_jkt=key.jkt, consent=consent)
    assert GrantBinding.objects.get(grant__code=code).jkt == key.jkt
    response = post_token(client, app, code_exchange(code, verifier), key=key)
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["token_type"] == "DPoP"
    assert not get_grant_model().objects.filter(code=code).exists()  # used up, binding cascaded
    assert not GrantBinding.objects.exists()


def test_bound_code_without_proof_is_refused(
    client: Client, browser: Client, flow: tuple[App, bool], key: TestKey
) -> None:
    app, consent = flow
    code, verifier = authorize(browser, app, dpop_jkt=key.jkt, consent=consent)
    assert _error(post_token(client, app, code_exchange(code, verifier))) == "invalid_dpop_proof"
    assert get_grant_model().objects.filter(code=code).exists()


def test_bound_code_with_another_key_is_refused(
    client: Client, browser: Client, flow: tuple[App, bool], key: TestKey, other_key: TestKey
) -> None:
    app, consent = flow
    code, verifier = authorize(browser, app, dpop_jkt=key.jkt, consent=consent)
    assert _error(post_token(client, app, code_exchange(code, verifier), key=other_key)) == "invalid_grant"


def test_consent_form_does_not_carry_dpop_jkt(browser: Client, app_factory: Any, key: TestKey) -> None:
    """The thumbprint stays on the server; the form carries only an opaque request id."""
    app = app_factory("authorization-code", public=True)
    _verifier, challenge = pkce_pair()
    url = f"{AUTHORIZE_URL}?{urlencode(authorize_params(app, challenge, dpop_jkt=key.jkt))}"
    response = browser.get(url)
    assert response.status_code == 200
    assert key.jkt not in response.content.decode()
    assert 'name="dpop_request"' in response.content.decode()


def test_consent_form_posted_elsewhere_still_binds(browser: Client, app_factory: Any, key: TestKey) -> None:
    # A custom template may post the form to the bare endpoint: the session keeps the request.
    app = app_factory("authorization-code", public=True)
    verifier, challenge = pkce_pair()
    params = authorize_params(app, challenge, dpop_jkt=key.jkt)
    response = browser.get(f"{AUTHORIZE_URL}?{urlencode(params)}")
    data = {k: v for k, v in response.context["form"].initial.items() if v is not None}
    data["allow"] = "Authorize"
    response = browser.post(AUTHORIZE_URL, data)
    assert response.status_code == 302, response.content
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    assert GrantBinding.objects.get(grant__code=code).jkt == key.jkt


def test_dpop_jkt_added_to_the_consent_post_is_ignored(
    browser: Client, app_factory: Any, key: TestKey
) -> None:
    app = app_factory("authorization-code", public=True)
    _verifier, challenge = pkce_pair()
    url = f"{AUTHORIZE_URL}?{urlencode(authorize_params(app, challenge))}"
    response = browser.get(url)
    data = {k: v for k, v in response.context["form"].initial.items() if v is not None}
    data.update(allow="Authorize", dpop_jkt="not-a-thumbprint")
    response = browser.post(f"{AUTHORIZE_URL}?dpop_jkt={key.jkt}", data)
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    assert not GrantBinding.objects.filter(grant__code=code).exists()  # unbound, as it was asked


@pytest.mark.parametrize("value", ["short", "x" * 44, "a" * 42 + "!=", "a" * 43 + "\n"])
def test_malformed_dpop_jkt_is_refused(browser: Client, app_factory: Any, value: str) -> None:
    app = app_factory("authorization-code", public=True, skip_authorization=True)
    _verifier, challenge = pkce_pair()
    response = browser.get(f"{AUTHORIZE_URL}?{urlencode(authorize_params(app, challenge, dpop_jkt=value))}")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["xyz"]
    assert not get_grant_model().objects.exists()


def test_repeated_dpop_jkt_is_refused(
    browser: Client, app_factory: Any, key: TestKey, other_key: TestKey
) -> None:
    app = app_factory("authorization-code", public=True, skip_authorization=True)
    _verifier, challenge = pkce_pair()
    query = urlencode(authorize_params(app, challenge)) + f"&dpop_jkt={key.jkt}&dpop_jkt={other_key.jkt}"
    response = browser.get(f"{AUTHORIZE_URL}?{query}")
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"]


def test_unbound_code_exchanged_with_proof_binds_the_token(
    client: Client, browser: Client, app_factory: Any, key: TestKey
) -> None:
    app = app_factory("authorization-code", public=True, skip_authorization=True)
    code, verifier = authorize(browser, app, consent=False)
    response = post_token(client, app, code_exchange(code, verifier), key=key)
    assert json.loads(response.content)["token_type"] == "DPoP"


# -- RFC 9449 §5.2 dpop_bound_access_tokens --------------------------------------------------------


@pytest.mark.parametrize("public", [False, True])
def test_client_requiring_dpop(
    client: Client, browser: Client, app_factory: Any, key: TestKey, public: bool
) -> None:
    app = app_factory("authorization-code", public=public, skip_authorization=True)
    ApplicationPolicy.objects.create(application=app.application, dpop_bound_access_tokens=True)
    code, verifier = authorize(browser, app, consent=False)
    body = json.loads(post_token(client, app, code_exchange(code, verifier)).content)
    assert body["error"] == "invalid_dpop_proof"
    assert "DPoP" in body["error_description"]
    response = post_token(client, app, code_exchange(code, verifier), key=key)
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["token_type"] == "DPoP"


def test_client_requiring_dpop_client_credentials(client: Client, app_factory: Any, key: TestKey) -> None:
    app = app_factory("client-credentials")
    ApplicationPolicy.objects.create(application=app.application, dpop_bound_access_tokens=True)
    assert _error(post_token(client, app, {"grant_type": "client_credentials"})) == "invalid_dpop_proof"
    assert post_token(client, app, {"grant_type": "client_credentials"}, key=key).status_code == 200


def test_policy_off_allows_bearer(client: Client, app_factory: Any) -> None:
    app = app_factory("client-credentials")
    ApplicationPolicy.objects.create(application=app.application, dpop_bound_access_tokens=False)
    body = json.loads(post_token(client, app, {"grant_type": "client_credentials"}).content)
    assert body["token_type"] == "Bearer"


def test_no_code_is_stored_when_its_binding_cannot_be(
    browser: Client, app_factory: Any, key: TestKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code and its ``dpop_jkt`` binding are written in one transaction."""
    app = app_factory("authorization-code", public=True, skip_authorization=True)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("binding table unavailable")

    monkeypatch.setattr(GrantBinding.objects, "create", fail)
    _verifier, challenge = pkce_pair()
    url = f"{AUTHORIZE_URL}?{urlencode(authorize_params(app, challenge, dpop_jkt=key.jkt))}"
    with pytest.raises(DatabaseError):
        browser.get(url)
    assert not get_grant_model().objects.exists()
