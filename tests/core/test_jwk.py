"""RFC 7638 thumbprints and the public-key check of RFC 9449 §4.3 check 7."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from jwcrypto.jwk import JWK  # an independent implementation (a dependency of django-oauth-toolkit)
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from django_dpop.core import InvalidDPoPProof, check_public_jwk, jwk_thumbprint
from tests.core.conftest import key_for


RFC9449_JWK = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZ"
        "CiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJ"
        "ZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBn"
        "iIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
# RFC 8037 Appendix A.2 / A.3: the Ed25519 public key and its RFC 7638 thumbprint.
RFC8037_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}


@pytest.mark.parametrize(
    ("jwk", "thumbprint"),
    [
        (RFC9449_JWK, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"),  # RFC 9449 §6.1
        (RFC7638_JWK, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),  # RFC 7638 §3.1
        (RFC8037_JWK, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"),  # RFC 8037 A.3
    ],
)
def test_rfc_vectors(jwk: dict[str, str], thumbprint: str) -> None:
    assert jwk_thumbprint(jwk) == thumbprint
    assert check_public_jwk(jwk) is jwk


def _public_jwk(private: Any) -> dict[str, Any]:
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return json.loads(OKPAlgorithm.to_jwk(private.public_key()))


@pytest.mark.parametrize(
    "private",
    [
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP521R1()),
        ed25519.Ed25519PrivateKey.generate(),
        ed448.Ed448PrivateKey.generate(),
    ],
    ids=["P-256", "P-384", "P-521", "Ed25519", "Ed448"],
)
def test_agrees_with_jwcrypto(private: Any) -> None:
    jwk = _public_jwk(private)
    assert jwk_thumbprint(jwk) == JWK(**jwk).thumbprint()


def test_agrees_with_jwcrypto_for_rsa() -> None:
    jwk = key_for("RS256").public_jwk
    assert jwk_thumbprint(jwk) == JWK(**jwk).thumbprint()


def test_member_order_and_optional_members_are_irrelevant() -> None:
    reordered = dict(reversed(list(RFC9449_JWK.items())))
    extended = {**RFC9449_JWK, "kid": "k", "use": "sig", "alg": "ES256", "key_ops": ["verify"], "x5c": []}
    assert jwk_thumbprint(reordered) == jwk_thumbprint(extended) == jwk_thumbprint(RFC9449_JWK)


def test_every_required_member_counts() -> None:
    for name in ("x", "y", "crv"):
        changed = {
            **RFC9449_JWK,
            name: RFC9449_JWK[name][:-1] + ("A" if RFC9449_JWK[name][-1] != "A" else "B"),
        }
        assert jwk_thumbprint(changed) != jwk_thumbprint(RFC9449_JWK)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-256", "x": "AQAB"},  # y missing
        {"kty": "EC", "crv": "P-256", "x": "AQAB", "y": 1},
        {"kty": "RSA", "e": "AQAB"},
        {"kty": "OKP", "x": "AQAB"},
        {"kty": "oct", "k": "AQAB"},
        {"kty": "EC ", "crv": "P-256", "x": "AQAB", "y": "AQAB"},
        {"kty": ["EC"], "crv": "P-256", "x": "AQAB", "y": "AQAB"},
        {"kty": "EC", "crv": "P-256", "x": "\ud800", "y": "AQAB"},
        {},
        None,
        [],
        "{}",
    ],
)
def test_thumbprint_refuses_what_is_not_a_supported_jwk(jwk: Any) -> None:
    with pytest.raises(InvalidDPoPProof):
        jwk_thumbprint(jwk)


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
def test_private_members_refused(member: str) -> None:
    with pytest.raises(InvalidDPoPProof, match="private"):
        check_public_jwk({**RFC7638_JWK, member: "AQAB"})


def test_private_keys_refused() -> None:
    for private in (ec.generate_private_key(ec.SECP256R1()), ed25519.Ed25519PrivateKey.generate()):
        algorithm = ECAlgorithm if isinstance(private, ec.EllipticCurvePrivateKey) else OKPAlgorithm
        with pytest.raises(InvalidDPoPProof, match="private"):
            check_public_jwk(json.loads(algorithm.to_jwk(private)))


@pytest.mark.parametrize(
    "change",
    [
        {"x": "l8tFrhx+34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"},  # base64, not base64url
        {"x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs="},  # padded
        {"x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBF!"},
        {"x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFt"},  # the same octets as "...Fs" (RFC 4648 §3.5)
        {"y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDB"},  # the same octets as "...DA"
        {"x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFsAA"},  # 4k + 1 characters: no octets
        {"kty": "RSA", "n": RFC7638_JWK["n"][:-1] + "x", "e": "AQAB"},  # "...gw" and "...gx" alike
        {"y": " 9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"},
        {"crv": 256},
        {"kty": "oct"},
    ],
)
def test_check_public_jwk_refuses_malformed_members(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidDPoPProof):
        check_public_jwk({**RFC9449_JWK, **change})
    assert check_public_jwk(RFC9449_JWK) == RFC9449_JWK  # control
