"""create_proof / dpop_headers: verified by the project's core and by pyjwt on its own."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import jwt
import pytest
from jwt.algorithms import OKPAlgorithm

from django_dpop.client import DPoPKey, InvalidProofInput, compute_ath, create_proof, dpop_headers, proof_htu
from django_dpop.core import InvalidDPoPProof, ProofPolicy, verify_proof


ALGS = ["ES256", "ES384", "ES512", "EdDSA", "Ed25519", "Ed448", "RS256", "PS256"]
POLICY = ProofPolicy()


@pytest.fixture(scope="module")
def keys() -> dict[str, DPoPKey]:
    return {alg: DPoPKey.generate(alg) for alg in ALGS}


def independent_decode(proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify with pyjwt alone, using the key from the proof's header (RFC 9449 §4.3 check 6)."""
    header = jwt.get_unverified_header(proof)
    if header["alg"] in ("Ed25519", "Ed448"):
        # RFC 9864 §2.2: pyjwt (<= 2.15) knows these only as EdDSA on the key's curve.
        assert header["jwk"]["crv"] == header["alg"]
        key = OKPAlgorithm.from_jwk(header["jwk"])
        claims = jwt.decode(proof, key=key, algorithms=["EdDSA"], options={"verify_signature": False})
        signing_input, _, signature = proof.rpartition(".")
        assert OKPAlgorithm().verify(signing_input.encode(), key, base64.urlsafe_b64decode(signature + "=="))
        return header, claims
    claims = jwt.decode(proof, key=jwt.PyJWK(header["jwk"]).key, algorithms=[header["alg"]])
    return header, claims


@pytest.mark.parametrize("alg", ALGS)
def test_proof_verifies_with_core_and_pyjwt(keys: dict[str, DPoPKey], alg: str) -> None:
    key = keys[alg]
    proof = create_proof(key, "POST", "https://as.example/o/token/")
    verified = verify_proof(
        proof, method="POST", url="https://as.example/o/token/", now=time.time(), policy=POLICY
    )
    assert verified.jkt == key.thumbprint
    assert verified.alg == alg
    header, claims = independent_decode(proof)
    assert header == {"typ": "dpop+jwt", "alg": alg, "jwk": key.public_jwk}
    assert set(claims) == {"jti", "htm", "htu", "iat"}
    assert claims["htm"] == "POST" and claims["htu"] == "https://as.example/o/token/"
    assert abs(claims["iat"] - time.time()) < 5


def test_jti_is_fresh_and_has_at_least_96_bits(keys: dict[str, DPoPKey]) -> None:
    jtis = [
        independent_decode(create_proof(keys["ES256"], "GET", "https://rs.example/"))[1]["jti"]
        for _ in range(200)
    ]
    assert len(set(jtis)) == 200
    for jti in jtis:
        raw = base64.urlsafe_b64decode(jti + "=" * (-len(jti) % 4))
        assert len(raw) * 8 >= 96


@pytest.mark.parametrize(
    ("url", "htu"),
    [
        ("https://rs.example/api/me/?a=1&b=2#frag", "https://rs.example/api/me/"),
        ("https://rs.example/api/me#frag", "https://rs.example/api/me"),
        ("HTTPS://RS.Example:443/Api/Me/", "https://rs.example/Api/Me/"),
        ("http://127.0.0.1:8000/o/token/?x", "http://127.0.0.1:8000/o/token/"),
        ("https://user:secret@rs.example/x", "https://rs.example/x"),
        ("https://rs.example", "https://rs.example/"),
        ("https://[::1]:8443/p", "https://[::1]:8443/p"),
    ],
)
def test_htu_has_no_query_fragment_or_userinfo(keys: dict[str, DPoPKey], url: str, htu: str) -> None:
    assert proof_htu(url) == htu
    proof = create_proof(keys["ES256"], "GET", url)
    assert independent_decode(proof)[1]["htu"] == htu
    # The server, comparing with its own view of the URL (which never has user information), accepts it.
    server_view = url.replace("user:secret@", "")
    verify_proof(proof, method="GET", url=server_view, now=time.time(), policy=POLICY)


@pytest.mark.parametrize(
    "url", ["", "/relative", "ftp://x/", "https://", "https://exa mple/", "https://h:99999/", 42]
)
def test_bad_urls_are_refused(keys: dict[str, DPoPKey], url: object) -> None:
    with pytest.raises(InvalidProofInput):
        create_proof(keys["ES256"], "GET", url)  # type: ignore[arg-type]


def test_ath_only_with_a_token(keys: dict[str, DPoPKey]) -> None:
    key = keys["ES256"]
    url = "https://rs.example/api/me/"
    without = independent_decode(create_proof(key, "GET", url))[1]
    assert "ath" not in without
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    proof = create_proof(key, "GET", url, access_token=token)
    claims = independent_decode(proof)[1]
    expected = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    assert claims["ath"] == expected == compute_ath(token)
    verify_proof(proof, method="GET", url=url, now=time.time(), policy=POLICY, access_token=token)
    with pytest.raises(InvalidDPoPProof, match="ath"):
        verify_proof(proof, method="GET", url=url, now=time.time(), policy=POLICY, access_token=token + "x")


