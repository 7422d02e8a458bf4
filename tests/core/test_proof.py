"""``verify_proof``: one group per check of RFC 9449 §4.3, each refusal beside a control that passes.

Proofs are signed with pyjwt (``tests.factories.make_proof``, or ``tests.core.jws`` when the header
must lie about how the proof was signed). Every refusal asserts the exact error class, so another
exception type escaping the verifier fails the test.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

from django_dpop.core import (
    DPoPError,
    InvalidDPoPProof,
    NonceStatus,
    ProofPolicy,
    ReplayedProof,
    StoreUnavailable,
    UseDPoPNonce,
    VerifiedProof,
    compute_ath,
    verify_proof,
)
from django_dpop.core import proof as proof_module
from tests.core import jws
from tests.core.conftest import key_for
from tests.factories import TestKey, make_key, make_proof


NOW = 1_700_000_000
URL = "https://server.example.com/resource"
POLICY = ProofPolicy()  # max_age 300, clock_skew 60, the default algorithms
WINDOW_START = NOW - POLICY.max_age - POLICY.clock_skew
WINDOW_END = NOW + POLICY.clock_skew
TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"


def proof_for(key: TestKey, htm: str = "GET", htu: str = URL, **kwargs: Any) -> str:
    kwargs.setdefault("iat", NOW)
    return make_proof(key, htm, htu, **kwargs)


def jws_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify(proof: Any, **kwargs: Any) -> VerifiedProof:
    kwargs.setdefault("method", "GET")
    kwargs.setdefault("url", URL)
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("policy", POLICY)
    return verify_proof(proof, **kwargs)


def refused(
    proof: Any, error: type[DPoPError] = InvalidDPoPProof, match: str | None = None, **kwargs: Any
) -> DPoPError:
    """Assert that ``proof`` is refused with exactly ``error`` (not a subclass, nothing else)."""
    with pytest.raises(DPoPError, match=match) as excinfo:
        verify(proof, **kwargs)
    assert type(excinfo.value) is error, repr(excinfo.value)
    return excinfo.value


def signed(key: TestKey, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A proof assembled by hand: ``header`` members override the key's, ``claims`` the defaults."""
    payload: dict[str, Any] = {"jti": "jti-0001", "htm": "GET", "htu": URL, "iat": NOW}
    payload.update(claims)
    return jws.compact(key, jws.header_for(key, **(header or {})), payload)


