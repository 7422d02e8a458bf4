"""Adversarial claims and time (RFC 9449 §4.2-4.3 checks 3 and 11, RFC 7519 §4.1): refusal beside control.

``exp`` and ``nbf`` are optional in a proof but binding when present (RFC 7519 §4.1.4-4.1.5 MUST
NOT accept), with the policy's clock skew as leeway. ``aud``, when present, must name this server
(§4.1.3). ``iss`` and ``sub`` have no meaning for a proof and are ignored (as node-oidc-provider).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from django_dpop.core import NonceStatus, ProofPolicy, UseDPoPNonce
from django_dpop.core import proof as proof_module
from tests.core import jws
from tests.core.adversarial import DROP, NOW, SKEW, URL, payload, refused, signed, verify
from tests.core.conftest import key_for


KEY = "ES256"
NONCES = ProofPolicy(nonce_required=True)


def current(nonce: str) -> NonceStatus:
    return NonceStatus.CURRENT


def raw(claims_json: str) -> str:
    """A proof whose payload is the JSON text ``claims_json`` exactly (for values json.dumps cannot write)."""
    key = key_for(KEY)
    return jws.compact(key, jws.header_for(key), jws.b64(claims_json))


# --- exp (RFC 7519 §4.1.4) ------------------------------------------------------------------


@pytest.mark.parametrize("exp", [NOW - SKEW, NOW - SKEW - 1, NOW - 3600, 0, 1.5])
def test_expired_proof_is_refused(exp: float) -> None:
    refused(signed(key_for(KEY), exp=exp), r"has expired \(exp\)")


@pytest.mark.parametrize("exp", [NOW - SKEW + 1, NOW - SKEW + 0.5, NOW, NOW + 1, NOW + 10**9])
def test_unexpired_proof_is_accepted(exp: float) -> None:
    assert verify(signed(key_for(KEY), exp=exp)).claims["exp"] == exp


def test_expired_proof_is_refused_even_when_nonces_are_required() -> None:
    # Not use_dpop_nonce: a fresh nonce cannot revive an expired proof.
    refused(
        signed(key_for(KEY), exp=NOW - SKEW, nonce="n" * 22),
        r"has expired",
        policy=NONCES,
        nonce_checker=current,
    )
    verify(signed(key_for(KEY), exp=NOW + 10, nonce="n" * 22), policy=NONCES, nonce_checker=current)


# --- nbf (RFC 7519 §4.1.5) ------------------------------------------------------------------


@pytest.mark.parametrize("nbf", [NOW + SKEW + 1, NOW + SKEW + 0.5, NOW + 3600, 253402300799])
def test_proof_not_yet_valid_is_refused(nbf: float) -> None:
    refused(signed(key_for(KEY), nbf=nbf), r"not valid yet \(nbf\)")


@pytest.mark.parametrize("nbf", [NOW + SKEW, NOW, NOW - 3600, 0])
def test_proof_already_valid_is_accepted(nbf: float) -> None:
    assert verify(signed(key_for(KEY), nbf=nbf)).claims["nbf"] == nbf


# --- NumericDate types (RFC 7519 §2) for iat, exp and nbf ------------------------------------


BAD_DATES: list[Any] = [
    True,
    False,
    None,
    "1700000000",
    [NOW],
    {"t": NOW},
    -1,
    10**30,
    253402300800,
    1e300,
    -0.5,
]


@pytest.mark.parametrize("claim", ["iat", "exp", "nbf"])
@pytest.mark.parametrize("value", BAD_DATES, ids=repr)
def test_numericdate_of_wrong_type_or_range_is_refused(claim: str, value: Any) -> None:
    match = "iat is missing or not a NumericDate" if claim == "iat" else f"{claim} is not a NumericDate"
    refused(signed(key_for(KEY), **{claim: value}), match)


@pytest.mark.parametrize("claim", ["iat", "exp", "nbf"])
@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1E999"])
def test_numericdate_that_json_reads_as_infinity_is_refused(claim: str, literal: str) -> None:
    # json reads 1e400 as float("inf"): finite-looking JSON, infinite value.
    claims = dict(payload(), **{claim: 0})
    body = json.dumps(claims, separators=(",", ":")).replace(f'"{claim}":0', f'"{claim}":{literal}')
    refused(raw(body), "not a NumericDate")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused(literal: str) -> None:
    body = json.dumps(payload(exp=0), separators=(",", ":")).replace('"exp":0', f'"exp":{literal}')
    refused(raw(body), "not base64url-encoded JSON")
    verify(raw(json.dumps(payload(exp=NOW + 1), separators=(",", ":"))))  # control


def test_iat_missing_is_refused() -> None:
    refused(signed(key_for(KEY), iat=DROP), "iat is missing")


# --- the cheap-first order: no cryptography for a proof that fails a claim -------------------


@pytest.mark.parametrize(
    ("claims", "match"),
    [
        ({"exp": NOW - SKEW}, "expired"),
        ({"nbf": NOW + SKEW + 1}, "not valid yet"),
        ({"exp": True}, "exp is not a NumericDate"),
        ({"iat": 10**30}, "iat is missing or not a NumericDate"),
        ({"aud": "https://other.example/"}, "aud does not name this server"),
    ],
)
def test_claim_refusals_run_no_cryptography(
    monkeypatch: pytest.MonkeyPatch, claims: dict[str, Any], match: str
) -> None:
    def no_crypto(*args: Any) -> Any:
        raise AssertionError("cryptography ran for a proof the claims refuse")

    monkeypatch.setattr(proof_module, "_public_key", no_crypto)
    monkeypatch.setattr(proof_module, "_verify_signature", no_crypto)
    proof_module._checked_header.cache_clear()  # a key never seen: nothing cached
    proof = signed(key_for(KEY), **claims)
    broken = proof[: proof.rindex(".") + 1] + "AAAA"  # and a signature that is garbage
    refused(proof, match)
    refused(broken, match)


# --- aud (RFC 7519 §4.1.3), iss and sub -------------------------------------------------------


@pytest.mark.parametrize(
    "aud",
    [
        URL,
        "https://SERVER.example.com:443/resource?query#fragment",
        "https://server.example.com",
        "https://server.example.com/",
        ["https://other.example/", URL],
    ],
    ids=repr,
)
def test_aud_naming_this_server_is_accepted(aud: Any) -> None:
    assert verify(signed(key_for(KEY), aud=aud)).claims["aud"] == aud


@pytest.mark.parametrize(
    ("aud", "match"),
    [
        ("https://other.example/", "aud does not name this server"),
        ("https://server.example.com/other", "aud does not name this server"),
        ("http://server.example.com/resource", "aud does not name this server"),
        ("https://server.example.com:8443/", "aud does not name this server"),
        ("server.example.com", "aud does not name this server"),
        (["https://other.example/"], "aud does not name this server"),
        ([], "aud is not a string or an array of strings"),
        ("", "aud does not name this server"),
        (5, "aud is not a string or an array of strings"),
        (None, "aud is not a string or an array of strings"),
        ([URL, 5], "aud is not a string or an array of strings"),
        ({"aud": URL}, "aud is not a string or an array of strings"),
    ],
    ids=repr,
)
def test_aud_not_naming_this_server_is_refused(aud: Any, match: str) -> None:
    refused(signed(key_for(KEY), aud=aud), match)


@pytest.mark.parametrize("value", ["client-1", 5, None, ["x"], {"a": 1}])
def test_iss_and_sub_are_ignored(value: Any) -> None:
    verify(signed(key_for(KEY), iss=value, sub=value))


# --- the other claim types (check 3) --------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "value", "match"),
    [
        ("jti", "", "jti is missing"),
        ("jti", 1, "jti is missing"),
        ("jti", DROP, "jti is missing"),
        ("htm", ["GET"], "htm is missing"),
        ("htu", {"u": URL}, "htu is missing"),
        ("jti", "j" * 257, "jti is too long"),
    ],
    ids=repr,
)
def test_required_claims_of_the_wrong_type_are_refused(claim: str, value: Any, match: str) -> None:
    refused(signed(key_for(KEY), **{claim: value}), match)
    verify(signed(key_for(KEY)))


def test_nonce_of_the_wrong_type_is_refused_when_required() -> None:
    refused(signed(key_for(KEY), nonce=5), "nonce is not a string", policy=NONCES, nonce_checker=current)
    refused(
        signed(key_for(KEY)),
        "has no nonce",
        error=UseDPoPNonce,
        code="use_dpop_nonce",
        policy=NONCES,
        nonce_checker=current,
    )
    verify(signed(key_for(KEY), nonce="n" * 22), policy=NONCES, nonce_checker=current)
