"""The consent round trip cannot change what the authorization request asked (RFC 9449 §10).

DOT carries the request from the consent page's GET to its POST in hidden fields; the DPoP view
keeps it in the session instead, under a per-request id. Every parameter the code is issued
from is edited, dropped and injected on the POST here, through DOT's real views: the code is
issued from the GET's request, or the POST is refused (400, no redirect, no code).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from oauth2_provider.models import get_grant_model

from django_dpop.contrib.oauth2_provider import consent
from django_dpop.contrib.oauth2_provider.models import GrantBinding
from tests.contrib.oauth2_provider.flows import (
    AUTHORIZE_URL,
    REDIRECT_URI,
    App,
    authorize,
    authorize_params,
    code_exchange,
    pkce_pair,
    post_token,
)
from tests.factories import TestKey


@pytest.fixture
def app(app_factory: Any) -> App:
    app = app_factory("authorization-code", public=True)
    app.application.redirect_uris = f"{REDIRECT_URI} https://evil.example/cb"
    app.application.save()
    return app


def _consent_page(browser: Client, app: App, **extra: str) -> tuple[str, dict[str, str], str]:
    """GET the consent page: ``(url, the form's own POST data, PKCE verifier)``."""
    verifier, challenge = pkce_pair()
    url = f"{AUTHORIZE_URL}?{urlencode(authorize_params(app, challenge, **extra))}"
    response = browser.get(url)
    assert response.status_code == 200, response.content
    data = {k: v for k, v in response.context["form"].initial.items() if v is not None}
    data["allow"] = "Authorize"
    return url, data, verifier


def _code(response: Any) -> str:
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    assert "code" in query, response["Location"]
    return query["code"][0]


def _grant(code: str) -> Any:
    return get_grant_model().objects.select_related("dpop_binding").get(code=code)


def _jkt(code: str) -> str | None:
    row = GrantBinding.objects.filter(grant__code=code).first()
    return row.jkt if row else None


def _refused(response: Any) -> None:
    """A 400 error page, not a redirect (the request cannot be trusted), and no code issued."""
    assert response.status_code == 400, (response.status_code, response.content)
    assert not response.has_header("Location")
    assert not get_grant_model().objects.exists()


# -- dpop_jkt ----------------------------------------------------------------------------------------


def test_changed_dpop_jkt_binds_the_requested_key(
    browser: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    url, data, _ = _consent_page(browser, app, dpop_jkt=key.jkt)
    data["dpop_jkt"] = other_key.jkt
    code = _code(browser.post(f"{AUTHORIZE_URL}?dpop_jkt={other_key.jkt}", data))
    assert _jkt(code) == key.jkt


def test_dropped_dpop_jkt_and_query_still_bind(browser: Client, app: App, key: TestKey) -> None:
    _url, data, verifier = _consent_page(browser, app, dpop_jkt=key.jkt)
    code = _code(browser.post(AUTHORIZE_URL, data))
    assert _jkt(code) == key.jkt
    # And the code really needs the key.
    response = post_token(Client(), app, code_exchange(code, verifier))
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_dpop_proof"


def test_dpop_jkt_injected_into_an_unbound_request(browser: Client, app: App, other_key: TestKey) -> None:
    url, data, _ = _consent_page(browser, app)
    data["dpop_jkt"] = other_key.jkt
    code = _code(browser.post(f"{url}&dpop_jkt={other_key.jkt}", data))
    assert _jkt(code) is None


# -- PKCE, redirect URI, client, scope, state ----------------------------------------------------------


def test_changed_or_dropped_code_challenge_keeps_the_requested_one(browser: Client, app: App) -> None:
    url, data, _ = _consent_page(browser, app)
    requested = data["code_challenge"]
    data["code_challenge"] = pkce_pair()[1]
    assert _grant(_code(browser.post(url, data))).code_challenge == requested

    url, data, _ = _consent_page(browser, app)
    requested = data.pop("code_challenge")
    data.pop("code_challenge_method")
    assert _grant(_code(browser.post(AUTHORIZE_URL, data))).code_challenge == requested


def test_code_challenge_injected_into_a_request_without_one(browser: Client, app: App) -> None:
    response = browser.get(
        f"{AUTHORIZE_URL}?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": app.client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "read",
            }
        )
    )
    data = {k: v for k, v in response.context["form"].initial.items() if v is not None}
    data.update(allow="Authorize", code_challenge=pkce_pair()[1], code_challenge_method="S256")
    code = _code(browser.post(f"{AUTHORIZE_URL}?code_challenge={data['code_challenge']}", data))
    assert _grant(code).code_challenge == ""