class MemoryReplayStore:
    """A dict-backed ReplayStore that records what it was asked."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}

    def check_and_add(self, key: str, expires_at: int) -> bool:
        if key in self.entries:
            return False
        self.entries[key] = expires_at
        return True


# --- controls -------------------------------------------------------------------------------


def test_valid_proof_returns_what_callers_bind(es256: TestKey) -> None:
    proof = proof_for(es256, jti="jti-0001", access_token=TOKEN)
    verified = verify(proof, access_token=TOKEN)
    assert verified.jkt == es256.jkt
    assert (verified.jti, verified.htm, verified.htu, verified.iat, verified.alg) == (
        "jti-0001",
        "GET",
        URL,
        NOW,
        "ES256",
    )
    assert dict(verified.jwk) == es256.public_jwk
    assert verified.claims["ath"] == compute_ath(TOKEN)
    assert verified.nonce is None and verified.nonce_stale is False
    assert verified.expires_at == NOW + POLICY.max_age + POLICY.clock_skew
    expected_key = hashlib.sha256(f"{es256.jkt}\n{URL}\njti-0001".encode()).hexdigest()
    assert verified.replay_key == expected_key


def test_verified_proof_is_read_only(es256: TestKey) -> None:
    verified = verify(proof_for(es256))
    with pytest.raises(AttributeError):
        verified.jkt = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        verified.claims["htm"] = "POST"  # type: ignore[index]
    with pytest.raises(TypeError):
        verified.jwk["x"] = "other"  # type: ignore[index]


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256"])
def test_every_default_algorithm_verifies(alg: str) -> None:
    key = key_for(alg)
    verified = verify(proof_for(key))
    assert verified.alg == alg
    assert verified.jkt == key.jkt


def test_ed448_verifies() -> None:
    private = ed448.Ed448PrivateKey.generate()
    key = TestKey("EdDSA", private, json.loads(OKPAlgorithm.to_jwk(private.public_key())))
    assert verify(proof_for(key)).jkt == key.jkt


# --- check 1: one DPoP header -----------------------------------------------------------------


@pytest.mark.parametrize("separator", [",", ", ", " ,"])
def test_check1_comma_joined_headers_refused(es256: TestKey, separator: str) -> None:
    first, second = proof_for(es256, jti="a"), proof_for(es256, jti="b")
    refused(first + separator + second, match="More than one")
    verify(first)  # control


# --- check 2: one well-formed compact JWS ---------------------------------------------------


def _not_compact(proof: str) -> list[str]:
    header, payload, signature = proof.split(".")
    return [
        f"{header}.{payload}",  # two segments
        f"{header}.{payload}.{signature}.{signature}",  # four
        f"{header}.{payload}.{signature}.{payload}.{signature}",  # five, the shape of a JWE
        f"{header}..{signature}",  # empty payload
        f".{payload}.{signature}",  # empty header
        f"{header}.{payload}.",  # empty signature (an unsecured JWS)
        f"{header}.{payload}.{signature}=",  # padding is not base64url
        f"{header}.{payload}+.{signature}",  # the standard alphabet is not base64url
        f"{header}.{payload}/.{signature}",
        f"{header}.{payload}.{signature[:-1]}!",
        f"{header}.{payload} .{signature}",
        f" {proof}",
        f"{proof}\n",
        f"{header}.{payload[:-1]}\n{payload[-1]}.{signature}",
        f"{header}.{payload}xy.{signature}",  # not the payload that was signed
        "invalid",
        "..",
        ".",
    ]


def test_check2_not_a_compact_jws_refused(es256: TestKey) -> None:
    proof = proof_for(es256)
    for bad in _not_compact(proof):
        refused(bad)
    verify(proof)  # control


@pytest.mark.parametrize("value", [None, "", b"", 1, ["a.b.c"]])
def test_check2_missing_proof_refused(value: Any) -> None:
    refused(value, match="missing")


def test_check2_oversize_proof_refused_before_parsing(es256: TestKey) -> None:
    proof = proof_for(es256, claims={"pad": "x" * 200})
    refused(proof, match="too large", policy=ProofPolicy(max_proof_length=len(proof) - 1))
    verify(proof, policy=ProofPolicy(max_proof_length=len(proof)))  # the limit itself passes


def test_check2_non_ascii_refused(es256: TestKey) -> None:
    proof = proof_for(es256)
    refused(proof[:10] + "é" + proof[11:])
    refused(proof[:10] + "\uff21" + proof[11:])  # a fullwidth "A"


# --- check 3: required claims with their types --------------------------------------------------


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
def test_check3_missing_claim_refused(es256: TestKey, claim: str) -> None:
    refused(proof_for(es256, drop=(claim,)), match=claim)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("jti", ""),
        ("jti", 1),
        ("jti", None),
        ("jti", ["a"]),
        ("jti", {"a": 1}),
        ("htm", ""),
        ("htm", 1),
        ("htm", ["GET"]),
        ("htu", ""),
        ("htu", 1),
        ("htu", [URL]),
        ("htu", {"url": URL}),
        ("htu", None),
        ("iat", str(NOW)),
        ("iat", True),
        ("iat", None),
        ("iat", [NOW]),
        ("iat", float("nan")),  # json.dumps writes NaN, which is not JSON
        ("iat", float("inf")),
    ],
)
def test_check3_claim_of_wrong_type_refused(es256: TestKey, claim: str, value: Any) -> None:
    refused(proof_for(es256, claims={claim: value}))


def test_check3_jti_length_limit(es256: TestKey) -> None:
    limit = POLICY.max_jti_length
    refused(proof_for(es256, jti="j" * (limit + 1)), match="jti is too long")
    assert verify(proof_for(es256, jti="j" * limit)).jti == "j" * limit


@pytest.mark.parametrize("iat", [10**400, -(10**400), 1e300, 253402300800, -1])
def test_check3_iat_out_of_numericdate_range_refused_before_the_window(es256: TestKey, iat: float) -> None:
    # Out of range is no date at all: refused as such, even when nonces are required (no
    # use_dpop_nonce round trip for a value no clock can reach).
    refused(proof_for(es256, iat=iat), match="not a NumericDate")
    refused(
        proof_for(es256, iat=iat),
        match="not a NumericDate",
        policy=ProofPolicy(nonce_required=True),
        nonce_checker=lambda nonce: NonceStatus.CURRENT,
    )


def test_check3_fractional_iat_accepted_and_floored(es256: TestKey) -> None:
    verified = verify(proof_for(es256, iat=NOW + 0.75))
    assert verified.iat == NOW
    # The replay entry lasts as long as the proof is acceptable: rounded up, not down.
    assert verified.expires_at == NOW + 1 + POLICY.max_age + POLICY.clock_skew


# --- check 4: typ ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typ", ["JWT", "jwt", "secevent+jwt", "at+jwt", "dpop", "dpop+jwt ", "", 1, None, ["dpop+jwt"]]
)
def test_check4_wrong_typ_refused(es256: TestKey, typ: Any) -> None:
    refused(signed(es256, {"typ": typ}), match="typ")


def test_check4_missing_typ_refused(es256: TestKey) -> None:
    header = jws.header_for(es256)
    del header["typ"]
    refused(jws.compact(es256, header, jws.claims(iat=NOW)), match="typ")


@pytest.mark.parametrize(
    "typ", ["dpop+jwt", "DPOP+JWT", "DPoP+JWT", "application/dpop+jwt", "Application/DPoP+JWT"]
)
def test_check4_typ_compares_as_a_media_type(es256: TestKey, typ: str) -> None:
    # Pinned: RFC 7515 §4.1.9, media types are case-insensitive and "application/" may be omitted.
    verify(signed(es256, {"typ": typ}))


# --- check 5: alg ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alg", ["none", "None", "HS256", "HS512", "ES999", "RSA-OAEP", "", 1, True, None, ["ES256"]]
)
def test_check5_alg_refused(es256: TestKey, alg: Any) -> None:
    # A valid ES256 signature: only the header's alg is wrong.
    refused(signed(es256, {"alg": alg}), match="alg is not allowed")


def test_check5_missing_alg_refused(es256: TestKey) -> None:
    header = jws.header_for(es256)
    del header["alg"]
    refused(jws.compact(es256, header, jws.claims(iat=NOW)), match="alg")


def test_check5_hmac_keyed_with_the_public_jwk_refused(es256: TestKey) -> None:
    # The classic key-confusion forgery: HS256 with the public key's JSON as the secret.
    header = jws.encode_json(jws.header_for(es256, alg="HS256"))
    payload = jws.encode_json(jws.claims(iat=NOW))
    secret = json.dumps(es256.public_jwk).encode()
    signature = HMACAlgorithm(HMACAlgorithm.SHA256).sign(f"{header}.{payload}".encode(), secret)
    refused(f"{header}.{payload}.{jws.b64(signature)}", match="alg")


def test_check5_hmac_refused_even_if_a_policy_was_forced_to_allow_it(es256: TestKey) -> None:
    # Defence in depth (§11.6): the verifier refuses none and HS* itself, even when a policy's
    # algorithm set was tampered with past ProofPolicy's own validation.
    policy = ProofPolicy()
    object.__setattr__(policy, "algorithm_set", policy.algorithm_set | {"HS256", "none"})
    header = jws.encode_json(jws.header_for(es256, alg="HS256"))
    payload = jws.encode_json(jws.claims(iat=NOW))
    secret = json.dumps(es256.public_jwk).encode()
    signature = HMACAlgorithm(HMACAlgorithm.SHA256).sign(f"{header}.{payload}".encode(), secret)
    refused(f"{header}.{payload}.{jws.b64(signature)}", match="alg", policy=policy)
    unsigned = jws.encode_json(jws.header_for(es256, alg="none"))
    refused(f"{unsigned}.{payload}.AA", match="alg", policy=policy)
    assert verify(proof_for(es256), policy=policy).jkt == es256.jkt  # control


def test_check5_unsigned_proof_refused(es256: TestKey) -> None:
    header = jws.encode_json(jws.header_for(es256, alg="none"))
    payload = jws.encode_json(jws.claims(iat=NOW))
    refused(f"{header}.{payload}.", match="compact JWS")
    refused(f"{header}.{payload}.AA", match="alg")


def test_check5_alg_outside_the_policy_refused() -> None:
    key = key_for("RS256")
    proof = proof_for(key)
    refused(proof, match="alg is not allowed", policy=ProofPolicy(allowed_algorithms=("ES256",)))
    verify(proof, policy=ProofPolicy(allowed_algorithms=("RS256",)))  # control
    # The header cache must not carry an acceptance from one policy to another.
    refused(proof, match="alg is not allowed", policy=ProofPolicy(allowed_algorithms=("ES256",)))


@pytest.mark.parametrize(
    ("alg", "key_alg"),
    [
        ("ES256", "RS256"),  # ES256 with an RSA jwk
        ("ES256", "ES384"),  # ES256 with a P-384 key
        ("ES384", "ES256"),
        ("ES512", "ES256"),
        ("EdDSA", "ES256"),
        ("RS256", "ES256"),
        ("PS256", "EdDSA"),
    ],
)
def test_check5_key_type_or_curve_mismatch_refused(alg: str, key_alg: str) -> None:
    key = key_for(key_alg)
    # Signed by the key itself with its own algorithm: only the header's alg disagrees.
    refused(jws.compact(key, jws.header_for(key, alg=alg), jws.claims(iat=NOW)), match="key type")


# --- check 6: signature --------------------------------------------------------------------


def test_check6_tampered_payload_refused(es256: TestKey) -> None:
    header, _, signature = proof_for(es256, jti="original").split(".")
    payload = jws.encode_json({"jti": "forged", "htm": "GET", "htu": URL, "iat": NOW})
    refused(f"{header}.{payload}.{signature}", match="signature")


def test_check6_tampered_header_refused(es256: TestKey) -> None:
    # Another typ spelling gives another header segment: the signature covers the header too.
    _, payload, signature = proof_for(es256).split(".")
    header = jws.encode_json(jws.header_for(es256, typ="application/dpop+jwt"))
    refused(f"{header}.{payload}.{signature}", match="signature")


def test_check6_signed_by_another_key_refused(es256: TestKey) -> None:
    impostor = TestKey("ES256", ec.generate_private_key(ec.SECP256R1()), es256.public_jwk)
    refused(make_proof(impostor, "GET", URL, iat=NOW), match="signature")  # es256's jwk, another signer
    verify(make_proof(es256, "GET", URL, iat=NOW))  # control


@pytest.mark.parametrize("alg", ["ES256", "ES512", "EdDSA", "PS256", "RS256"])
def test_check6_short_long_and_garbage_signatures_refused(alg: str) -> None:
    key = key_for(alg)
    proof = proof_for(key)
    header, payload, signature = proof.split(".")
    raw = jws.b64(b"\x00" * 64)
    for bad in (signature[:-4], signature + "AAAA", "AA", raw, jws.b64(b"\xff" * 512)):
        refused(f"{header}.{payload}.{bad}", match="signature")
    verify(proof)  # control


def test_check6_ecdsa_signature_in_der_refused(es256: TestKey) -> None:
    # RFC 7518 §3.4: ES256 signatures are raw R || S; the DER form pyjwt would convert is refused.
    from cryptography.hazmat.primitives import hashes

    header = jws.encode_json(jws.header_for(es256))
    payload = jws.encode_json(jws.claims(iat=NOW))
    der = es256.private_key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    refused(f"{header}.{payload}.{jws.b64(der)}", match="signature")


# --- check 7: jwk ------------------------------------------------------------------------


@pytest.mark.parametrize("jwk", ["", 1, True, None, "foo", [], [1], "{}"])
def test_check7_jwk_not_an_object_refused(es256: TestKey, jwk: Any) -> None:
    refused(signed(es256, {"jwk": jwk}), match="jwk")


def test_check7_missing_jwk_refused(es256: TestKey) -> None:
    header = jws.header_for(es256)
    del header["jwk"]
    refused(jws.compact(es256, header, jws.claims(iat=NOW)), match="jwk")


def _private_jwk(key: TestKey) -> dict[str, Any]:
    algorithm = {"EC": ECAlgorithm, "RSA": RSAAlgorithm}[key.public_jwk["kty"]]
    return json.loads(algorithm.to_jwk(key.private_key))


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_check7_private_key_refused(alg: str) -> None:
    key = key_for(alg)
    refused(signed(key, {"jwk": _private_jwk(key)}), match="private")


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
def test_check7_any_private_member_refused(es256: TestKey, member: str) -> None:
    refused(signed(es256, {"jwk": {**es256.public_jwk, member: "AQAB"}}), match="private")


def test_check7_private_okp_key_refused() -> None:
    key = key_for("EdDSA")
    refused(signed(key, {"jwk": json.loads(OKPAlgorithm.to_jwk(key.private_key))}), match="private")


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "oct"},
        {"kty": "XYZ", "x": "AQAB"},
        {"kty": 1},
        {"kty": ["EC"]},
        {"crv": "P-256", "x": "AQAB", "y": "AQAB"},
    ],
)
def test_check7_symmetric_or_unknown_key_type_refused(es256: TestKey, jwk: dict[str, Any]) -> None:
    refused(signed(es256, {"jwk": jwk}), match="jwk")


@pytest.mark.parametrize(
    "change",
    [
        {"x": "AB!!CD"},  # pyjwt's decoder would skip the foreign characters
        {"x": "AB+/CD"},
        {"x": "ABCD=="},
        {"x": ""},
        {"x": 1},
        {"y": None},
        {"crv": 1},
        {"crv": ["P-256"]},
        {"crv": "P-257"},
    ],
)
def test_check7_malformed_ec_members_refused(es256: TestKey, change: dict[str, Any]) -> None:
    refused(signed(es256, {"jwk": {**es256.public_jwk, **change}}), match="jwk")


def test_check7_point_not_on_the_curve_refused(es256: TestKey) -> None:
    jwk = dict(es256.public_jwk)
    jwk["y"] = jwk["x"]
    refused(signed(es256, {"jwk": jwk}), match="not a valid key")


def test_check7_small_rsa_key_refused() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    key = TestKey("RS256", private, json.loads(RSAAlgorithm.to_jwk(private.public_key())))
    proof = jws.compact(key, jws.header_for(key), jws.claims(iat=NOW))
    refused(proof, match="too small")
    verify(proof, policy=ProofPolicy(min_rsa_bits=1024))  # the policy decides


def test_check7_extra_jwk_members_ignored(es256: TestKey) -> None:
    jwk = {**es256.public_jwk, "kid": "k1", "use": "sig", "alg": "ES256", "ext": True}
    verified = verify(signed(es256, {"jwk": jwk}))
    assert verified.jkt == es256.jkt  # RFC 7638 hashes only the required members


# --- check 8: htm ------------------------------------------------------------------------


@pytest.mark.parametrize("htm", ["get", "Get", "POST", "GET ", "HEAD"])
def test_check8_method_mismatch_refused(es256: TestKey, htm: str) -> None:
    refused(proof_for(es256, htm=htm), match="htm")
    assert verify(proof_for(es256, htm=htm), method=htm).htm == htm  # control


# --- check 9: htu ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("htu", "url"),
    [
        (URL, URL + "?query=1"),  # query and fragment ignored, either side
        (URL + "?query=1", URL),
        (URL + "#fragment", URL + "?a=b"),
        ("HTTPS://Server.Example.COM/resource", URL),  # scheme and host case
        ("https://server.example.com:443/resource", URL),  # default port
        ("http://server.example.com:80/resource", "http://server.example.com/resource"),
        ("https://server.example.com/%7Eme", "https://server.example.com/~me"),  # unreserved decoded
        ("https://server.example.com/a%2fb", "https://server.example.com/a%2Fb"),  # hex case
        ("https://server.example.com/a/../resource", URL),  # dot segments
        ("https://server.example.com/./resource", URL),
        ("https://server.example.com", "https://server.example.com/"),  # empty path is "/"
        ("https://server.example.com/caf%C3%A9", "https://server.example.com/café"),  # IRI
        ("https://[::1]:443/x", "https://[::1]/x"),  # an IP literal keeps its brackets
    ],
)
def test_check9_equivalent_uris_accepted(es256: TestKey, htu: str, url: str) -> None:
    verify(proof_for(es256, htu=htu), url=url)


@pytest.mark.parametrize(
    ("htu", "url"),
    [
        ("https://server.example.com/other", URL),  # path
        ("https://server.example.com/Resource", URL),  # path case is significant
        ("https://server.example.com/resource/", URL),  # so is a trailing slash
        ("https://server.example.com//resource", URL),
        ("http://server.example.com/resource", URL),  # scheme
        ("https://server.example.com:8443/resource", URL),  # port
        ("https://server.example.com:80/resource", URL),  # http's default port is not https's
        ("https://evil.example.com/resource", URL),  # host
        ("https://server.example.com/a%2Fb", "https://server.example.com/a/b"),  # %2F is not "/"
    ],
)
def test_check9_different_uris_refused(es256: TestKey, htu: str, url: str) -> None:
    refused(proof_for(es256, htu=htu), url=url, match="htu does not match")
    verify(proof_for(es256, htu=url), url=url)  # control


@pytest.mark.parametrize(
    "htu",
    [
        "/resource",
        "server.example.com/resource",
        "urn:example:resource",
        "ftp://server.example.com/resource",
        "https:///resource",
        "https://user:pass@server.example.com/resource",
        "https://user@server.example.com/resource",
        "https://server.example.com:99999/resource",
        "https://server.example.com:-1/resource",
        "https://server.example.com:٤٤٣/resource",
        "https://server.example.com/re source",
        "https://server.example.com/re\\source",
        "https://server.example.com/\x00",
        "https://[::1/resource",
        "https://server.example.com/" + "a" * 5000,
    ],
)
def test_check9_htu_not_an_absolute_http_uri_refused(es256: TestKey, htu: str) -> None:
    refused(proof_for(es256, htu=htu), match="htu")


# --- check 10: nonce -----------------------------------------------------------------------


NONCE_POLICY = ProofPolicy(nonce_required=True)
NONCES = {"current-nonce": NonceStatus.CURRENT, "older-nonce": NonceStatus.VALID}


def check_nonce(nonce: str) -> NonceStatus:
    return NONCES.get(nonce, NonceStatus.INVALID)


def verify_with_nonces(proof: str, **kwargs: Any) -> VerifiedProof:
    return verify(proof, policy=NONCE_POLICY, nonce_checker=check_nonce, **kwargs)


def test_check10_current_nonce_accepted(es256: TestKey) -> None:
    verified = verify_with_nonces(proof_for(es256, nonce="current-nonce"))
    assert (verified.nonce, verified.nonce_stale) == ("current-nonce", False)


def test_check10_older_nonce_accepted_but_stale(es256: TestKey) -> None:
    verified = verify_with_nonces(proof_for(es256, nonce="older-nonce"))
    assert (verified.nonce, verified.nonce_stale) == ("older-nonce", True)


@pytest.mark.parametrize("nonce", [None, "unknown", "", 'has"quote', "has space", "x" * 300])
def test_check10_missing_or_invalid_nonce_asks_for_one(es256: TestKey, nonce: str | None) -> None:
    proof = proof_for(es256) if nonce is None else proof_for(es256, claims={"nonce": nonce})
    refused(proof, UseDPoPNonce, policy=NONCE_POLICY, nonce_checker=check_nonce)


@pytest.mark.parametrize("nonce", [1, True, ["current-nonce"], {"n": 1}])
def test_check10_nonce_of_wrong_type_refused(es256: TestKey, nonce: Any) -> None:
    refused(
        proof_for(es256, claims={"nonce": nonce}),
        InvalidDPoPProof,
        policy=NONCE_POLICY,
        nonce_checker=check_nonce,
    )


@pytest.mark.parametrize("iat", [WINDOW_START - 1, WINDOW_END + 1])
def test_check10_stale_iat_with_nonces_asks_for_a_fresh_proof(es256: TestKey, iat: int) -> None:
    refused(
        proof_for(es256, iat=iat, nonce="current-nonce"),
        UseDPoPNonce,
        match="iat",
        policy=NONCE_POLICY,
        nonce_checker=check_nonce,
    )


def test_check10_nonce_errors_come_after_the_signature(es256: TestKey) -> None:
    # A forged proof is refused as such; only a genuine one is invited to retry with a nonce.
    header, payload, _ = proof_for(es256, iat=WINDOW_START - 1).split(".")
    forged = f"{header}.{payload}.{jws.b64(b'0' * 64)}"
    refused(forged, InvalidDPoPProof, match="signature", policy=NONCE_POLICY, nonce_checker=check_nonce)


def test_check10_nonce_ignored_when_not_required(es256: TestKey) -> None:
    # Pinned: without DPOP_NONCE_REQUIRED the server never issued a nonce, so it checks none.
    for nonce in ("anything", 1, ["x"]):
        verified = verify(proof_for(es256, claims={"nonce": nonce}))
        assert verified.nonce is None and verified.nonce_stale is False


def test_check10_failing_nonce_store_refuses(es256: TestKey) -> None:
    def broken(nonce: str) -> NonceStatus:
        raise ConnectionError("database is down")

    refused(
        proof_for(es256, nonce="current-nonce"), StoreUnavailable, policy=NONCE_POLICY, nonce_checker=broken
    )
    refused(
        proof_for(es256, nonce="current-nonce"),
        StoreUnavailable,
        policy=NONCE_POLICY,
        nonce_checker=lambda nonce: True,  # not a NonceStatus: fail closed
    )


def test_check10_nonces_required_without_a_checker_is_a_caller_error(es256: TestKey) -> None:
    with pytest.raises(ValueError, match="nonce_checker"):
        verify(proof_for(es256, nonce="current-nonce"), policy=NONCE_POLICY)


# --- check 11: iat window ------------------------------------------------------------------


@pytest.mark.parametrize("iat", [WINDOW_START - 1, WINDOW_START - 0.5, WINDOW_END + 0.5, WINDOW_END + 1, 0])
def test_check11_iat_outside_the_window_refused(es256: TestKey, iat: float) -> None:
    refused(proof_for(es256, iat=iat), match="iat is outside")


@pytest.mark.parametrize("iat", [WINDOW_START, WINDOW_START + 0.5, NOW, WINDOW_END - 0.5, WINDOW_END])
def test_check11_iat_within_the_window_accepted(es256: TestKey, iat: float) -> None:
    verify(proof_for(es256, iat=iat))


def test_check11_window_follows_the_policy(es256: TestKey) -> None:
    policy = ProofPolicy(max_age=10, clock_skew=0)
    verify(proof_for(es256, iat=NOW - 10), policy=policy)
    refused(proof_for(es256, iat=NOW - 11), policy=policy, match="iat")
    refused(proof_for(es256, iat=NOW + 1), policy=policy, match="iat")


# --- check 12a: ath ------------------------------------------------------------------------


def test_check12_ath_of_the_presented_token_accepted(es256: TestKey) -> None:
    assert verify(proof_for(es256, access_token=TOKEN), access_token=TOKEN).claims["ath"] == compute_ath(
        TOKEN
    )


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"ath": compute_ath(TOKEN + "x")},
        {"ath": compute_ath(TOKEN)[:-1]},
        {"ath": 1},
        {"ath": None},
        {"ath": "é"},
    ],
)
def test_check12_missing_or_wrong_ath_refused(es256: TestKey, claims: dict[str, Any]) -> None:
    refused(proof_for(es256, claims=claims), match="ath", access_token=TOKEN)


def test_check12_ath_ignored_without_an_access_token(es256: TestKey) -> None:
    # At the token endpoint there is no token to hash: an ath claim is neither needed nor checked.
    verify(proof_for(es256, access_token="some other token"))
    verify(proof_for(es256))


@pytest.mark.parametrize("token", ["tökén", b"token", 1])
def test_check12_access_token_that_cannot_be_hashed_refused(es256: TestKey, token: Any) -> None:
    refused(proof_for(es256, access_token="token"), access_token=token)


# --- RFC 9449 §11.1: replay --------------------------------------------------------------------


def test_replay_second_use_refused(es256: TestKey) -> None:
    store = MemoryReplayStore()
    proof = proof_for(es256)
    verified = verify(proof, replay_store=store)
    assert store.entries == {verified.replay_key: NOW + POLICY.max_age + POLICY.clock_skew}
    refused(proof, ReplayedProof, replay_store=store)
    verify(proof_for(es256), replay_store=store)  # a new jti passes


def test_replay_entry_lives_until_the_proof_window_ends(es256: TestKey) -> None:
    # Measured from iat, not from now: a proof dated in the future stays recorded that much longer.
    store = MemoryReplayStore()
    verify(proof_for(es256, iat=WINDOW_END), replay_store=store)
    assert list(store.entries.values()) == [WINDOW_END + POLICY.max_age + POLICY.clock_skew]


def test_replay_key_is_in_the_context_of_key_and_uri(es256: TestKey) -> None:
    store = MemoryReplayStore()
    other_key = key_for("EdDSA")
    verify(proof_for(es256, jti="same"), replay_store=store)
    verify(proof_for(es256, jti="same", htu=URL + "2"), url=URL + "2", replay_store=store)
    verify(proof_for(other_key, jti="same"), replay_store=store)
    assert len(store.entries) == 3
    # The normalized URI: another spelling of the same URI is the same proof.
    refused(
        proof_for(es256, jti="same", htu=URL.upper().replace("/RESOURCE", "/resource")),
        ReplayedProof,
        replay_store=store,
    )


def test_replay_failed_proof_does_not_consume_its_jti(es256: TestKey) -> None:
    store = MemoryReplayStore()
    proof = proof_for(es256)
    refused(proof, match="htm", method="POST", replay_store=store)
    refused(proof, match="ath", access_token=TOKEN, replay_store=store)
    header, payload, _ = proof.split(".")
    refused(f"{header}.{payload}.{jws.b64(b'1' * 64)}", match="signature", replay_store=store)
    assert store.entries == {}
    verify(proof, replay_store=store)


def test_replay_failed_nonce_does_not_consume_its_jti(es256: TestKey) -> None:
    store = MemoryReplayStore()
    proof = proof_for(es256, nonce="unknown")
    refused(proof, UseDPoPNonce, policy=NONCE_POLICY, nonce_checker=check_nonce, replay_store=store)
    assert store.entries == {}


def test_replay_stale_proof_does_not_consume_its_jti(es256: TestKey) -> None:
    # A proof outside the window, refused (or answered with use_dpop_nonce when nonces are
    # required), leaves its key/htu/jti free for the client's fresh retry.
    store = MemoryReplayStore()
    for iat in (WINDOW_START - 1, WINDOW_END + 1):
        refused(proof_for(es256, iat=iat), match="iat", replay_store=store)
        stale = proof_for(es256, iat=iat, nonce="current-nonce")  # only the iat is wrong
        refused(
            stale,
            UseDPoPNonce,
            match="iat",
            policy=NONCE_POLICY,
            nonce_checker=check_nonce,
            replay_store=store,
        )
    assert store.entries == {}
    verify(proof_for(es256), replay_store=store)


class _BrokenStore:
    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer, self.error = answer, error

    def check_and_add(self, key: str, expires_at: int) -> Any:
        if self.error is not None:
            raise self.error
        return self.answer


@pytest.mark.parametrize(
    "store",
    [
        _BrokenStore(error=ConnectionError("redis is down")),
        _BrokenStore(error=RuntimeError("bug")),
        _BrokenStore(answer=None),  # forgot to return: never an acceptance
        _BrokenStore(answer=1),
        _BrokenStore(answer="yes"),
        object(),  # not a store at all
    ],
)
def test_replay_store_failure_refuses(es256: TestKey, store: Any) -> None:
    refused(proof_for(es256), StoreUnavailable, replay_store=store)


def test_replay_store_may_raise_a_core_error(es256: TestKey) -> None:
    refused(proof_for(es256), ReplayedProof, replay_store=_BrokenStore(error=ReplayedProof()))


# --- JOSE extensions and extra members -----------------------------------------------------------


@pytest.mark.parametrize("crit", [["exp"], ["b64"], [], "exp", None])
def test_unknown_crit_refused(es256: TestKey, crit: Any) -> None:
    refused(signed(es256, {"crit": crit, "exp": 1, "b64": True}), match="crit")


def test_extra_claims_and_headers_ignored(es256: TestKey) -> None:
    proof = signed(
        es256,
        {"kid": "key-1", "x-custom": {"nested": [1, 2]}, "cty": "unknown"},
        extra={"nested": {"deep": [None, True, 1.5]}},
        sub="someone",
        iss="client-1",
        exp=NOW + 60,  # honoured when present (tests/core/test_adversarial_claims.py), here in time
    )
    verified = verify(proof)
    assert verified.claims["sub"] == "someone"


@pytest.mark.parametrize("where", ["header", "payload"])
def test_duplicate_members_refused(es256: TestKey, where: str) -> None:
    header = json.dumps(jws.header_for(es256), separators=(",", ":"))
    payload = json.dumps(jws.claims(iat=NOW), separators=(",", ":"))
    if where == "header":
        header = header[:-1] + ',"typ":"JWT"}'
    else:
        payload = payload[:-1] + ',"htm":"POST"}'
    refused(jws.compact(es256, jws.b64(header), jws.b64(payload)), match="JSON")
    verify(
        jws.compact(
            es256, jws.b64(header.replace(',"typ":"JWT"', "")), jws.b64(payload.replace(',"htm":"POST"', ""))
        )
    )


def test_json_whitespace_accepted(es256: TestKey) -> None:
    # RFC 8259 §2: insignificant whitespace around values is still JSON.
    header = json.dumps(jws.header_for(es256), indent=2)
    payload = " \n" + json.dumps(jws.claims(iat=NOW), indent=1) + "\r\n\t"
    verify(jws.compact(es256, jws.b64(header), jws.b64(payload)))


# --- cheap checks before cryptography -------------------------------------------------------------


@pytest.fixture
def crypto_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the calls of the verifier's key construction and signature check (both wrapped,
    still the real cryptography)."""
    calls: list[str] = []
    build_key, check_signature = proof_module._public_key, proof_module._verify_signature

    def counted_build_key(header: Any, min_rsa_bits: int) -> Any:
        calls.append("key")
        return build_key(header, min_rsa_bits)

    def counted_check_signature(header: Any, signing_input: bytes, signature_segment: bytes) -> bool:
        calls.append("signature")
        return check_signature(header, signing_input, signature_segment)

    monkeypatch.setattr(proof_module, "_public_key", counted_build_key)
    monkeypatch.setattr(proof_module, "_verify_signature", counted_check_signature)
    return calls


