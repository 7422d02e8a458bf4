"""DPoP proof verification: every check of RFC 9449 §4.3, cheapest first.

Order: structure and size (checks 1-2), JOSE header (checks 4, 5, 7), claims (check 3), then the
values the request fixes (checks 8, 9, 11, 12a), then the signature (check 6), then the stores
(check 10 nonce, §11.1 replay). A proof from a known client costs one base64/JSON decode of the
payload and one signature verification: the header, the public key and its thumbprint are cached
by the header's base64 text, which is identical in every proof one client key makes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidKeyError, PyJWTError

from .binding import compute_ath
from .errors import DPoPError, InvalidDPoPProof, ReplayedProof, StoreUnavailable, UseDPoPNonce
from .htu import normalize_htu
from .jwk import check_public_jwk, jwk_thumbprint
from .nonces import is_nonce_syntax
from .policy import ProofPolicy
from .stores import NonceStatus, ReplayStore


_COMPACT_JWS = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_ALGORITHMS = get_default_algorithms()
# RFC 9449 §4.3 check 5 with RFC 7518 §3.4 / RFC 8037 §3.1: the key type (and curve) each alg needs.
_KEY_TYPES: dict[str, tuple[str, frozenset[str] | None]] = {
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "ES256K": ("EC", frozenset({"secp256k1"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
}
_ECDSA = {
    "ES256": ECDSA(hashes.SHA256()),
    "ES384": ECDSA(hashes.SHA384()),
    "ES512": ECDSA(hashes.SHA512()),
    "ES256K": ECDSA(hashes.SHA256()),
}
_TYPES = frozenset({"dpop+jwt", "application/dpop+jwt"})
_NUMBERS = (int, float)
NonceChecker = Callable[[str], NonceStatus]


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """A proof that passed every check, with what callers need to bind and rotate."""

    jkt: str  # RFC 7638 thumbprint of the proof key: the cnf.jkt to bind or compare
    jti: str
    htm: str
    htu: str  # normalized
    iat: int
    alg: str
    jwk: Mapping[str, Any]
    claims: Mapping[str, Any]
    nonce: str | None
    nonce_stale: bool  # the nonce is still accepted but a newer one exists (RFC 9449 §8.2)
    replay_key: str  # SHA-256 over (jkt, htu, jti): what the replay store holds
    expires_at: int  # the last second at which this proof would still be accepted


@dataclass(frozen=True, slots=True)
class _Header:
    alg: str
    jwk: Mapping[str, Any]
    key: Any
    jkt: str


def _b64decode(segment: str) -> bytes:
    # The segment already matched the base64url alphabet; only the padding is missing.
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _decode_json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (ValueError, RecursionError):
        raise InvalidDPoPProof(f"DPoP proof {what} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise InvalidDPoPProof(f"DPoP proof {what} is not a JSON object")
    return value


@lru_cache(maxsize=1024)
def _checked_header(segment: str, algorithms: frozenset[str], min_rsa_bits: int) -> _Header:
    """RFC 9449 §4.3 checks 4, 5 and 7 on the JOSE header, then build its public key.

    Cached (successes only) by the header's base64 text, which is the same in every proof one
    client key makes: repeated proofs skip JSON, key construction and the thumbprint.
    """
    header = _decode_json_object(segment, "header")
    typ = header.get("typ")
    # Check 4. RFC 7515 §4.1.9: media types compare case-insensitively, "application/" optional.
    if not isinstance(typ, str) or typ.lower() not in _TYPES:
        raise InvalidDPoPProof("DPoP proof typ is not dpop+jwt")
    alg = header.get("alg")
    # Check 5: asymmetric, not none, and allowed by local policy (the policy holds only asymmetric).
    if not isinstance(alg, str) or alg not in algorithms or alg not in _ALGORITHMS:
        raise InvalidDPoPProof("DPoP proof alg is not allowed")
    # RFC 7515 §4.1.11: we understand no extension, so any crit must be refused.
    if "crit" in header:
        raise InvalidDPoPProof("DPoP proof has unsupported crit header parameters")
    # Check 7 (and the key type the alg needs), before any key is built.
    jwk = check_public_jwk(header.get("jwk"))
    kty, curves = _KEY_TYPES[alg]
    if jwk.get("kty") != kty or (curves is not None and jwk.get("crv") not in curves):
        raise InvalidDPoPProof("jwk header key type does not match alg")
    jkt = jwk_thumbprint(jwk)
    try:
        algorithm = _ALGORITHMS[alg]
        key = algorithm.prepare_key(algorithm.from_jwk(dict(jwk)))
    except (InvalidKeyError, PyJWTError, ValueError, TypeError, KeyError):
        raise InvalidDPoPProof("jwk header is not a valid key for alg") from None
    if kty == "RSA" and key.key_size < min_rsa_bits:
        raise InvalidDPoPProof("jwk header RSA key is too small")
    return _Header(alg=alg, jwk=MappingProxyType(dict(jwk)), key=key, jkt=jkt)


def _check_claims(claims: Mapping[str, Any], policy: ProofPolicy) -> tuple[str, str, str, int]:
    """RFC 9449 §4.3 check 3: jti, htm, htu, iat present with their types (§4.2)."""
    jti, htm, htu, iat = claims.get("jti"), claims.get("htm"), claims.get("htu"), claims.get("iat")
    if not isinstance(jti, str) or not jti:
        raise InvalidDPoPProof("DPoP proof jti is missing or not a string")
    if len(jti) > policy.max_jti_length:
        raise InvalidDPoPProof("DPoP proof jti is too long")
    if not isinstance(htm, str) or not htm:
        raise InvalidDPoPProof("DPoP proof htm is missing or not a string")
    if not isinstance(htu, str) or not htu:
        raise InvalidDPoPProof("DPoP proof htu is missing or not a string")
    if isinstance(iat, bool) or not isinstance(iat, _NUMBERS) or not math.isfinite(iat):
        raise InvalidDPoPProof("DPoP proof iat is missing or not a number")
    return jti, htm, htu, int(iat)


def verify_proof(
    proof: str | None,
    *,
    method: str,
    url: str,
    now: float,
    policy: ProofPolicy,
    access_token: str | None = None,
    nonce_checker: NonceChecker | None = None,
    replay_store: ReplayStore | None = None,
) -> VerifiedProof:
    """Verify the value of a ``DPoP`` header for a request ``method url`` at time ``now``.

    ``url`` is the server's own view of the request URI (query and fragment are ignored).
    ``access_token`` is given at a protected resource (§4.3 check 12a, ``ath``). When the policy
    requires nonces, ``nonce_checker`` rates the proof's nonce (check 10). ``replay_store``
    records the proof last, once everything else passed (§11.1).

    Raises :class:`InvalidDPoPProof`, :class:`UseDPoPNonce` (without a nonce: the caller adds the
    fresh one) or :class:`StoreUnavailable`; never anything else for any input.
    """
    # Checks 1-2: exactly one header holding one compact JWS. A server folds repeated header
    # lines into one comma-separated value; a compact JWS never contains a comma.
    if not isinstance(proof, str) or not proof:
        raise InvalidDPoPProof("DPoP proof is missing")
    if len(proof) > policy.max_proof_length:
        raise InvalidDPoPProof("DPoP proof is too large")
    if "," in proof:
        raise InvalidDPoPProof("More than one DPoP proof")
    match = _COMPACT_JWS.fullmatch(proof)
    if match is None:
        raise InvalidDPoPProof("DPoP proof is not a compact JWS")
    header_segment, payload_segment, signature_segment = match.groups()

    header = _checked_header(header_segment, policy.algorithm_set, policy.min_rsa_bits)
    claims = _decode_json_object(payload_segment, "payload")
    jti, htm, htu, iat = _check_claims(claims, policy)

    # Check 8: the method, case-sensitive (RFC 9110 §9.1).
    if htm != method:
        raise InvalidDPoPProof("DPoP proof htm does not match the request method")
    # Check 9: the URI, after RFC 3986 syntax- and scheme-based normalization.
    normalized_htu = normalize_htu(htu)
    if normalized_htu != normalize_htu(url):
        raise InvalidDPoPProof("DPoP proof htu does not match the request URI")
    # Check 11 (§11.1): created within the acceptance window. With nonces required a stale proof
    # asks for a fresh nonce, so that a client can retry with a new proof.
    if iat < now - policy.max_age - policy.clock_skew or iat > now + policy.clock_skew:
        if policy.nonce_required:
            raise UseDPoPNonce("DPoP proof iat is outside the acceptance window")
        raise InvalidDPoPProof("DPoP proof iat is outside the acceptance window")
    # Check 12a: at a protected resource, ath is the hash of the access token presented.
    if access_token is not None:
        ath = claims.get("ath")
        try:
            expected_ath = compute_ath(access_token)
        except UnicodeEncodeError:
            raise InvalidDPoPProof("Access token is not ASCII") from None
        if not isinstance(ath, str) or not _constant_time_equal(ath, expected_ath):
            raise InvalidDPoPProof("DPoP proof ath does not match the access token")
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidDPoPProof("DPoP proof nonce is not a string")

    # Check 6: the signature, with the pinned alg and the header's (cached) key.
    signing_input = proof[: len(header_segment) + len(payload_segment) + 1].encode("ascii")
    if not _verify_signature(header.alg, header.key, signing_input, signature_segment):
        raise InvalidDPoPProof("DPoP proof signature is invalid")

    # Check 10: the server-provided nonce, when the server requires one.
    nonce_stale = False
    if policy.nonce_required:
        if nonce_checker is None:
            raise ValueError("a nonce_checker is needed when the policy requires nonces")
        if nonce is None:
            raise UseDPoPNonce("DPoP proof has no nonce")
        if not is_nonce_syntax(nonce):
            raise UseDPoPNonce("DPoP proof nonce is invalid")
        status = _call_store(nonce_checker, nonce)
        if status is NonceStatus.INVALID:
            raise UseDPoPNonce("DPoP proof nonce is invalid or expired")
        nonce_stale = status is NonceStatus.VALID

    # §11.1: the proof is single-use within its window, keyed in the context of key and URI.
    replay_key = hashlib.sha256(f"{header.jkt}\n{normalized_htu}\n{jti}".encode()).hexdigest()
    expires_at = iat + policy.max_age + policy.clock_skew
    if replay_store is not None and not _call_store(replay_store.check_and_add, replay_key, expires_at):
        raise ReplayedProof()

    return VerifiedProof(
        jkt=header.jkt,
        jti=jti,
        htm=htm,
        htu=normalized_htu,
        iat=iat,
        alg=header.alg,
        jwk=header.jwk,
        claims=claims,
        nonce=nonce,
        nonce_stale=nonce_stale,
        replay_key=replay_key,
        expires_at=expires_at,
    )


def _verify_signature(alg: str, key: Any, signing_input: bytes, signature_segment: str) -> bool:
    """RFC 9449 §4.3 check 6 with the algorithm pinned to the (allowed) header ``alg``.

    ECDSA goes straight to cryptography with a prebuilt signature algorithm (RFC 7518 §3.4 raw
    ``R || S`` to DER); every other algorithm through pyjwt's implementation.
    """
    try:
        signature = _b64decode(signature_segment)
        ecdsa = _ECDSA.get(alg)
        if ecdsa is None:
            return bool(_ALGORITHMS[alg].verify(signing_input, key, signature))
        size = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:
            return False
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        key.verify(der, signing_input, ecdsa)
        return True
    except (InvalidSignature, ValueError, TypeError, PyJWTError):
        return False


def _constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def _call_store(function: Callable[..., Any], *args: Any) -> Any:
    """Call a store; any failure refuses the request (fail closed, never waved through)."""
    try:
        return function(*args)
    except DPoPError:
        raise
    except Exception as exc:
        raise StoreUnavailable() from exc
