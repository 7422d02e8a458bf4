"""Token endpoint and grants (RFC 9449 §5, §10; RFC 6749 §5.2) through DOT's real token view.

Refusals are 400 JSON with ``Cache-Control: no-store`` and no token issued; the control beside
each table is the same request with a correct proof.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.adversarial.conftest import assert_token_refused, edit_header
from tests.contrib.oauth2_provider.flows import (
    TOKEN_HTU,
    authorize,
    code_exchange,
    make_app,
    post_token,
    token_proof,
)
from tests.factories import make_proof


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.adversarial.urls")]
CLIENT_CREDENTIALS = {"grant_type": "client_credentials", "scope": "read"}


@pytest.fixture
def cc_app(user):
    return make_app(user, "client-credentials")


@pytest.fixture
def code_app(user):
    return make_app(user, "authorization-code", skip_authorization=True)


@pytest.fixture
def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# (case, function key -> proof, reason)
REFUSED = [
    ("proof for a resource URI", lambda key: make_proof(key, "POST", "http://testserver/api/drf/"), "htu"),
    ("proof for GET", lambda key: make_proof(key, "GET", TOKEN_HTU), "htm"),
    ("two proofs", lambda key: token_proof(key) + "," + token_proof(key), "multiple"),
    ("not a JWS", lambda key: "not-a-jws", "malformed"),
    ("typ JWT", lambda key: edit_header(token_proof(key), {"typ": "JWT"}), "typ"),
    ("old iat", lambda key: token_proof(key, iat=1), "iat"),
    ("expired exp", lambda key: token_proof(key, claims={"exp": 2}), "exp"),
]


def test_control_client_credentials_with_proof(client, cc_app, key, events) -> None:
    response = post_token(client, cc_app, CLIENT_CREDENTIALS, key=key)
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"
    assert response["Cache-Control"] == "no-store"
    assert [(e["endpoint"], e["alg"]) for e in events.accepted] == [("token", "ES256")]


@pytest.mark.parametrize(("case", "build", "reason"), REFUSED, ids=[c[0] for c in REFUSED])
def test_bad_token_endpoint_proof_refused(client, cc_app, key, events, case, build, reason) -> None:
    from oauth2_provider.models import get_access_token_model

    response = post_token(client, cc_app, CLIENT_CREDENTIALS, proof=build(key))
    assert_token_refused(response, 400, "invalid_dpop_proof")
    assert "WWW-Authenticate" not in response
    assert not get_access_token_model().objects.exists()
    assert [(e["endpoint"], e["reason"]) for e in events.rejected] == [("token", reason)]


def test_replayed_token_request_proof_refused(client, cc_app, key, events) -> None:
    proof = token_proof(key)
    assert post_token(client, cc_app, CLIENT_CREDENTIALS, proof=proof).status_code == 200
    assert_token_refused(
        post_token(client, cc_app, CLIENT_CREDENTIALS, proof=proof), 400, "invalid_dpop_proof"
    )
    assert events.reasons == ["replayed"]


def test_code_bound_by_dpop_jkt_refuses_another_key(client, browser, code_app, key, other_key) -> None:
    """RFC 9449 §10: a code bound to ``key`` at the authorization endpoint needs ``key``'s proof."""
    code, verifier = authorize(browser, code_app, dpop_jkt=key.jkt, consent=False)
    refused = post_token(client, code_app, code_exchange(code, verifier), key=other_key)
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"] in {"invalid_dpop_proof", "invalid_grant"}
    assert refused["Cache-Control"] == "no-store"
    code, verifier = authorize(browser, code_app, dpop_jkt=key.jkt, consent=False)
    assert post_token(client, code_app, code_exchange(code, verifier), key=key).status_code == 200


def test_bound_refresh_token_needs_the_same_key(client, browser, user, key, other_key) -> None:
    """RFC 9449 §5: a public client's refresh token is bound to the key of its first proof."""
    code_app = make_app(user, "authorization-code", public=True, skip_authorization=True)
    code, verifier = authorize(browser, code_app, consent=False)
    issued = post_token(client, code_app, code_exchange(code, verifier), key=key)
    refresh = {"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]}
    assert_token_refused(post_token(client, code_app, refresh, key=other_key), 400, "invalid_grant")
    no_proof = post_token(client, code_app, refresh)
    assert_token_refused(no_proof, 400, "invalid_dpop_proof")
    control = post_token(client, code_app, refresh, key=key)
    assert control.status_code == 200 and control.json()["token_type"] == "DPoP"


def test_token_endpoint_answer_never_echoes_the_proof(client, cc_app, key) -> None:
    proof = make_proof(key, "POST", "http://testserver/elsewhere/")
    response = post_token(client, cc_app, CLIENT_CREDENTIALS, proof=proof)
    assert_token_refused(response, 400, "invalid_dpop_proof")
    assert proof not in json.dumps(response.json())


def test_par_proof_events_name_the_par_endpoint(client, user, key, events) -> None:
    """RFC 9449 §10.1: PAR checks proofs like the token endpoint; the signals say ``par``."""
    from tests.contrib.oauth2_provider.flows import make_app as make
    from tests.contrib.oauth2_provider.par_flows import push, push_params, pushed

    app = make(user, "authorization-code")
    params, _verifier = push_params(app)
    pushed(push(client, app, params, key=key))
    refused = push(client, app, params, proof=make_proof(key, "POST", TOKEN_HTU))
    assert_token_refused(refused, 400, "invalid_dpop_proof")
    assert [e["endpoint"] for e in events.accepted] == ["par"]
    assert [(e["endpoint"], e["reason"]) for e in events.rejected] == [("par", "htu")]