def test_refusals_before_crypto_never_reach_the_signature(crypto_calls: list[str]) -> None:
    es256 = make_key("ES256")  # a key the header cache has never seen: its key is not built yet
    garbage = jws.b64(b"\x00" * 64)
    bad_headers = [
        {"typ": "JWT"},
        {"alg": "none"},
        {"alg": "HS256"},
        {"alg": "RS256"},
        {"jwk": {**es256.public_jwk, "d": "AQAB"}},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},
        {"crit": ["exp"]},
    ]
    for members in bad_headers:
        header = jws.encode_json(jws.header_for(es256, **members))
        payload = jws.encode_json(jws.claims(iat=NOW))
        error = refused(f"{header}.{payload}.{garbage}")
        assert "signature" not in error.description
    for claims, kwargs in [
        ({"jti": ""}, {}),
        ({"htm": "POST"}, {}),
        ({"htu": URL + "/other"}, {}),
        ({"iat": NOW - 3600}, {}),
        ({}, {"access_token": TOKEN}),
    ]:
        header = jws.encode_json(jws.header_for(es256))
        payload = jws.encode_json(jws.claims(**{"iat": NOW, **claims}))
        error = refused(f"{header}.{payload}.{garbage}", **kwargs)
        assert "signature" not in error.description
    assert crypto_calls == []
    verify(proof_for(es256))  # control: the key is built once, the signature checked once
    verify(proof_for(es256))
    assert crypto_calls == ["key", "signature", "signature"]