def test_changed_redirect_uri_is_refused(browser: Client, app: App) -> None:
    url, data, _ = _consent_page(browser, app)
    data["redirect_uri"] = "https://evil.example/cb"  # registered, but not what was asked
    _refused(browser.post(url, data))


def test_changed_client_id_is_refused(browser: Client, app: App, app_factory: Any) -> None:
    other = app_factory("authorization-code", public=True)
    url, data, _ = _consent_page(browser, app)
    data["client_id"] = other.client_id
    _refused(browser.post(url, data))


def test_widened_scope_is_refused(browser: Client, app: App) -> None:
    url, data, _ = _consent_page(browser, app)
    data["scope"] = "read write"
    _refused(browser.post(url, data))


def test_narrowed_scope_is_honoured(browser: Client, app: App) -> None:
    url, data, _ = _consent_page(browser, app, scope="read write")
    data["scope"] = "read"
    assert _grant(_code(browser.post(url, data))).scope == "read"


def test_changed_state_is_the_requested_one(browser: Client, app: App) -> None:
    url, data, _ = _consent_page(browser, app)
    data["state"] = "forged"
    response = browser.post(url, data)
    assert parse_qs(urlsplit(response["Location"]).query)["state"] == ["xyz"]


def test_denied_consent_redirects_to_the_requested_uri(browser: Client, app: App) -> None:
    url, data, _ = _consent_page(browser, app)
    del data["allow"]
    response = browser.post(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT_URI + "?")
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["access_denied"]


# -- the request id: once, this session, in time ---------------------------------------------------------


def test_replayed_consent_post_is_refused(browser: Client, app: App, key: TestKey) -> None:
    url, data, _ = _consent_page(browser, app, dpop_jkt=key.jkt)
    _code(browser.post(url, data))
    response = browser.post(url, data)
    assert response.status_code == 400
    assert get_grant_model().objects.count() == 1


def test_missing_or_unknown_request_id_is_refused(browser: Client, app: App, key: TestKey) -> None:
    url, data, _ = _consent_page(browser, app, dpop_jkt=key.jkt)
    _refused(browser.post(url, {k: v for k, v in data.items() if k != "dpop_request"}))
    _refused(browser.post(url, {**data, "dpop_request": "made-up"}))


def test_request_id_of_another_session_is_refused(browser: Client, app: App, user: Any, key: TestKey) -> None:
    url, data, _ = _consent_page(browser, app, dpop_jkt=key.jkt)
    other_browser = Client()
    other_browser.force_login(user)
    _refused(other_browser.post(url, data))


def test_expired_request_is_refused(browser: Client, app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    url, data, _ = _consent_page(browser, app)
    later = time.time() + consent.LIFETIME_SECONDS + 1
    monkeypatch.setattr(consent.time, "time", lambda: later)
    _refused(browser.post(url, data))


def test_open_consent_pages_are_bounded(browser: Client, app: App) -> None:
    pages = [_consent_page(browser, app) for _ in range(consent.MAX_PENDING + 1)]
    assert len(browser.session[consent.SESSION_KEY]) == consent.MAX_PENDING
    url, data, _ = pages[0]  # the oldest was forgotten
    _refused(browser.post(url, data))
    url, data, _ = pages[-1]
    _code(browser.post(url, data))


def test_two_tabs_each_get_their_own_request(
    browser: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    first = _consent_page(browser, app, dpop_jkt=key.jkt)
    second = _consent_page(browser, app, dpop_jkt=other_key.jkt)
    assert _jkt(_code(browser.post(second[0], second[1]))) == other_key.jkt
    assert _jkt(_code(browser.post(first[0], first[1]))) == key.jkt


# -- the paths without a form -----------------------------------------------------------------------------


def test_skip_authorization_binds_and_leaves_nothing_pending(
    browser: Client, app_factory: Any, key: TestKey
) -> None:
    app = app_factory("authorization-code", public=True, skip_authorization=True)
    code, _ = authorize(browser, app, dpop_jkt=key.jkt, consent=False)
    assert _jkt(code) == key.jkt
    assert not browser.session.get(consent.SESSION_KEY)


def test_approval_prompt_auto_binds_the_requested_key(
    client: Client, browser: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    """A user who approved before is not asked again: the code is bound from the GET itself."""
    code, verifier = authorize(browser, app, dpop_jkt=key.jkt)
    assert post_token(client, app, code_exchange(code, verifier), key=key).status_code == 200
    _verifier, challenge = pkce_pair()
    params = authorize_params(app, challenge, dpop_jkt=other_key.jkt, approval_prompt="auto")
    code = _code(browser.get(f"{AUTHORIZE_URL}?{urlencode(params)}"))
    assert _jkt(code) == other_key.jkt
    assert not browser.session.get(consent.SESSION_KEY)