def test_rfc9449_ath_example() -> None:
    # RFC 9449 §7.1 figure 13: the access token and the ath of its proof.
    assert (
        compute_ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
        == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


def test_nonce_only_when_given(keys: dict[str, DPoPKey]) -> None:
    key = keys["ES256"]
    assert "nonce" not in independent_decode(create_proof(key, "GET", "https://rs.example/"))[1]
    claims = independent_decode(
        create_proof(key, "GET", "https://rs.example/", nonce="eyJ7S_zG.eyJH0-Z.HX4w-7v")
    )[1]
    assert claims["nonce"] == "eyJ7S_zG.eyJH0-Z.HX4w-7v"


@pytest.mark.parametrize("nonce", ["", "has space", 'quote"', "x" * 257, 5])
def test_bad_nonce_is_refused(keys: dict[str, DPoPKey], nonce: object) -> None:
    with pytest.raises(InvalidProofInput, match="nonce"):
        create_proof(keys["ES256"], "GET", "https://rs.example/", nonce=nonce)  # type: ignore[arg-type]


@pytest.mark.parametrize("token", ["", "two words", "tök", "a\nb", 7])
def test_bad_token_is_refused_without_echo(keys: dict[str, DPoPKey], token: object) -> None:
    with pytest.raises(InvalidProofInput) as info:
        create_proof(keys["ES256"], "GET", "https://rs.example/", access_token=token)  # type: ignore[arg-type]
    if isinstance(token, str) and token:
        assert token not in str(info.value)


@pytest.mark.parametrize("method", ["", "GE T", None, "GET\r\n"])
def test_bad_method_is_refused(keys: dict[str, DPoPKey], method: object) -> None:
    with pytest.raises(InvalidProofInput, match="method"):
        create_proof(keys["ES256"], method, "https://rs.example/")  # type: ignore[arg-type]


def test_method_is_sent_upper_case(keys: dict[str, DPoPKey]) -> None:
    proof = create_proof(keys["ES256"], "patch", "https://rs.example/")
    verify_proof(proof, method="PATCH", url="https://rs.example/", now=time.time(), policy=POLICY)


def test_only_the_public_jwk_is_in_the_proof(keys: dict[str, DPoPKey]) -> None:
    for key in keys.values():
        proof = create_proof(key, "GET", "https://rs.example/", access_token="tok")
        header_segment, payload_segment, _ = proof.split(".")
        decoded = [
            json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
            for s in (header_segment, payload_segment)
        ]
        text = json.dumps(decoded)
        for name, value in key.to_jwk().items():
            if name in {"d", "p", "q", "dp", "dq", "qi"}:
                assert value not in text
        assert "jwk" not in decoded[1]


def test_iat_override(keys: dict[str, DPoPKey]) -> None:
    proof = create_proof(keys["ES256"], "GET", "https://rs.example/", iat=1_000_000)
    assert independent_decode(proof)[1]["iat"] == 1_000_000
    with pytest.raises(InvalidDPoPProof, match="iat"):
        verify_proof(proof, method="GET", url="https://rs.example/", now=time.time(), policy=POLICY)
    with pytest.raises(InvalidProofInput):
        create_proof(keys["ES256"], "GET", "https://rs.example/", iat="now")  # type: ignore[arg-type]


def test_key_must_be_a_dpop_key() -> None:
    with pytest.raises(InvalidProofInput, match="DPoPKey"):
        create_proof("key", "GET", "https://rs.example/")  # type: ignore[arg-type]


def test_dpop_headers(keys: dict[str, DPoPKey]) -> None:
    key = keys["ES256"]
    token_request = dpop_headers(key, "POST", "https://as.example/o/token/", nonce="abc")
    assert set(token_request) == {"DPoP"}
    assert independent_decode(token_request["DPoP"])[1]["nonce"] == "abc"
    resource = dpop_headers(key, "GET", "https://rs.example/api/me/", access_token="at-123")
    assert resource["Authorization"] == "DPoP at-123"
    verify_proof(
        resource["DPoP"],
        method="GET",
        url="https://rs.example/api/me/",
        now=time.time(),
        policy=POLICY,
        access_token="at-123",
    )


def test_header_segment_is_the_same_in_every_proof_of_a_key(keys: dict[str, DPoPKey]) -> None:
    # The server caches the parsed header and public key by this text (django_dpop.core.proof).
    key = keys["ES256"]
    segments = {create_proof(key, "GET", f"https://rs.example/{i}").split(".")[0] for i in range(5)}
    assert len(segments) == 1
    other = create_proof(keys["EdDSA"], "GET", "https://rs.example/").split(".")[0]
    assert other not in segments