def test_a_key_that_cannot_be_built_is_refused_after_the_claims(es256: TestKey) -> None:
    jwk = {**es256.public_jwk, "y": es256.public_jwk["x"]}  # not a point of the curve
    refused(signed(es256, {"jwk": jwk}, htm="POST"), match="htm")
    refused(signed(es256, {"jwk": jwk}), match="not a valid key")
    refused(signed(es256, {"jwk": jwk}), match="not a valid key")  # failures are not cached


# --- ECDSA signature framing ----------------------------------------------------------------------


# RFC 7518 §3.4 / SEC 1: the order n of each curve's base point (r and s must be in [1, n - 1]).
_ORDERS = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
    ),
    "ES512": int(
        "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}
_CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


def test_curve_orders_are_right() -> None:
    # The orders below are what the edge-value tests rely on: n - 1 is a private key, n is not.
    for alg, n in _ORDERS.items():
        ec.derive_private_key(n - 1, _CURVES[alg])
        with pytest.raises(ValueError):
            ec.derive_private_key(n, _CURVES[alg])


@pytest.mark.parametrize(("alg", "size"), [("ES256", 32), ("ES384", 48), ("ES512", 66)])
def test_ecdsa_r_and_s_out_of_range_are_refused(alg: str, size: int) -> None:
    # RFC 7518 §3.4: R || S, each exactly ``size`` octets (P-521: 66). r or s of 0, of n or more,
    # or the wrong length never verify, whatever the framing; the untouched signature does.
    key, n, top = key_for(alg), _ORDERS[alg], 2 ** (8 * size) - 1
    proof = proof_for(key)
    head, payload, signature = proof.split(".")
    raw = jws_decode(signature)
    r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    assert verify(proof).jkt == key.jkt
    for bad_r, bad_s in [
        (0, s),
        (r, 0),
        (0, 0),
        (n, s),
        (r, n),
        (r + n, s),
        (r, s + n),
        (top, s),
        (r, top),
        (n - r, s),
    ]:
        if bad_r > top or bad_s > top:
            continue  # r + n does not always fit in ``size`` octets
        forged = bad_r.to_bytes(size, "big") + bad_s.to_bytes(size, "big")
        refused(f"{head}.{payload}.{jws.b64(forged)}", match="signature")
    # raw[:size] + b"\0" + raw[size:] still reads as the same (r, s) if split at ``size``: only
    # the exact length keeps a second spelling of one signature out.
    for forged in (
        raw[:-1],
        raw + b"\0",
        b"\0" + raw,
        raw[: size - 1] + raw[size:] + b"\0",
        raw[:size] + b"\0" + raw[size:],
        raw[:size] + b"\0" * size + raw[size:],
    ):
        refused(f"{head}.{payload}.{jws.b64(forged)}", match="signature")


@pytest.mark.parametrize(("alg", "size"), [("ES256", 32), ("ES384", 48), ("ES512", 66)])
def test_ecdsa_malleated_signature_is_still_a_replay(alg: str, size: int) -> None:
    # ECDSA is malleable: (r, n - s) verifies as well as (r, s). The replay key is over the key,
    # htu and jti, never the signature, so the twin of an accepted proof is a replay (§11.1).
    key, n = key_for(alg), _ORDERS[alg]
    proof = proof_for(key)
    head, payload, signature = proof.split(".")
    raw = jws_decode(signature)
    r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    twin = f"{head}.{payload}.{jws.b64(r.to_bytes(size, 'big') + (n - s).to_bytes(size, 'big'))}"
    store = MemoryReplayStore()
    assert verify(proof, replay_store=store).replay_key == verify(twin).replay_key
    refused(twin, ReplayedProof, replay_store=store)


def test_ecdsa_signatures_with_leading_zero_octets_verify() -> None:
    # About one ES256 signature in 128 has an r or s below 2**248; sign until both cases occur.
    key = key_for("ES256")
    seen = set()
    for attempt in range(4000):
        proof = proof_for(key, jti=f"j{attempt}")
        raw = jws_decode(proof.split(".")[2])
        short = {"r" if raw[0] == 0 else None, "s" if raw[32] == 0 else None} - {None}
        if short - seen:
            verify(proof)
            seen |= short
        if seen == {"r", "s"}:
            break
    assert seen == {"r", "s"}


def test_es256k_verifies_when_allowed() -> None:
    # secp256k1 (RFC 8812 §3.2) is not in the default list; a policy can allow it.
    private = ec.generate_private_key(ec.SECP256K1())
    key = TestKey("ES256K", private, json.loads(ECAlgorithm.to_jwk(private.public_key())))
    proof = jws.compact(key, jws.header_for(key), jws.claims(iat=NOW))
    refused(proof, match="alg is not allowed")
    assert verify(proof, policy=ProofPolicy(allowed_algorithms=("ES256K",))).jkt == key.jkt
    header, payload, _ = proof.split(".")
    refused(f"{header}.{payload}.{jws.b64(b'7' * 64)}", policy=ProofPolicy(allowed_algorithms=("ES256K",)))
