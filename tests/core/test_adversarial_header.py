"""Adversarial JOSE headers (RFC 7515 §4, RFC 9449 §4.3 checks 4, 5 and 7): each refusal beside its control."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jwt.utils import base64url_decode

from django_dpop.core import DEFAULT_ALGORITHMS, ProofPolicy
from tests.core import jws
from tests.core.adversarial import payload, refused, signed, verify
from tests.core.conftest import key_for


# --- members that name another key (RFC 7515 §4.1.2-4.1.8) ---------------------------------


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("jku", "https://attacker.example/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("x5c", ["MIIBszCCAVmgAwIBAgIUY2VydA=="]),
        ("x5t", "dGh1bWJwcmludA"),
        ("x5t#S256", "dGh1bWJwcmludC1zaGEyNTYtdGh1bWJwcmludC1zaGE"),
        ("jku", None),  # present at all, even null
    ],
)
def test_a_second_key_beside_jwk_is_refused(member: str, value: Any) -> None:
    key = key_for("ES256")
    refused(signed(key, {member: value}), "names another key than jwk")
    verify(signed(key))  # control


@pytest.mark.parametrize("member", ["x5u", "x5c", "x5t", "x5t#S256"])
def test_a_certificate_inside_the_jwk_is_refused(member: str) -> None:
    key = key_for("ES256")
    refused(signed(key, jwk={**key.public_jwk, member: "AAAA"}), "certificate or key URL")
    verify(signed(key, jwk={**key.public_jwk, "kid": "k-1"}))  # control: kid is only a name


# --- b64 and crit (RFC 7797, RFC 7515 §4.1.11) ----------------------------------------------


@pytest.mark.parametrize("value", [False, "false", 0, None, "true", 1])
def test_b64_other_than_true_is_refused(value: Any) -> None:
    key = key_for("ES256")
    refused(signed(key, {"b64": value}), "b64 header parameter")
    verify(signed(key, {"b64": True}))  # control: the default, spelled out


def test_unencoded_payload_with_crit_b64_is_refused_as_crit() -> None:
    # RFC 7797 §6: b64 false goes with crit ["b64"]; no extension is understood here.
    key = key_for("ES256")
    header = jws.header_for(key, b64=False, crit=["b64"])
    header_segment = jws.encode_json(header)
    unencoded = json.dumps(payload(), separators=(",", ":"))
    refused(jws.sign(key, header_segment, jws.encode_json(payload())), "crit")
    refused(jws.sign(key, header_segment, unencoded), "More than one DPoP proof")  # its commas
    verify(signed(key))


@pytest.mark.parametrize("member", ["enc", "zip"])
def test_jwe_members_are_refused(member: str) -> None:
    key = key_for("ES256")
    refused(signed(key, {member: "DEF" if member == "zip" else "A256GCM"}), "JWE parameters")
    verify(signed(key, {"cty": "application/example"}))  # control: other members are ignored


@pytest.mark.parametrize("kid", [1, None, ["k"], {"k": 1}, True])
def test_kid_must_be_a_string(kid: Any) -> None:
    key = key_for("ES256")
    refused(signed(key, {"kid": kid}), "kid is not a string")
    verify(signed(key, {"kid": "2026-12-01"}))


# --- the jwk's own use, key_ops and alg (RFC 7517 §4.2-4.4) ---------------------------------


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ({"use": "enc"}, "use is not sig"),
        ({"use": None}, "use is not sig"),
        ({"key_ops": ["sign"]}, "key_ops"),
        ({"key_ops": ["encrypt", "wrapKey"]}, "key_ops"),
        ({"key_ops": "verify"}, "key_ops"),
        ({"key_ops": ["verify", 1]}, "key_ops"),
        ({"key_ops": []}, "key_ops"),
        ({"alg": "ES384"}, "jwk header alg does not match"),
        ({"alg": "none"}, "jwk header alg does not match"),
        ({"alg": None}, "jwk header alg does not match"),
    ],
)
def test_jwk_that_is_not_for_this_signature_is_refused(members: dict[str, Any], match: str) -> None:
    key = key_for("ES256")
    refused(signed(key, jwk={**key.public_jwk, **members}), match)
    verify(signed(key, jwk={**key.public_jwk, "use": "sig", "key_ops": ["verify"], "alg": "ES256"}))


# --- alg against the key (RFC 9449 §4.3 check 5, RFC 7518 §3.4, RFC 8037 §3.1, RFC 9864 §2.2) ---


@pytest.mark.parametrize(
    ("alg", "key_alg"),
    [
        ("Ed25519", "Ed448"),
        ("Ed448", "Ed25519"),
        ("Ed25519", "ES256"),
        ("Ed448", "RS256"),
        ("EdDSA", "ES256"),
        ("ES256", "ES384"),
        ("ES384", "ES256"),
        ("ES512", "ES384"),
        ("ES256", "Ed25519"),
        ("RS256", "ES256"),
        ("PS256", "Ed448"),
    ],
)
def test_alg_that_does_not_fit_the_key_is_refused(alg: str, key_alg: str) -> None:
    key = key_for(key_alg)
    # Signed with the key's own algorithm: only the header's claim about it is wrong.
    refused(signed(key, {"alg": alg}), "key type does not match alg")
    verify(signed(key))  # control: the same key under its own name


@pytest.mark.parametrize(
    ("alg", "crv"), [("Ed25519", "Ed25519"), ("Ed448", "Ed448"), ("EdDSA", "Ed25519"), ("EdDSA", "Ed448")]
)
def test_fully_specified_and_polymorphic_eddsa_accepted(alg: str, crv: str) -> None:
    key = key_for(crv)
    verified = verify(signed(key, {"alg": alg}))
    assert verified.alg == alg and verified.jwk["crv"] == crv


def test_fully_specified_eddsa_is_allowed_and_advertised_by_default() -> None:
    assert {"Ed25519", "Ed448", "EdDSA"} <= set(DEFAULT_ALGORITHMS)
    assert DEFAULT_ALGORITHMS.index("Ed25519") < DEFAULT_ALGORITHMS.index("EdDSA")  # preferred


def test_each_eddsa_name_is_its_own_policy_entry() -> None:
    only_eddsa = ProofPolicy(allowed_algorithms=("EdDSA",))
    only_ed25519 = ProofPolicy(allowed_algorithms=("Ed25519",))
    key = key_for("Ed25519")
    refused(signed(key, {"alg": "Ed25519"}), "alg is not allowed", policy=only_eddsa)
    refused(signed(key, {"alg": "EdDSA"}), "alg is not allowed", policy=only_ed25519)
    verify(signed(key, {"alg": "Ed25519"}), policy=only_ed25519)
    verify(signed(key, {"alg": "EdDSA"}), policy=only_eddsa)


@pytest.mark.parametrize(
    "alg", ["ed25519", "ED25519", "Ed25519 ", "ES521", "EdDSA25519", "HS256", "none", ""]
)
def test_alg_names_are_exact(alg: str) -> None:
    # Case-sensitive (RFC 7515 §4.1.1); pyjwt's ES521 alias is no registered name.
    key = key_for("Ed25519")
    refused(signed(key, {"alg": alg}), "alg is not allowed")
    verify(signed(key, {"alg": "Ed25519"}))


def test_ed448_signature_under_ed25519_header_with_ed448_key_refused() -> None:
    # The curve is pinned by the name: an Ed448 key cannot hide behind Ed25519 whatever it signs.
    key = key_for("Ed448")
    proof = jws.compact(key, jws.header_for(key, alg="Ed25519"), payload(), alg="EdDSA")
    refused(proof, "key type does not match alg")
    verify(jws.compact(key, jws.header_for(key, alg="Ed448"), payload(), alg="EdDSA"))


# 64 octets (ES256, Ed25519) and 256 (RS256) leave 4 unused bits in the last character; 114
# (Ed448) leave none.
@pytest.mark.parametrize("alg", ["ES256", "Ed25519", "RS256"])
def test_signature_with_non_canonical_base64url_is_refused(alg: str) -> None:
    # RFC 4648 §3.5: the same signature octets with the last character's unused bits set.
    proof = signed(key_for(alg))
    head, _, signature = proof.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    variant = alphabet[alphabet.index(signature[-1]) | 1]
    assert base64url_decode(signature[:-1] + variant) == base64url_decode(signature)
    refused(f"{head}.{signature[:-1]}{variant}", "signature is invalid")
    verify(proof)  # control
