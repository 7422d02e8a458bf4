"""Resource requests and authentication schemes (RFC 9449 §7; RFC 6750 §2.1, §3) through DRF and a plain view."""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import (
    RESOURCES,
    assert_refused,
    call_resource,
    challenge_params,
    resource_proof,
)


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.adversarial.urls")]


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize("scheme", ["DPoP", "dpop", "DPOP"])
def test_control_dpop_scheme_any_case(path, scheme, key, bound_token) -> None:
    response = call_resource(path, bound_token, resource_proof(key, path, bound_token), scheme=scheme)
    assert response.status_code == 200


@pytest.mark.parametrize("path", RESOURCES)
def test_control_unbound_bearer_token_accepted(path, make_token) -> None:
    token = make_token().token
    assert call_resource(path, token, None, scheme="Bearer").status_code == 200


@pytest.mark.parametrize("path", RESOURCES)
def test_bound_token_as_bearer_is_a_downgrade(path, bound_token) -> None:
    """RFC 9449 §7.2: a DPoP-bound token presented as Bearer is refused."""
    response = call_resource(path, bound_token, None, scheme="Bearer")
    assert response.status_code == 401
    assert 'Bearer error="invalid_token"' in response["WWW-Authenticate"] or (
        challenge_params(response).get("error") == "invalid_token"
    )


@pytest.mark.parametrize("path", RESOURCES)
def test_unbound_token_on_the_dpop_scheme(path, key, make_token) -> None:
    token = make_token().token
    response = call_resource(path, token, resource_proof(key, path, token))
    assert_refused(response, 401, "invalid_token")


@pytest.mark.parametrize("path", RESOURCES)
def test_token_bound_to_another_key(path, other_key, bound_token, events) -> None:
    """Check 12b: the proof is good (proof_accepted) but its key is not the token's."""
    response = call_resource(path, bound_token, resource_proof(other_key, path, bound_token))
    assert_refused(response, 401, "invalid_token")
    assert len(events.accepted) == 1 and events.rejected == []


@pytest.mark.parametrize("path", RESOURCES)
def test_dpop_scheme_without_proof(path, bound_token, events) -> None:
    assert_refused(call_resource(path, bound_token, None), 401, "invalid_dpop_proof")
    assert events.reasons == ["missing"]


@pytest.mark.parametrize("path", RESOURCES)
def test_proof_ath_for_another_token(path, key, bound_token, make_token, events) -> None:
    other = make_token(jkt=key.jkt).token
    assert_refused(
        call_resource(path, bound_token, resource_proof(key, path, other)), 401, "invalid_dpop_proof"
    )
    assert events.reasons == ["ath"]


@pytest.mark.parametrize("path", RESOURCES)
def test_unknown_token(path, key) -> None:
    token = "unknown-token-value"
    assert_refused(call_resource(path, token, resource_proof(key, path, token)), 401, "invalid_token")


# RFC 6750 §3.1 invalid_request: 400 with the error in the DPoP challenge.
INVALID_REQUESTS = [
    ("Bearer with a DPoP header", "Bearer {token}", True),
    ("two schemes", "DPoP {token}, Bearer {token}", True),
    ("credentials not a token68", "DPoP a b c", True),
    ("token68 with a quote", 'DPoP "{token}"', True),
]


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(
    ("case", "authorization", "with_proof"), INVALID_REQUESTS, ids=[c[0] for c in INVALID_REQUESTS]
)
def test_invalid_requests(path, case, authorization, with_proof, key, bound_token) -> None:
    from django.test import Client

    headers = {"HTTP_AUTHORIZATION": authorization.format(token=bound_token)}
    if with_proof:
        headers["HTTP_DPOP"] = resource_proof(key, path, bound_token)
    response = Client().get(path, **headers)
    assert_refused(response, 400, "invalid_request")


@pytest.mark.parametrize("path", RESOURCES)
def test_no_credentials_challenges_without_error(path) -> None:
    from django.test import Client

    response = Client().get(path)
    assert response.status_code == 401
    params = challenge_params(response)
    assert "error" not in params and "algs" in params


@pytest.mark.parametrize("path", RESOURCES)
def test_bearer_refused_when_not_allowed(path, make_token, settings) -> None:
    settings.DPOP_ALLOW_BEARER_TOKENS = False
    token = make_token().token
    response = call_resource(path, token, None, scheme="Bearer")
    assert_refused(response, 401, "invalid_token")
    assert ", Bearer" not in response["WWW-Authenticate"]  # no Bearer challenge any more
