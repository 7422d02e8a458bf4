"""JOSE header attacks (RFC 9449 §4.3 checks 4, 5; RFC 7515 §4.1) through DRF and a plain view."""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import RESOURCES, assert_refused, call_resource, edit_header, resource_proof


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.adversarial.urls")]

# (case, header members to set, reason code)
CASES = [
    ("typ missing", {"typ": None}, "typ"),
    ("typ JWT", {"typ": "JWT"}, "typ"),
    ("typ at+jwt", {"typ": "at+jwt"}, "typ"),
    ("crit", {"crit": ["exp"]}, "header"),
    ("jku beside jwk", {"jku": "https://attacker.example/jwks"}, "header"),
    ("x5c beside jwk", {"x5c": ["MIIB"]}, "header"),
    ("x5t#S256 beside jwk", {"x5t#S256": "abc"}, "header"),
    ("JWE enc member", {"enc": "A256GCM"}, "header"),
    ("kid not a string", {"kid": 7}, "header"),
    ("b64 false", {"b64": False}, "header"),
    ("jwk missing", {"jwk": None}, "jwk"),
]


@pytest.mark.parametrize("path", RESOURCES)
def test_control_header_passes(path, key, bound_token, events) -> None:
    response = call_resource(path, bound_token, resource_proof(key, path, bound_token, headers={"kid": "k1"}))
    assert response.status_code == 200
    assert [event["alg"] for event in events.accepted] == ["ES256"]


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("case", "members", "reason"), CASES, ids=[c[0] for c in CASES])
def test_header_attack_refused(path, case, members, reason, key, bound_token, events) -> None:
    # The header is edited after signing: every header check runs before the signature's (§4.3).
    proof = edit_header(resource_proof(key, path, bound_token), members)
    response = call_resource(path, bound_token, proof)
    assert_refused(response, 401, "invalid_dpop_proof")
    assert events.reasons == [reason]
    assert events.accepted == []


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_symmetric_or_none_alg_refused(path, alg, key, bound_token, events) -> None:
    """RFC 9449 §11.6: a proof that claims alg none or HMAC is refused before any key is used."""
    good = resource_proof(key, path, bound_token)
    proof = edit_header(good, {"alg": alg})
    response = call_resource(path, bound_token, proof)
    assert_refused(response, 401, "invalid_dpop_proof")
    assert events.reasons == ["alg"]
    assert events.rejected[0]["alg"] == alg


@pytest.mark.parametrize("path", RESOURCES)
def test_alg_outside_the_allowed_list_refused(path, key, bound_token, events, settings) -> None:
    settings.DPOP_ALLOWED_ALGORITHMS = ["RS256"]
    response = call_resource(path, bound_token, resource_proof(key, path, bound_token))
    assert_refused(response, 401, "invalid_dpop_proof")
    assert response["WWW-Authenticate"].count('algs="RS256"') == 1
    assert events.reasons == ["alg"]
