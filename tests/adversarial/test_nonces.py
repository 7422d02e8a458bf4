"""Server nonces (RFC 9449 §8, §9): ``use_dpop_nonce`` with exactly one fresh ``DPoP-Nonce``."""

from __future__ import annotations

import pytest

from django_dpop.proofs import RESOURCE, TOKEN_ENDPOINT, issue_nonce
from tests.adversarial.conftest import (
    RESOURCES,
    assert_refused,
    assert_token_refused,
    call_resource,
    resource_proof,
)
from tests.contrib.oauth2_provider.flows import make_app, post_token


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.adversarial.urls")]


@pytest.fixture(autouse=True)
def nonces_required(settings):
    settings.DPOP_NONCE_REQUIRED = True


REFUSED = [
    ("no nonce", lambda: None, "nonce_missing"),
    ("unknown nonce", lambda: "A" * 32, "nonce_invalid"),
    ("nonce of the token endpoint", lambda: issue_nonce(TOKEN_ENDPOINT), "nonce_invalid"),
    ("nonce not NQCHAR", lambda: 'bad"nonce', "nonce_invalid"),
]


@pytest.mark.parametrize("path", RESOURCES)
def test_control_current_nonce(path, key, bound_token, events) -> None:
    proof = resource_proof(key, path, bound_token, nonce=issue_nonce(RESOURCE))
    response = call_resource(path, bound_token, proof)
    assert response.status_code == 200
    assert "DPoP-Nonce" not in response
    assert len(events.accepted) == 1


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("case", "nonce", "reason"), REFUSED, ids=[c[0] for c in REFUSED])
def test_resource_asks_for_the_nonce(path, case, nonce, reason, key, bound_token, events) -> None:
    proof = resource_proof(key, path, bound_token, nonce=nonce())
    response = call_resource(path, bound_token, proof)
    assert_refused(response, 401, "use_dpop_nonce")
    assert response["DPoP-Nonce"] == issue_nonce(RESOURCE)
    assert events.reasons == [reason]


@pytest.mark.parametrize("path", RESOURCES)
def test_stale_proof_with_a_nonce_asks_for_a_fresh_proof(path, key, bound_token, events) -> None:
    proof = resource_proof(key, path, bound_token, nonce=issue_nonce(RESOURCE), iat=1_000_000)
    response = call_resource(path, bound_token, proof)
    assert_refused(response, 401, "use_dpop_nonce")
    assert events.reasons == ["iat"]


def test_token_endpoint_asks_for_the_nonce(client, user, key, events) -> None:
    app = make_app(user, "client-credentials")
    data = {"grant_type": "client_credentials"}
    response = post_token(client, app, data, key=key)
    assert_token_refused(response, 400, "use_dpop_nonce")
    nonce = response["DPoP-Nonce"]
    assert nonce == issue_nonce(TOKEN_ENDPOINT)
    wrong = post_token(client, app, data, key=key, nonce=issue_nonce(RESOURCE))
    assert_token_refused(wrong, 400, "use_dpop_nonce")
    control = post_token(client, app, data, key=key, nonce=nonce)
    assert control.status_code == 200, control.content
    assert events.reasons == ["nonce_missing", "nonce_invalid"]
