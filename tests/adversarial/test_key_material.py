"""Key material attacks (RFC 9449 §4.3 check 7; RFC 7518 §6; RFC 8037) through DRF and a plain view."""

from __future__ import annotations

import base64

import pytest

from tests.adversarial.conftest import RESOURCES, assert_refused, call_resource, edit_header, resource_proof
from tests.factories import make_key


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.adversarial.urls")]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def rsa_key():
    return make_key("RS256")


# (case, function of the public JWK returning the JWK to put in the header)
EC_CASES = [
    ("private key member d", lambda jwk: {**jwk, "d": _b64(b"\x01" * 32)}),
    ("symmetric kty oct", lambda jwk: {"kty": "oct", "k": _b64(b"secret")}),
    ("kty RSA with an EC alg", lambda jwk: {"kty": "RSA", "n": jwk["x"], "e": "AQAB"}),
    ("other curve P-384", lambda jwk: {**jwk, "crv": "P-384"}),
    ("coordinate off the curve", lambda jwk: {**jwk, "y": _b64(bytes(32))}),
    ("use enc", lambda jwk: {**jwk, "use": "enc"}),
    ("key_ops without verify", lambda jwk: {**jwk, "key_ops": ["encrypt"]}),
    ("jwk alg other than the proof's", lambda jwk: {**jwk, "alg": "ES384"}),
    ("jwk with x5u", lambda jwk: {**jwk, "x5u": "https://attacker.example/cert"}),
    ("jwk not an object", lambda jwk: "not a key"),
]


@pytest.mark.parametrize("path", RESOURCES)
def test_control_ec_key(path, key, bound_token) -> None:
    assert call_resource(path, bound_token, resource_proof(key, path, bound_token)).status_code == 200


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("case", "mutate"), EC_CASES, ids=[c[0] for c in EC_CASES])
def test_ec_key_material_refused(path, case, mutate, key, bound_token, events) -> None:
    proof = edit_header(resource_proof(key, path, bound_token), {"jwk": mutate(dict(key.public_jwk))})
    assert_refused(call_resource(path, bound_token, proof), 401, "invalid_dpop_proof")
    assert events.reasons == ["jwk"]


RSA_CASES = [
    # RFC 7518 §6.3.1: n and e are minimal big-endian octets; one key, one thumbprint.
    ("n with a leading zero octet", lambda jwk: {**jwk, "n": _b64(b"\x00" + _unb64(jwk["n"]))}),
    ("e as AAEAAQ", lambda jwk: {**jwk, "e": "AAEAAQ"}),
    ("e of 1", lambda jwk: {**jwk, "e": "AQ"}),
]


@pytest.mark.parametrize("path", RESOURCES)
def test_control_rsa_key(path, rsa_key, make_token) -> None:
    token = make_token(jkt=rsa_key.jkt).token
    assert call_resource(path, token, resource_proof(rsa_key, path, token)).status_code == 200


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("case", "mutate"), RSA_CASES, ids=[c[0] for c in RSA_CASES])
def test_rsa_key_material_refused(path, case, mutate, rsa_key, make_token, events) -> None:
    token = make_token(jkt=rsa_key.jkt).token
    proof = edit_header(resource_proof(rsa_key, path, token), {"jwk": mutate(dict(rsa_key.public_jwk))})
    assert_refused(call_resource(path, token, proof), 401, "invalid_dpop_proof")
    assert events.reasons == ["jwk"]


# RFC 8032 §5.1.3 / RFC 7748: encodings of points of small order (the identity, order 2, order 4).
SMALL_ORDER_ED25519 = [
    bytes([1]) + bytes(31),
    bytes([0xEC]) + bytes([0xFF]) * 30 + bytes([0x7F]),  # y = p - 1
    bytes(32),
]


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize("point", SMALL_ORDER_ED25519, ids=["identity", "order-2", "order-4"])
def test_small_order_ed25519_key_refused(path, point, bound_token, events) -> None:
    """A signature by a small-order key proves possession of nothing (issue 9 item 3)."""
    ed = make_key("EdDSA")
    proof = edit_header(
        resource_proof(ed, path, bound_token), {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": _b64(point)}}
    )
    assert_refused(call_resource(path, bound_token, proof), 401, "invalid_dpop_proof")
    assert events.reasons == ["jwk"]


@pytest.mark.parametrize("path", RESOURCES)
def test_proof_signed_by_another_key_than_its_jwk(path, key, other_key, bound_token, events) -> None:
    """The header names ``key`` but ``other_key`` signed: check 6."""
    forged = resource_proof(other_key, path, bound_token)
    proof = edit_header(forged, {"jwk": key.public_jwk})
    assert_refused(call_resource(path, bound_token, proof), 401, "invalid_dpop_proof")
    assert events.reasons == ["signature"]
