"""Property-based fuzzing of ``verify_proof`` (hypothesis; examples per test: tests/fuzzing.py).

Properties, over generated headers, claims, keys and raw bytes:

1. the verifier raises nothing but :class:`DPoPError` subclasses (a 500 is a bug);
2. it accepts a proof exactly when every check holds: each proof is generated from parts that
   are each either valid or broken (one check each, labelled by this test's own reading of the
   RFCs, not the verifier's), and the verdict must match: valid parts only -> accepted, any
   broken part -> ``InvalidDPoPProof``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jwt.utils import base64url_decode

from django_dpop.core import (
    DPoPError,
    InvalidDPoPProof,
    ProofPolicy,
    check_public_jwk,
    compute_ath,
    jwk_thumbprint,
    verify_proof,
)
from tests.core import jws
from tests.core.adversarial import NOW, URL
from tests.core.conftest import key_for
from tests.factories import TestKey
from tests.fuzzing import FUZZ, FUZZ_EACH, json_values


POLICY = ProofPolicy()
SKEW = POLICY.clock_skew
WINDOW_START, WINDOW_END = NOW - POLICY.max_age - SKEW, NOW + SKEW
MAX_DATE = 253402300799
TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
ABSENT: Any = object()
KEYS = {alg: key_for(alg) for alg in ("ES256", "Ed25519", "Ed448", "RS256")}
# The header alg names that verify what each key signs (RFC 9864 §2.2: EdDSA or the curve name).
VALID_ALGS = {
    "ES256": ["ES256"],
    "Ed25519": ["Ed25519", "EdDSA"],
    "Ed448": ["Ed448", "EdDSA"],
    "RS256": ["RS256"],
}
ALL_ALGS = [
    "ES256",
    "ES384",
    "ES512",
    "ES256K",
    "EdDSA",
    "Ed25519",
    "Ed448",
    "RS256",
    "PS256",
    "HS256",
    "none",
]
HEADER_NAMES = {
    "typ",
    "alg",
    "jwk",
    "crit",
    "b64",
    "kid",
    "jku",
    "x5u",
    "x5c",
    "x5t",
    "x5t#S256",
    "enc",
    "zip",
}
CLAIM_NAMES = {"jti", "htm", "htu", "iat", "exp", "nbf", "aud", "ath", "nonce"}
non_strings = st.none() | st.booleans() | st.integers() | st.lists(st.text(max_size=4), max_size=2)
EQUIVALENT_HTU = [
    URL,
    "https://SERVER.example.com/resource",
    "HTTPS://server.example.com:443/resource",
    URL + "?q=1",
    URL + "#f",
    "https://server.example.com/./resource",
    "https://server.example.com/%72esource",
]
OTHER_HTU = [
    "https://server.example.com/resource/",
    "https://server.example.com/Resource",
    "http://server.example.com/resource",
    "https://server.example.com:8443/resource",
    "https://other.example/resource",
    "https://server.example.com/resource/..",
]


def _part(
    valid: st.SearchStrategy[Any], broken: st.SearchStrategy[Any]
) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    return valid, broken


def _not_this_server(text: str) -> bool:
    return "server.example.com" not in text.lower() and "%" not in text


# Each claim: (strategy of valid values, strategy of values that break one check).
CLAIM_PARTS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    # RFC 9449 §4.2 / check 3, §11.1 (the policy's jti length limit).
    "jti": _part(
        st.text(min_size=1, max_size=64) | st.text(min_size=256, max_size=256),
        st.just("") | st.text(min_size=257, max_size=300) | non_strings | st.just(ABSENT),
    ),
    # Check 8: the method, exactly.
    "htm": _part(
        st.just("GET"), st.text(max_size=8).filter(lambda s: s != "GET") | non_strings | st.just(ABSENT)
    ),
    # Check 9: the URI after RFC 3986 §6.2.2-6.2.3 normalization.
    "htu": _part(
        st.sampled_from(EQUIVALENT_HTU),
        st.sampled_from(OTHER_HTU)
        | st.text(max_size=40).filter(_not_this_server)
        | non_strings
        | st.just(ABSENT),
    ),
    # Check 11: within [now - max_age - skew, now + skew], both ends included; RFC 7519 §2.
    "iat": _part(
        st.integers(WINDOW_START, WINDOW_END) | st.floats(WINDOW_START, WINDOW_END),
        st.integers(max_value=WINDOW_START - 1)
        | st.integers(min_value=WINDOW_END + 1)
        | st.floats(max_value=WINDOW_START - 0.001)
        | st.floats(min_value=WINDOW_END + 0.001)
        | st.booleans()
        | st.text(max_size=12)
        | st.none()
        | st.just(ABSENT),
    ),
    # RFC 7519 §4.1.4: now - skew < exp (optional).
    "exp": _part(
        st.just(ABSENT)
        | st.integers(NOW - SKEW + 1, MAX_DATE)
        | st.floats(NOW - SKEW, MAX_DATE, exclude_min=True),
        st.integers(max_value=NOW - SKEW)
        | st.integers(min_value=MAX_DATE + 1)
        | st.floats(max_value=NOW - SKEW)
        | st.booleans()
        | st.text(max_size=12)
        | st.none(),
    ),
    # RFC 7519 §4.1.5: nbf <= now + skew (optional).
    "nbf": _part(
        st.just(ABSENT) | st.integers(0, NOW + SKEW) | st.floats(0, NOW + SKEW),
        st.integers(min_value=NOW + SKEW + 1)
        | st.floats(min_value=NOW + SKEW, exclude_min=True)
        | st.integers(max_value=-1)
        | st.booleans()
        | st.text(max_size=12)
        | st.none(),
    ),
    # RFC 7519 §4.1.3: aud, when present, names this server (its URI or origin).
    "aud": _part(
        st.just(ABSENT) | st.sampled_from([URL, [URL], "https://server.example.com", ["x", URL]]),
        st.sampled_from(["https://other.example/", [], 5, None, [5], {"a": URL}])
        | st.text(max_size=20).filter(_not_this_server),
    ),
    # Check 12a: the hash of the access token presented.
    "ath": _part(
        st.just(compute_ath(TOKEN)),
        st.text(max_size=43).filter(lambda s: s != compute_ath(TOKEN)) | non_strings | st.just(ABSENT),
    ),
}
HEADER_PARTS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    # Check 4 (RFC 7515 §4.1.9: case-insensitive, "application/" optional).
    "typ": _part(
        st.sampled_from(["dpop+jwt", "DPoP+JWT", "application/dpop+jwt"]),
        st.sampled_from(["JWT", "jwt", "dpop", "application/jwt", "", "dpop+jwt "])
        | non_strings
        | st.just(ABSENT),
    ),
    # RFC 7515 §4.1.4, §4.1.11, RFC 7797, RFC 7516 §4.1.2-4.1.3, RFC 7515 §4.1.2-4.1.8.
    "extra": _part(
        st.dictionaries(st.text(max_size=6).filter(lambda n: n not in HEADER_NAMES), json_values, max_size=3)
        | st.builds(lambda kid: {"kid": kid}, st.text(max_size=10))
        | st.just({"b64": True}),
        st.sampled_from(sorted(HEADER_NAMES - {"typ", "alg", "jwk", "kid", "b64"})).map(lambda n: {n: "x"})
        | st.builds(lambda kid: {"kid": kid}, non_strings)
        | st.sampled_from([{"b64": False}, {"b64": "true"}, {"b64": None}]),
    ),
}


def _jwk_part(key: TestKey, alg: str) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    public = key.public_jwk
    other = KEYS["ES256"] if key.alg != "ES256" else KEYS["Ed25519"]
    valid = st.sampled_from(
        [
            public,
            {**public, "kid": "k"},
            {**public, "use": "sig"},
            {**public, "alg": alg},
            {**public, "key_ops": ["verify"]},
        ]
    )
    broken = st.sampled_from(
        [
            {**public, "d": "AAAA"},  # check 7: a private key
            {**public, "use": "enc"},  # RFC 7517 §4.2
            {**public, "key_ops": ["sign"]},  # RFC 7517 §4.3
            {**public, "x5c": ["AAAA"]},  # a second key
            {**public, "alg": "ES384" if alg != "ES384" else "ES256"},  # RFC 7517 §4.4
            other.public_jwk,  # another key: the signature fails (check 6)
            {"kty": "oct", "k": "AAAA"},
        ]
    ) | json_values.filter(lambda v: v != public)
    return valid, broken


@st.composite
def proofs(draw: st.DrawFn, broken_parts: st.SearchStrategy[frozenset[str]]) -> tuple[str, frozenset[str]]:
    """Return (proof, names of the broken parts)."""
    key = KEYS[draw(st.sampled_from(sorted(KEYS)))]
    alg_valid = st.sampled_from(VALID_ALGS[key.alg])
    alg_broken = (
        st.sampled_from([a for a in ALL_ALGS if a not in VALID_ALGS[key.alg]]) | non_strings | st.just(ABSENT)
    )
    parts = {**CLAIM_PARTS, **HEADER_PARTS, "alg": (alg_valid, alg_broken), "jwk": None, "signature": None}
    broken = draw(broken_parts)
    values = {
        name: draw(strategies[name in broken]) for name, strategies in parts.items() if strategies is not None
    }
    alg = values["alg"]
    valid_jwk, broken_jwk = _jwk_part(key, alg if isinstance(alg, str) else "ES256")
    jwk = draw(broken_jwk if "jwk" in broken else valid_jwk)

    header = {"typ": values["typ"], "alg": alg, "jwk": jwk, **values["extra"]}
    claims = {name: values[name] for name in CLAIM_PARTS}
    claims.update(
        draw(
            st.dictionaries(
                st.text(max_size=6).filter(lambda n: n not in CLAIM_NAMES), json_values, max_size=3
            )
        )
    )
    header = {name: value for name, value in header.items() if value is not ABSENT}
    claims = {name: value for name, value in claims.items() if value is not ABSENT}
    header_segment = jws.b64(json.dumps(header, separators=(",", ":")))
    payload_segment = jws.b64(json.dumps(claims, separators=(",", ":")))
    signature_alg = {"ES256": "ES256", "Ed25519": "EdDSA", "Ed448": "EdDSA", "RS256": "RS256"}[key.alg]
    proof = jws.sign(key, header_segment, payload_segment, alg=signature_alg)
    if "signature" in broken:  # check 6: one bit of the signature flipped
        head, _, signature = proof.rpartition(".")
        octets = bytearray(base64url_decode(signature))
        bit = draw(st.integers(0, 8 * len(octets) - 1))
        octets[bit // 8] ^= 1 << (bit % 8)
        proof = f"{head}.{jws.b64(bytes(octets))}"
    if len(proof) > POLICY.max_proof_length:  # §11.1: the size limit is a check too
        broken = broken | {"size"}
    return proof, broken


PART_NAMES = sorted([*CLAIM_PARTS, *HEADER_PARTS, "alg", "jwk", "signature"])


def _verdict(proof: str, broken: frozenset[str]) -> None:
    try:
        verified = verify_proof(proof, method="GET", url=URL, now=NOW, policy=POLICY, access_token=TOKEN)
    except InvalidDPoPProof as exc:
        assert type(exc) is InvalidDPoPProof, repr(exc)
        assert broken, f"a valid proof was refused: {exc!r}"
    else:
        assert not broken, f"accepted a proof with broken {sorted(broken)}"
        assert verified.htu == URL and verified.htm == "GET"
        assert WINDOW_START - 1 < verified.iat <= WINDOW_END
        assert verified.jkt == jwk_thumbprint(verified.jwk)


@pytest.mark.parametrize("part", [None, *PART_NAMES])
def test_valid_except_for_one_broken_check(part: str | None) -> None:
    # One part at a time, so that every check is exercised in every run, even a short one.
    broken = frozenset() if part is None else frozenset({part})

    @FUZZ_EACH
    @given(proofs(st.just(broken)))
    def check(case: tuple[str, frozenset[str]]) -> None:
        _verdict(*case)

    check()


@FUZZ
@given(proofs(st.frozensets(st.sampled_from(PART_NAMES))))
def test_any_combination_of_broken_checks(case: tuple[str, frozenset[str]]) -> None:
    _verdict(*case)


# --- raw input: only DPoPError, whatever arrives ------------------------------------------------


def _only_dpop_errors(proof: Any, **kwargs: Any) -> None:
    kwargs = {"method": "GET", "url": URL, "now": NOW, "policy": POLICY, **kwargs}
    with contextlib.suppress(DPoPError):
        verify_proof(proof, **kwargs)


b64_chars = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=60)


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_raw_text_raises_only_dpop_errors(text: str) -> None:
    _only_dpop_errors(text)
    _only_dpop_errors(text, access_token=text)


@FUZZ
@given(st.lists(b64_chars | st.text(max_size=20), min_size=1, max_size=5).map(".".join))
def test_dotted_segments_raise_only_dpop_errors(proof: str) -> None:
    _only_dpop_errors(proof)


@FUZZ
@given(json_values, json_values, st.binary(max_size=140))
def test_any_json_header_and_payload_raise_only_dpop_errors(
    header: Any, claims: Any, signature: bytes
) -> None:
    text = [jws.b64(json.dumps(value)) for value in (header, claims)]
    _only_dpop_errors(f"{text[0]}.{text[1]}.{jws.b64(signature) or 'AA'}")


@FUZZ
@given(
    st.sampled_from(sorted(KEYS)),
    st.dictionaries(
        st.sampled_from(["kty", "crv", "x", "y", "n", "e", "alg", "use", "key_ops", "d"]),
        json_values | b64_chars,
        max_size=6,
    ),
)
def test_generated_jwks_raise_only_dpop_errors(alg: str, members: dict[str, Any]) -> None:
    key = KEYS[alg]
    jwk = {**key.public_jwk, **members}
    with contextlib.suppress(InvalidDPoPProof):
        check_public_jwk(jwk)
    header = {"typ": "dpop+jwt", "alg": VALID_ALGS[alg][0], "jwk": jwk}
    claims = {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW}
    signature_alg = {"ES256": "ES256", "Ed25519": "EdDSA", "Ed448": "EdDSA", "RS256": "RS256"}[alg]
    proof = jws.sign(key, jws.encode_json(header), jws.encode_json(claims), alg=signature_alg)
    try:
        verified = verify_proof(proof, method="GET", url=URL, now=NOW, policy=POLICY)
    except InvalidDPoPProof:
        return
    # Accepted: then it is the signing key itself, under its one thumbprint.
    assert verified.jkt == key.jkt
