"""Pushed authorization requests (RFC 9126) with DPoP (RFC 9449 §10.1) through DOT's real views."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_grant_model

from django_dpop.conf import conf, nonce_store
from django_dpop.contrib.oauth2_provider.models import (
    ApplicationPolicy,
    GrantBinding,
    PushedAuthorizationRequest,
)
from django_dpop.core.nonces import rotation_period
from django_dpop.proofs import TOKEN_ENDPOINT
from tests.contrib.oauth2_provider.flows import (
    AUTHORIZE_URL,
    REDIRECT_URI,
    App,
    authorize,
    code_exchange,
    post_token,
)
from tests.contrib.oauth2_provider.par_flows import (
    PAR_URL,
    REQUEST_URI_PREFIX,
    authorize_pushed,
    authorize_url,
    json_error,
    page_error,
    par_proof,
    push,
    push_params,
    pushed,
)
from tests.factories import TestKey


CODE = "authorization-code"


@pytest.fixture(params=["confidential", "public"])
def app(request: pytest.FixtureRequest, app_factory: Any) -> App:
    return app_factory(CODE, public=request.param == "public")


def _nothing_stored() -> None:
    assert not PushedAuthorizationRequest.objects.exists()


# -- the whole flow -------------------------------------------------------------------------------


@pytest.mark.parametrize("nonce_required", [False, True], ids=["no-nonce", "nonce-required"])
@pytest.mark.parametrize("consent", [True, False], ids=["consent-form", "skip-authorization"])
def test_par_authorize_token_with_dpop(
    client: Client,
    browser: Client,
    app_factory: Any,
    key: TestKey,
    settings: Any,
    nonce_required: bool,
    consent: bool,
) -> None:
    settings.DPOP_NONCE_REQUIRED = nonce_required
    app = app_factory(CODE, skip_authorization=not consent)
    params, verifier = push_params(app)
    nonce = None
    if nonce_required:
        challenge = push(client, app, params, key=key)
        assert json_error(challenge) == "use_dpop_nonce"
        nonce = challenge["DPoP-Nonce"]
        _nothing_stored()
    response = push(client, app, params, key=key, nonce=nonce)
    request_uri = pushed(response)
    body = json.loads(response.content)
    assert body["expires_in"] == 60
    # RFC 9126 §2.2 / §7.1: at least 128 bits of randomness after the URN prefix.
    assert len(request_uri) - len(REQUEST_URI_PREFIX) >= 22

    code = authorize_pushed(browser, app, request_uri, consent=consent)
    # RFC 9449 §10.1: the proof of the push bound the code, as dpop_jkt would have.
    assert GrantBinding.objects.get(grant__code=code).jkt == key.jkt
    _nothing_stored()  # used up

    token = post_token(client, app, code_exchange(code, verifier), key=key, nonce=nonce)
    assert token.status_code == 200, token.content
    assert json.loads(token.content)["token_type"] == "DPoP"


def test_public_client_may_push(client: Client, browser: Client, app_factory: Any, key: TestKey) -> None:
    app = app_factory(CODE, public=True)
    params, verifier = push_params(app)
    code = authorize_pushed(browser, app, pushed(push(client, app, params, key=key)))
    assert post_token(client, app, code_exchange(code, verifier), key=key).status_code == 200


def test_push_without_dpop_leaves_the_code_unbound(client: Client, browser: Client, app: App) -> None:
    params, verifier = push_params(app)
    code = authorize_pushed(browser, app, pushed(push(client, app, params)))
    assert not GrantBinding.objects.exists()
    token = post_token(client, app, code_exchange(code, verifier))
    assert token.status_code == 200
    assert json.loads(token.content)["token_type"] == "Bearer"


def test_pushed_dpop_jkt_binds_the_code(client: Client, browser: Client, app: App, key: TestKey) -> None:
    params, verifier = push_params(app, dpop_jkt=key.jkt)
    code = authorize_pushed(browser, app, pushed(push(client, app, params)))
    assert GrantBinding.objects.get(grant__code=code).jkt == key.jkt


def test_proof_and_matching_dpop_jkt(client: Client, browser: Client, app: App, key: TestKey) -> None:
    params, _verifier = push_params(app, dpop_jkt=key.jkt)
    code = authorize_pushed(browser, app, pushed(push(client, app, params, key=key)))
    assert GrantBinding.objects.get(grant__code=code).jkt == key.jkt


# -- the code exchange needs the key of the push ----------------------------------------------------


def test_code_bound_at_par_refuses_no_proof_and_another_key(
    client: Client, browser: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    params, verifier = push_params(app)
    code = authorize_pushed(browser, app, pushed(push(client, app, params, key=key)))
    assert json_error(post_token(client, app, code_exchange(code, verifier))) == "invalid_dpop_proof"
    other = post_token(client, app, code_exchange(code, verifier), key=other_key)
    assert json_error(other) == "invalid_grant"
    assert get_grant_model().objects.filter(code=code).exists()
    assert post_token(client, app, code_exchange(code, verifier), key=key).status_code == 200


# -- DPoP refusals at PAR (RFC 9449 §10.1) ---------------------------------------------------------


def test_proof_and_dpop_jkt_disagreeing_is_refused(
    client: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    params, _verifier = push_params(app, dpop_jkt=other_key.jkt)
    assert json_error(push(client, app, params, key=key)) == "invalid_request"
    _nothing_stored()


@pytest.mark.parametrize(
    "bad",
    [
        {"htu": "http://testserver/o/token/"},  # the token endpoint's proof, not PAR's
        {"htm": "GET"},
        {"iat": 1},
    ],
    ids=["htu-token-endpoint", "htm-get", "iat-old"],
)
def test_bad_proof_is_refused(client: Client, app: App, key: TestKey, bad: dict[str, Any]) -> None:
    from tests.factories import make_proof

    proof = make_proof(
        key, bad.get("htm", "POST"), bad.get("htu", "http://testserver/o/par/"), iat=bad.get("iat")
    )
    params, _verifier = push_params(app)
    response = push(client, app, params, proof=proof)
    assert json_error(response) == "invalid_dpop_proof"
    assert not response.has_header("DPoP-Nonce")
    _nothing_stored()


def test_replayed_proof_is_refused(client: Client, app: App, key: TestKey) -> None:
    params, _verifier = push_params(app)
    proof = par_proof(key)
    pushed(push(client, app, params, proof=proof))
    assert json_error(push(client, app, params, proof=proof)) == "invalid_dpop_proof"
    assert PushedAuthorizationRequest.objects.count() == 1


def test_nonce_required_at_par(client: Client, app: App, key: TestKey, settings: Any) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    params, _verifier = push_params(app)
    response = push(client, app, params, key=key, nonce="made-up")
    assert json_error(response) == "use_dpop_nonce"
    nonce = response["DPoP-Nonce"]
    assert nonce and "," not in nonce
    _nothing_stored()
    pushed(push(client, app, params, key=key, nonce=nonce))


def test_client_requiring_dpop_cannot_push_without_proof_or_dpop_jkt(
    client: Client, app: App, key: TestKey
) -> None:
    ApplicationPolicy.objects.create(application=app.application, dpop_bound_access_tokens=True)
    params, _verifier = push_params(app)
    assert json_error(push(client, app, params)) == "invalid_dpop_proof"
    _nothing_stored()
    pushed(push(client, app, params, key=key))
    pushed(push(client, app, push_params(app, dpop_jkt=key.jkt)[0]))


def test_broken_replay_store_answers_503(client: Client, app: App, key: TestKey, settings: Any) -> None:
    settings.DPOP_REPLAY_STORE = "django_dpop.storage.Missing"
    response = push(client, app, push_params(app)[0], key=key)
    assert response.status_code == 503
    assert response["Retry-After"]
    assert json.loads(response.content)["error"] == "temporarily_unavailable"
    _nothing_stored()


# -- client authentication and validation (RFC 9126 §2.1) ---------------------------------------


def test_confidential_client_must_authenticate(client: Client, app_factory: Any) -> None:
    app = app_factory(CODE)
    params, _verifier = push_params(app)
    missing = push(client, app, params, authenticate=False)
    assert json_error(missing, 401) == "invalid_client"
    assert missing.has_header("WWW-Authenticate")
    assert json_error(push(client, app, params, secret="wrong"), 401) == "invalid_client"
    _nothing_stored()


def test_unknown_client_is_refused(client: Client, app_factory: Any) -> None:
    app = app_factory(CODE, public=True)
    params, _verifier = push_params(app, client_id="nobody")
    assert json_error(push(client, app, params), 401) == "invalid_client"
    _nothing_stored()


def test_client_id_of_another_client_is_refused(client: Client, app_factory: Any) -> None:
    app, other = app_factory(CODE), app_factory(CODE)
    params, _verifier = push_params(app, client_id=other.client_id)
    assert json_error(push(client, app, params)) == "invalid_request"
    _nothing_stored()


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"redirect_uri": "https://attacker.example/cb"}, "invalid_request"),
        ({"scope": "unknown-scope"}, "invalid_scope"),
        ({"response_type": "token"}, "unauthorized_client"),
        ({"response_type": "bogus"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain-ish"}, "invalid_request"),
        ({"dpop_jkt": "not-a-thumbprint"}, "invalid_request"),
        ({"request_uri": REQUEST_URI_PREFIX + "x"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request"),
    ],
    ids=[
        "redirect-uri",
        "scope",
        "response-type-token",
        "response-type-bogus",
        "pkce-method",
        "dpop-jkt",
        "request-uri",
        "request-object",
    ],
)
def test_invalid_authorization_request_is_refused(
    client: Client, app: App, extra: dict[str, str], error: str
) -> None:
    params, _verifier = push_params(app, **extra)
    assert json_error(push(client, app, params)) == error
    _nothing_stored()


def test_pkce_required_as_at_authorize(client: Client, app: App, dot_settings: Any) -> None:
    dot_settings(PKCE_REQUIRED=True)
    params, _verifier = push_params(app)
    del params["code_challenge"], params["code_challenge_method"]
    assert json_error(push(client, app, params)) == "invalid_request"
    _nothing_stored()


def test_repeated_parameter_and_query_string_are_refused(client: Client, app_factory: Any) -> None:
    app = app_factory(CODE, public=True)
    params, _verifier = push_params(app)
    body = "&".join(f"{k}={v}" for k, v in params.items()) + "&scope=write"
    response = client.post(PAR_URL, body, content_type="application/x-www-form-urlencoded")
    assert json_error(response) == "invalid_request"
    from urllib.parse import urlencode

    response = client.post(
        f"{PAR_URL}?scope=write", urlencode(params), content_type="application/x-www-form-urlencoded"
    )
    assert json_error(response) == "invalid_request"
    response = client.post(PAR_URL, json.dumps(params), content_type="application/json")
    assert json_error(response) == "invalid_request"
    _nothing_stored()


def test_par_endpoint_is_post_only_and_can_be_disabled(client: Client, app: App, dot_settings: Any) -> None:
    assert client.get(PAR_URL).status_code == 405
    dot_settings(PAR_ENABLED=False)
    assert push(client, app, push_params(app)[0]).status_code == 404
    _nothing_stored()


def test_lifetime_setting(client: Client, app: App, dot_settings: Any) -> None:
    dot_settings(PAR_REQUEST_URI_LIFETIME_SECONDS=30)
    response = push(client, app, push_params(app)[0])
    pushed(response)
    assert json.loads(response.content)["expires_in"] == 30
    record = PushedAuthorizationRequest.objects.get()
    assert timedelta(seconds=28) < record.expires - timezone.now() <= timedelta(seconds=30)


# -- request_uri at the authorization endpoint (RFC 9126 §4) -------------------------------------


def test_request_uri_is_single_use(client: Client, browser: Client, app_factory: Any) -> None:
    app = app_factory(CODE, skip_authorization=True)
    request_uri = pushed(push(client, app, push_params(app)[0]))
    authorize_pushed(browser, app, request_uri, consent=False)
    assert page_error(browser.get(authorize_url(app, request_uri))) == "invalid_request_uri"


def test_request_uri_of_another_client_is_refused_and_kept(
    client: Client, browser: Client, app_factory: Any
) -> None:
    app, other = app_factory(CODE, skip_authorization=True), app_factory(CODE, skip_authorization=True)
    request_uri = pushed(push(client, app, push_params(app)[0]))
    assert page_error(browser.get(authorize_url(other, request_uri))) == "invalid_request_uri"
    no_client = f"{AUTHORIZE_URL}?request_uri={request_uri}"
    assert page_error(browser.get(no_client)) == "invalid_request_uri"
    # Whoever merely holds the value cannot spend it for the client it was issued to.
    authorize_pushed(browser, app, request_uri, consent=False)


def test_expired_request_uri_is_refused(client: Client, browser: Client, app: App) -> None:
    request_uri = pushed(push(client, app, push_params(app)[0]))
    PushedAuthorizationRequest.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert page_error(browser.get(authorize_url(app, request_uri))) == "invalid_request_uri"
    _nothing_stored()


def test_unused_expired_pushes_are_reclaimed(client: Client, app: App) -> None:
    pushed(push(client, app, push_params(app)[0]))
    PushedAuthorizationRequest.objects.update(expires=timezone.now() - timedelta(seconds=1))
    fresh = pushed(push(client, app, push_params(app)[0]))
    assert list(PushedAuthorizationRequest.objects.values_list("request_uri", flat=True)) == [fresh]


def test_unknown_request_uri_is_refused(browser: Client, app: App) -> None:
    assert page_error(browser.get(authorize_url(app, REQUEST_URI_PREFIX + "guess"))) == "invalid_request_uri"


def test_only_the_pushed_parameters_count(
    client: Client, browser: Client, app_factory: Any, key: TestKey
) -> None:
    app = app_factory(CODE, skip_authorization=True)
    params, verifier = push_params(app, dpop_jkt=key.jkt)
    request_uri = pushed(push(client, app, params))
    code = authorize_pushed(
        browser, app, request_uri, consent=False, redirect_uri="https://attacker.example/cb", dpop_jkt=""
    )
    grant = get_grant_model().objects.get(code=code)
    assert grant.redirect_uri == REDIRECT_URI
    assert GrantBinding.objects.get(grant=grant).jkt == key.jkt


def test_login_comes_before_the_request_uri_is_spent(client: Client, app: App) -> None:
    request_uri = pushed(push(client, app, push_params(app)[0]))
    anonymous = Client().get(authorize_url(app, request_uri))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert PushedAuthorizationRequest.objects.exists()


def test_consent_post_cannot_change_the_pushed_dpop_jkt(
    client: Client, browser: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    """dpop_jkt never rides in the consent form (it stays in the session): a posted one is ignored."""
    params, _verifier = push_params(app, dpop_jkt=key.jkt)
    url = authorize_url(app, pushed(push(client, app, params)))
    form = browser.get(url).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    assert "dpop_jkt" not in data
    response = browser.post(
        f"{url}&dpop_jkt={other_key.jkt}", {**data, "dpop_jkt": other_key.jkt, "allow": "1"}
    )
    assert response.status_code == 302, response.content
    assert GrantBinding.objects.get().jkt == key.jkt


@pytest.mark.parametrize("field", ["redirect_uri", "code_challenge", "scope"])
def test_consent_form_cannot_change_the_pushed_request(
    client: Client, browser: Client, app: App, key: TestKey, other_key: TestKey, field: str
) -> None:
    params, _verifier = push_params(app, dpop_jkt=key.jkt)
    url = authorize_url(app, pushed(push(client, app, params)))
    form = browser.get(url).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data[field] = {
        "redirect_uri": REDIRECT_URI + "x",
        "code_challenge": "A" * 43,
    }.get(field, "read write")
    data["allow"] = "Authorize"
    assert page_error(browser.post(url, data)) == "invalid_request_uri"
    assert not get_grant_model().objects.exists()
    # The unmodified form is not accepted a second time either: the pushed request is spent.
    data[field] = form.initial[field]
    assert page_error(browser.post(url, data)) == "invalid_request_uri"


# -- PAR required (RFC 9126 §5, §6) --------------------------------------------------------------


def test_par_required_server_wide(client: Client, browser: Client, app: App, dot_settings: Any) -> None:
    dot_settings(REQUIRE_PUSHED_AUTHORIZATION_REQUESTS=True)
    with pytest.raises(AssertionError):
        authorize(browser, app)
    params, _verifier = push_params(app)
    from urllib.parse import urlencode

    bypass = browser.get(f"{AUTHORIZE_URL}?{urlencode(params)}")
    assert page_error(bypass) == "invalid_request"
    # Posting the consent form straight away is no way around it either.
    post = browser.post(AUTHORIZE_URL, {**params, "allow": "Authorize"})
    assert page_error(post) == "invalid_request"
    assert not get_grant_model().objects.exists()
    authorize_pushed(browser, app, pushed(push(client, app, params)))
    assert get_grant_model().objects.count() == 1


def test_par_required_per_client(client: Client, browser: Client, app_factory: Any) -> None:
    strict, lax = app_factory(CODE), app_factory(CODE)
    ApplicationPolicy.objects.create(
        application=strict.application, require_pushed_authorization_requests=True
    )
    ApplicationPolicy.objects.create(application=lax.application, require_pushed_authorization_requests=False)
    params, _verifier = push_params(strict)
    from urllib.parse import urlencode

    assert page_error(browser.get(f"{AUTHORIZE_URL}?{urlencode(params)}")) == "invalid_request"
    authorize_pushed(browser, strict, pushed(push(client, strict, params)))
    authorize(browser, lax)  # the other client is not required to push


def test_client_false_never_relaxes_the_server(browser: Client, app: App, dot_settings: Any) -> None:
    dot_settings(REQUIRE_PUSHED_AUTHORIZATION_REQUESTS=True)
    ApplicationPolicy.objects.create(application=app.application, require_pushed_authorization_requests=False)
    from urllib.parse import urlencode

    params, _verifier = push_params(app)
    assert page_error(browser.get(f"{AUTHORIZE_URL}?{urlencode(params)}")) == "invalid_request"


# -- metadata (RFC 9126 §5) --------------------------------------------------------------------------


def test_metadata_advertises_par(client: Client, dot_settings: Any) -> None:
    data = json.loads(client.get("/o/.well-known/oauth-authorization-server").content)
    assert data["pushed_authorization_request_endpoint"] == "http://testserver/o/par/"
    assert data["require_pushed_authorization_requests"] is False
    dot_settings(REQUIRE_PUSHED_AUTHORIZATION_REQUESTS=True)
    data = json.loads(client.get("/o/.well-known/oauth-authorization-server").content)
    assert data["require_pushed_authorization_requests"] is True
    dot_settings(PAR_ENABLED=False)
    data = json.loads(client.get("/o/.well-known/oauth-authorization-server").content)
    assert "pushed_authorization_request_endpoint" not in data


# -- nonces on every response (RFC 9449 §8.2) -----------------------------------------------------


def test_nonce_on_every_response(
    client: Client, browser: Client, app: App, key: TestKey, settings: Any
) -> None:
    settings.DPOP_NONCE_ON_EVERY_RESPONSE = True
    params, verifier = push_params(app)
    current = nonce_store().issue(TOKEN_ENDPOINT)
    success = push(client, app, params, key=key)
    assert success["DPoP-Nonce"] == current  # a success, nonces not even required
    refused = push(client, app, push_params(app, dpop_jkt="x" * 43)[0], key=key)
    assert json_error(refused) == "invalid_request"
    assert refused["DPoP-Nonce"] == current
    bad_proof = push(client, app, params, proof=par_proof(key, iat=1))
    assert json_error(bad_proof) == "invalid_dpop_proof"
    assert bad_proof["DPoP-Nonce"] == current
    assert not push(client, app, params).has_header("DPoP-Nonce")  # no proof, no nonce

    code = authorize_pushed(browser, app, pushed(success))
    token = post_token(client, app, code_exchange(code, verifier), key=key)
    assert token.status_code == 200
    assert token["DPoP-Nonce"] == current
    again = post_token(client, app, code_exchange(code, verifier), key=key)
    assert json_error(again) == "invalid_grant"
    assert again["DPoP-Nonce"] == current


def test_without_the_setting_a_current_nonce_is_not_repeated(
    client: Client, app: App, key: TestKey, settings: Any
) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    nonce = nonce_store().issue(TOKEN_ENDPOINT)
    response = push(client, app, push_params(app)[0], key=key, nonce=nonce)
    pushed(response)
    assert not response.has_header("DPoP-Nonce")


def test_stale_nonce_keeps_being_accepted_across_a_rotation(
    client: Client, app: App, key: TestKey, settings: Any
) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    settings.DPOP_NONCE_ON_EVERY_RESPONSE = True
    store = nonce_store()
    previous = store.issue(TOKEN_ENDPOINT, now=time.time() - rotation_period(conf.DPOP_NONCE_LIFETIME))
    response = push(client, app, push_params(app)[0], key=key, nonce=previous)
    pushed(response)  # accepted: no use_dpop_nonce loop at a rotation
    assert response["DPoP-Nonce"] == store.issue(TOKEN_ENDPOINT) != previous


# -- hostile inputs: a clear 4xx, never a 500, nothing stored ------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_AUTHORIZATION": "Basic ü"},
        {"HTTP_AUTHORIZATION": "Basic " + "A" * 10_000},
        {"HTTP_AUTHORIZATION": "Basic !!!"},
    ],
    ids=["non-ascii-basic", "huge-basic", "not-base64"],
)
def test_hostile_client_authentication(client: Client, app_factory: Any, headers: dict[str, str]) -> None:
    from urllib.parse import urlencode

    app = app_factory(CODE)
    response = client.post(
        PAR_URL, urlencode(push_params(app)[0]), content_type="application/x-www-form-urlencoded", **headers
    )
    assert json_error(response, 401) == "invalid_client"
    _nothing_stored()


@pytest.mark.parametrize(
    "proof", ["x" * 20_000, "a.b.c", "", "ü.ü.ü"], ids=["huge", "garbage", "empty", "non-ascii"]
)
def test_hostile_proofs(client: Client, app: App, proof: str) -> None:
    response = push(client, app, push_params(app)[0], proof=proof)
    assert json_error(response) == "invalid_dpop_proof"
    _nothing_stored()


@pytest.mark.parametrize(
    "request_uri",
    [REQUEST_URI_PREFIX + "x" * 10_000, "ü", REQUEST_URI_PREFIX + "\x00", "https://attacker.example/r"],
    ids=["huge", "non-ascii", "nul", "url"],
)
def test_hostile_request_uris(browser: Client, app: App, request_uri: str) -> None:
    assert page_error(browser.get(authorize_url(app, request_uri))) == "invalid_request_uri"


def test_repeated_resource_is_pushed_and_kept(client: Client, browser: Client, app: App) -> None:
    """RFC 8707 §2: ``resource`` may repeat; every value reaches the code, through the consent form."""
    from urllib.parse import urlencode

    params, _verifier = push_params(app)
    body = (
        urlencode(params)
        + "&"
        + urlencode([("resource", "https://a.example/"), ("resource", "https://b.example/")])
    )
    headers = {}
    if not app.public:
        import base64

        pair = f"{app.client_id}:{app.secret}".encode()
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(pair).decode()
    request_uri = pushed(
        client.post(PAR_URL, body, content_type="application/x-www-form-urlencoded", **headers)
    )
    code = authorize_pushed(browser, app, request_uri)
    assert get_grant_model().objects.get(code=code).resource == ["https://a.example/", "https://b.example/"]
