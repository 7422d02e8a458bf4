"""DPoP proof verification: every check of RFC 9449 §4.3, cheapest first.

Order: size, header count and compact-JWS structure (checks 1-2), JOSE header (checks 4, 5, 7,
``crit``, ``b64``, members naming another key, canonical key material), claims and their types
(check 3), then the values the request fixes (checks 8, 9, 11, RFC 7519 ``exp`` / ``nbf`` /
``aud``, and 12a), then the key and the signature (checks 7 and 6), then the nonce (check 10)
and the replay store (§11.1). docs/security.md lists every rule. Nothing reaches cryptography (not even building the key) before every
cheap check passed, and a failed proof never reaches the replay store, so it cannot burn a
``jti``.

Cost of a proof from a known client: one strict base64url decode and one JSON parse of the
payload, one SHA-256 for ``ath``, one for the replay key, and the signature verification. The
header, its public key and its thumbprint are cached by the header's base64url text, which is
identical in every proof one client key makes (``benchmarks/proof_check.py`` measures it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from binascii import a2b_base64
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from jwt.algorithms import Algorithm, get_default_algorithms

from .binding import compute_ath
from .errors import DPoPError, InvalidDPoPProof, ReplayedProof, StoreUnavailable, UseDPoPNonce
from .htu import _normalize as _normalize_htu
from .htu import normalize_htu
from .jwk import MAX_RSA_BITS, check_public_jwk, jwk_thumbprint
from .nonces import is_nonce_syntax
from .policy import ASYMMETRIC_ALGORITHMS, ProofPolicy
from .stores import NonceStatus, ReplayStore


_ALGORITHMS: dict[str, Algorithm] = get_default_algorithms()
# RFC 9864 §2.2: Ed25519 and Ed448 are EdDSA pinned to one curve. pyjwt (2.10-2.15) knows them
# only as EdDSA, whose implementation verifies either curve: the curve is pinned by _KEY_TYPES.
for _name in ("Ed25519", "Ed448"):
    _ALGORITHMS.setdefault(_name, _ALGORITHMS["EdDSA"])
# RFC 9449 §4.3 check 5 with RFC 7518 §3.4 / RFC 8037 §3.1: the key type (and curve) each alg needs.
_KEY_TYPES: dict[str, tuple[str, frozenset[str] | None]] = {
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "ES256K": ("EC", frozenset({"secp256k1"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
    "Ed448": ("OKP", frozenset({"Ed448"})),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
}
_PUBLIC_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "EC": (EllipticCurvePublicKey,),
    "OKP": (Ed25519PublicKey, Ed448PublicKey),
    "RSA": (RSAPublicKey,),
}
# RFC 7518 §3.4: ES* sign SHA-2 digests of the signing input. The digest is taken with hashlib
# (OpenSSL too) and handed over as Prehashed: the same ECDSA check, measurably cheaper than
# letting cryptography set up its own hash for every call (benchmarks/proof_check.py).
_ECDSA: dict[str, tuple[Callable[[bytes], Any], ECDSA]] = {
    "ES256": (hashlib.sha256, ECDSA(Prehashed(hashes.SHA256()))),
    "ES384": (hashlib.sha384, ECDSA(Prehashed(hashes.SHA384()))),
    "ES512": (hashlib.sha512, ECDSA(Prehashed(hashes.SHA512()))),
    "ES256K": (hashlib.sha256, ECDSA(Prehashed(hashes.SHA256()))),
}
# RFC 7515 §4.1.2-4.1.8: header members that point at another key than ``jwk`` (a URL to fetch,
# a certificate chain or its thumbprint). The proof is verified with ``jwk`` alone (§4.2), and a
# second key beside it is what lets two readers of one proof disagree about who signed it.
_FOREIGN_KEY_HEADERS = frozenset({"jku", "x5u", "x5c", "x5t", "x5t#S256"})
# RFC 7516 §4.1.2-4.1.3: members only a JWE has; in a JWS header they are a type confusion.
_JWE_HEADERS = frozenset({"enc", "zip"})
# RFC 7519 §2 NumericDate, bounded to what a datetime can hold (9999-12-31T23:59:59Z): a larger
# one is no date, and refusing it keeps every later use of the value (stores, logs) in range.
_MAX_NUMERIC_DATE = 253402300799
# RFC 7515 §4.1.9: media types compare case-insensitively and "application/" may be left out.
_TYPES = frozenset({"dpop+jwt", "application/dpop+jwt"})
# RFC 7515 §2 base64url: "-" and "_" become the standard alphabet's "+" and "/"; the standard
# "+", "/" and any "=" become "*", which strict decoding refuses like every other foreign byte.
_FROM_BASE64URL = bytes.maketrans(b"-_+/=", b"+/***")
_PADDING = (b"", b"", b"==", b"=")  # by length % 4 (1 is never valid: a2b_base64 says so)
# RFC 4648 §3.5: the last character of a canonical encoding leaves its unused low bits zero
# (4 of them at length % 4 == 2, 2 at length % 4 == 3). Decoders ignore those bits, so a
# signature would have up to 16 spellings; only the canonical one (what encoders write) passes.
_CANONICAL_LAST = (None, None, frozenset(b"AQgw"), frozenset(b"AEIMQUYcgkosw048"))
_new_tuple = tuple.__new__
_MAX_CACHED_HEADER = 4096  # octets of base64url: an 8192-bit RSA jwk header is about 1.9 k
NonceChecker = Callable[[str], NonceStatus]


class VerifiedProof(NamedTuple):
    """A proof that passed every check, with what callers need to bind and rotate (immutable)."""

    jkt: str  # RFC 7638 thumbprint of the proof key: the cnf.jkt to bind or compare
    jti: str
    htm: str
    htu: str  # normalized (RFC 3986 §6.2.2-6.2.3), without query and fragment
    iat: int  # whole seconds (a fractional iat is floored)
    alg: str
    jwk: Mapping[str, Any]  # the public key, read-only
    claims: Mapping[str, Any]  # every claim of the payload, read-only
    nonce: str | None  # the nonce checked against the store; None when nonces are not required
    nonce_stale: bool  # the nonce is still accepted but a newer one exists (RFC 9449 §8.2)
    replay_key: str  # SHA-256 (hex) over (jkt, htu, jti): what the replay store holds
    expires_at: int  # the last second at which this proof would still be accepted


class _Header:
    """A JOSE header that passed checks 4, 5 and 7 (cached); its key is built when first needed.

    The key is built only once the claims passed too (:func:`_public_key`), so that nothing
    cryptographic happens for a proof the cheap checks refuse, even from an unknown key.
    """

    __slots__ = ("alg", "jwk", "jkt", "kty", "ecdsa", "size", "key")

    def __init__(self, alg: str, jwk: Mapping[str, Any], jkt: str, kty: str) -> None:
        self.alg = alg
        self.jwk = jwk
        self.jkt = jkt
        self.kty = kty
        # ES*: the digest and the Prehashed algorithm, and the octets of r and of s (RFC 7518
        # §3.4); None and 0 for the algorithms pyjwt verifies.
        self.ecdsa: tuple[Callable[[bytes], Any], ECDSA] | None = _ECDSA.get(alg)
        self.size = 0
        self.key: Any = None


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §4 / RFC 7519 §4 let a parser refuse duplicate member names; we do, so that no
    # other reader of the same proof (a proxy, a log) can see another value than we checked.
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member name")
    return members


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 §6)")


_JSON = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_not_json)
_scan_json = _JSON.scan_once
#: The strict JSON reader of JOSE members (duplicates, NaN and Infinity refused), shared with the
#: JWT access-token validator so both read JSON by the same rules.
STRICT_JSON = _JSON


def _json_object(segment: bytes, what: str) -> dict[str, Any]:
    """Decode a base64url JSON object (RFC 7515 §7.1): strict base64url, UTF-8, plain JSON."""
    try:
        # _b64url_decode, inlined: this runs for every proof.
        text = a2b_base64(
            segment.translate(_FROM_BASE64URL) + _PADDING[len(segment) & 3], strict_mode=True
        ).decode("utf-8")
        try:
            # The compact JSON every JOSE library writes, in one call of the C scanner (what
            # JSONDecoder.raw_decode runs, without its Python frame).
            value, end = _scan_json(text, 0)
            if end != len(text):
                raise ValueError
        except (ValueError, StopIteration):
            value = _JSON.decode(text)  # JSON whitespace around the value, or a real error
    except (ValueError, RecursionError):  # binascii.Error, UnicodeDecodeError, JSONDecodeError
        raise InvalidDPoPProof(
            f"DPoP proof {what} is not base64url-encoded JSON", reason="malformed"
        ) from None
    if not isinstance(value, dict):
        raise InvalidDPoPProof(f"DPoP proof {what} is not a JSON object", reason="malformed")
    return value


@lru_cache(maxsize=1024)
def _checked_header(segment: bytes, algorithms: frozenset[str], min_rsa_bits: int) -> _Header:
    """RFC 9449 §4.3 checks 4, 5 and 7 on the JOSE header, and the key's thumbprint.

    Cached (successes only) by the header's base64url text and the policy's algorithms and RSA
    size: repeated proofs of one client key skip JSON, key construction and the thumbprint.
    ``min_rsa_bits`` is only part of the cache key, for :func:`_public_key`.
    """
    header = _json_object(segment, "header")
    typ = header.get("typ")
    # Check 4 (§11.5: typ keeps other signed JWTs from passing as proofs).
    if not isinstance(typ, str) or typ.lower() not in _TYPES:
        raise InvalidDPoPProof("DPoP proof typ is not dpop+jwt", reason="typ")
    alg = header.get("alg")
    # Check 5: asymmetric, never none or HMAC (§11.6), and allowed by local policy.
    if (
        not isinstance(alg, str)
        or alg not in algorithms
        or alg not in ASYMMETRIC_ALGORITHMS
        or alg not in _ALGORITHMS
    ):
        raise InvalidDPoPProof("DPoP proof alg is not allowed", reason="alg")
    # RFC 7515 §4.1.11: we understand no extension, so any crit must be refused.
    if "crit" in header:
        raise InvalidDPoPProof("DPoP proof has unsupported crit header parameters", reason="header")
    # RFC 7797 §3: b64 false means the payload is signed unencoded; RFC 7797 §7 forbids it for
    # JWTs. Only the default (true) means what this verifier checks.
    if "b64" in header and header["b64"] is not True:
        raise InvalidDPoPProof("DPoP proof b64 header parameter is not supported", reason="header")
    if not _FOREIGN_KEY_HEADERS.isdisjoint(header):
        raise InvalidDPoPProof("DPoP proof header names another key than jwk", reason="header")
    if not _JWE_HEADERS.isdisjoint(header):
        raise InvalidDPoPProof("DPoP proof header has JWE parameters", reason="header")
    if "kid" in header and type(header["kid"]) is not str:  # RFC 7515 §4.1.4: a string
        raise InvalidDPoPProof("DPoP proof kid is not a string", reason="header")
    # Check 7 (a public asymmetric key, of the type the alg needs), before any key is built.
    jwk = check_public_jwk(header.get("jwk"))
    kty, curves = _KEY_TYPES[alg]
    if jwk["kty"] != kty or (curves is not None and jwk["crv"] not in curves):
        raise InvalidDPoPProof("jwk header key type does not match alg", reason="jwk")
    # RFC 7517 §4.4: a key that names its algorithm is for that one only.
    if "alg" in jwk and jwk["alg"] != alg:
        raise InvalidDPoPProof("jwk header alg does not match the proof alg", reason="jwk")
    return _Header(alg, MappingProxyType(dict(jwk)), jwk_thumbprint(jwk), kty)


def _public_key(header: _Header, min_rsa_bits: int) -> Any:
    """Build (once) the public key of a checked header: the last part of check 7.

    A key that cannot be built is refused each time (failures are not cached). Two threads may
    both build it; they build the same key, and ``key`` is set last.
    """
    try:
        # pyjwt builds the key; any failure of it (bad point, bad size, foreign curve) refuses.
        key = _ALGORITHMS[header.alg].from_jwk(dict(header.jwk))
    except Exception:
        raise InvalidDPoPProof("jwk header is not a valid key for alg", reason="jwk") from None
    if not isinstance(key, _PUBLIC_KEY_TYPES[header.kty]):
        raise InvalidDPoPProof("jwk header is not a public key for alg", reason="jwk")
    if header.kty == "RSA":
        if key.key_size < min_rsa_bits:
            raise InvalidDPoPProof("jwk header RSA key is too small", reason="jwk")
        if key.key_size > MAX_RSA_BITS:  # check_public_jwk refused it already; kept as a guard
            raise InvalidDPoPProof("jwk header RSA key is too large", reason="jwk")
    if header.ecdsa is not None:
        header.size = (key.curve.key_size + 7) // 8
    header.key = key
    return key


def _verify_signature(header: _Header, signing_input: bytes, signature_segment: bytes) -> bool:
    """RFC 9449 §4.3 check 6 with the algorithm pinned to the (allowed) header ``alg``.

    ECDSA goes straight to cryptography with a prebuilt signature algorithm (RFC 7518 §3.4 raw
    ``R || S`` framed as DER); every other algorithm through pyjwt's implementation. Any failure, of
    the encoding or of the cryptography, is a refusal (fail closed).
    """
    try:
        last = _CANONICAL_LAST[len(signature_segment) & 3]
        if last is not None and signature_segment[-1] not in last:
            return False
        signature = a2b_base64(
            signature_segment.translate(_FROM_BASE64URL) + _PADDING[len(signature_segment) & 3],
            strict_mode=True,
        )
        ecdsa = header.ecdsa
        if ecdsa is None:
            return _ALGORITHMS[header.alg].verify(signing_input, header.key, signature) is True
        size = header.size
        if len(signature) != 2 * size:
            return False
        digest, algorithm = ecdsa
        # RFC 7518 §3.4: R and S are unsigned big-endian integers of ``size`` octets each;
        # cryptography frames them as DER (RFC 3279 §2.2.3). Raises InvalidSignature (caught
        # below) unless r, s sign the digest of signing_input (OpenSSL checks 0 < r, s < n).
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        header.key.verify(der, digest(signing_input).digest(), algorithm)
        return True
    except Exception:
        return False


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
    ``access_token`` is given at a protected resource (§4.3 check 12a, ``ath``); without it an
    ``ath`` claim is ignored. When the policy requires nonces, ``nonce_checker`` rates the
    proof's nonce (check 10); when it does not, a ``nonce`` claim is ignored. ``replay_store``
    records the proof last, once everything else passed (§11.1), until ``expires_at``.

    Raises :class:`InvalidDPoPProof` (:class:`ReplayedProof` for a second use),
    :class:`UseDPoPNonce` (without a nonce: the caller adds the fresh one) or
    :class:`StoreUnavailable`; never anything else for any proof. ``ValueError`` only for a
    caller's mistake: a policy that requires nonces with no ``nonce_checker``.
    """
    if policy.nonce_required and nonce_checker is None:
        raise ValueError("a nonce_checker is needed when the policy requires nonces")

    # Checks 1-2: exactly one header holding one compact JWS (RFC 7515 §7.1). A server folds
    # repeated header lines into one comma-separated value; a compact JWS never has a comma.
    if not isinstance(proof, str) or not proof:
        raise InvalidDPoPProof("DPoP proof is missing", reason="missing")
    if len(proof) > policy.max_proof_length:
        raise InvalidDPoPProof("DPoP proof is too large", reason="too_large")
    if "," in proof:
        raise InvalidDPoPProof("More than one DPoP proof", reason="multiple")
    if not proof.isascii():
        raise InvalidDPoPProof("DPoP proof is not a compact JWS", reason="malformed")
    data = proof.encode("ascii")
    segments = data.split(b".")
    if len(segments) != 3:
        raise InvalidDPoPProof("DPoP proof is not a compact JWS", reason="malformed")
    header_segment, payload_segment, signature_segment = segments
    if not header_segment or not payload_segment or not signature_segment:
        raise InvalidDPoPProof("DPoP proof is not a compact JWS", reason="malformed")

    # Checks 4, 5, 7, cached per client key; a header too big for any real key is not cached, so
    # that a server configured with a large max_proof_length cannot be made to hoard megabytes.
    if len(header_segment) <= _MAX_CACHED_HEADER:
        header = _checked_header(header_segment, policy.algorithm_set, policy.min_rsa_bits)
    else:
        header = _checked_header.__wrapped__(header_segment, policy.algorithm_set, policy.min_rsa_bits)

    # Check 3: jti, htm, htu, iat present with their types (§4.2); size limits first (§11.1).
    claims = _json_object(payload_segment, "payload")
    # JSON yields exact types, so "type(x) is str" is the cheapest sufficient test.
    jti = claims.get("jti")
    if type(jti) is not str or not jti:
        raise InvalidDPoPProof("DPoP proof jti is missing or not a string", reason="claims")
    if len(jti) > policy.max_jti_length:
        raise InvalidDPoPProof("DPoP proof jti is too long", reason="claims")
    htm = claims.get("htm")
    if type(htm) is not str or not htm:
        raise InvalidDPoPProof("DPoP proof htm is missing or not a string", reason="claims")
    htu = claims.get("htu")
    if type(htu) is not str or not htu:
        raise InvalidDPoPProof("DPoP proof htu is missing or not a string", reason="claims")
    iat = claims.get("iat")
    # RFC 7519 §2 NumericDate: a JSON number, not a boolean (bool is not "type(x) is int"), in
    # range; NaN compares false and the infinities are out of range.
    if (type(iat) is not int and type(iat) is not float) or not 0 <= iat <= _MAX_NUMERIC_DATE:
        raise InvalidDPoPProof("DPoP proof iat is missing or not a NumericDate", reason="claims")
    nonce_required = policy.nonce_required
    nonce = claims.get("nonce") if nonce_required else None
    if nonce is not None and type(nonce) is not str:
        raise InvalidDPoPProof("DPoP proof nonce is not a string", reason="claims")

    # Check 8: the method, case-sensitive (RFC 9110 §9.1).
    if htm != method:
        raise InvalidDPoPProof("DPoP proof htm does not match the request method", reason="htm")
    # Check 9: the URI, after RFC 3986 syntax- and scheme-based normalization.
    normalized_htu = _normalize_htu(htu)  # htu is a str: the cached worker directly
    if htu != url and normalized_htu != normalize_htu(url):
        # The server's own URL (never a query: normalize_htu drops it), so that an operator can
        # see what a proxy in front of the server changed (DPOP_HTU_BASE_URL).
        raise InvalidDPoPProof(
            f"DPoP proof htu does not match the request URI; expected {normalize_htu(url)}",
            reason="htu",
        )
    # Check 11 (§11.1): created within the acceptance window, both ends included. With nonces
    # required a stale proof asks for a fresh nonce once its signature is known good (below).
    skew = policy.clock_skew
    fresh = now - policy.max_age - skew <= iat <= now + skew
    if not fresh and not nonce_required:
        raise InvalidDPoPProof("DPoP proof iat is outside the acceptance window", reason="iat")
    # RFC 7519 §4.1.4-4.1.5 (MUST NOT accept): optional in a proof, binding when present, with the
    # same leeway as iat (§4.1.4 allows "some small leeway"). Refused before any cryptography.
    if "exp" in claims or "nbf" in claims or "aud" in claims:
        _check_registered_claims(claims, now, skew, url)
    # Check 12a: at a protected resource, ath is the hash of the access token presented.
    if access_token is not None:
        try:
            expected_ath = compute_ath(access_token)
        except (AttributeError, UnicodeEncodeError):  # not a string, not ASCII (RFC 6750 §2.1)
            raise InvalidDPoPProof("Access token is not ASCII", reason="ath") from None
        try:
            # Constant time; compare_digest raises TypeError for anything but ASCII strings.
            ath_matches = hmac.compare_digest(claims.get("ath"), expected_ath)
        except TypeError:
            ath_matches = False
        if not ath_matches:
            raise InvalidDPoPProof("DPoP proof ath does not match the access token", reason="ath")

    # Check 6: the signature, with the pinned alg and the header's key (built once, now that
    # every cheap check passed).
    if header.key is None:
        _public_key(header, policy.min_rsa_bits)
    signing_input = data[: len(header_segment) + len(payload_segment) + 1]
    if not _verify_signature(header, signing_input, signature_segment):
        raise InvalidDPoPProof("DPoP proof signature is invalid", reason="signature")

    # Check 10 (§8, §11.3): the server-provided nonce, when the server requires one.
    nonce_stale = False
    if nonce_required:
        if not fresh:
            raise UseDPoPNonce("DPoP proof iat is outside the acceptance window", reason="iat")
        if nonce is None:
            raise UseDPoPNonce("DPoP proof has no nonce", reason="nonce_missing")
        if not is_nonce_syntax(nonce):
            raise UseDPoPNonce("DPoP proof nonce is invalid", reason="nonce_invalid")
        status = _call_store("nonce", nonce_checker, nonce)  # type: ignore[arg-type]
        if status is NonceStatus.INVALID:
            raise UseDPoPNonce("DPoP proof nonce is invalid or expired", reason="nonce_invalid")
        if status is NonceStatus.VALID:
            nonce_stale = True
        elif status is not NonceStatus.CURRENT:  # a store that answers nonsense refuses
            raise StoreUnavailable(store="nonce")

    # §11.1: single use within the proof's own window, keyed in the context of key and URI. The
    # window is measured from iat (not from now), so a future-dated proof stays recorded as long
    # as it is acceptable.
    replay_key = hashlib.sha256(
        f"{header.jkt}\n{normalized_htu}\n{jti}".encode("utf-8", "surrogatepass")
    ).hexdigest()
    expires_at = (iat if type(iat) is int else math.ceil(iat)) + policy.max_age + skew
    if replay_store is not None:
        added = _call_store("replay", _check_and_add, replay_store, replay_key, expires_at)
        if added is not True:
            raise ReplayedProof() if added is False else StoreUnavailable(store="replay")

    # tuple.__new__ directly: the same immutable VerifiedProof without NamedTuple's Python __new__.
    return _new_tuple(
        VerifiedProof,
        (
            header.jkt,
            jti,
            htm,
            normalized_htu,
            iat if type(iat) is int else math.floor(iat),
            header.alg,
            header.jwk,
            MappingProxyType(claims),
            nonce,
            nonce_stale,
            replay_key,
            expires_at,
        ),
    )


def _is_numeric_date(value: Any) -> bool:
    return (type(value) is int or type(value) is float) and 0 <= value <= _MAX_NUMERIC_DATE


def _check_registered_claims(claims: Mapping[str, Any], now: float, skew: int, url: str) -> None:
    """RFC 7519 §4.1.3-4.1.5 on a proof that carries ``exp``, ``nbf`` or ``aud`` (RFC 9449 needs none).

    ``iss`` and ``sub`` have no meaning for a proof (their processing is application specific,
    RFC 7519 §4.1.1-4.1.2) and are ignored, as node-oidc-provider does.
    """
    if "exp" in claims:
        exp = claims["exp"]
        if not _is_numeric_date(exp):
            raise InvalidDPoPProof("DPoP proof exp is not a NumericDate", reason="exp")
        # §4.1.4: the current time MUST be before exp.
        if exp <= now - skew:
            raise InvalidDPoPProof("DPoP proof has expired (exp)", reason="exp")
    if "nbf" in claims:
        nbf = claims["nbf"]
        if not _is_numeric_date(nbf):
            raise InvalidDPoPProof("DPoP proof nbf is not a NumericDate", reason="nbf")
        # §4.1.5: the current time MUST be after or equal to nbf.
        if nbf > now + skew:
            raise InvalidDPoPProof("DPoP proof is not valid yet (nbf)", reason="nbf")
    if "aud" in claims:
        # §4.1.3: a recipient that does not identify itself with a value of aud MUST reject the
        # JWT. A proof's recipient is the request URI (htu): it is identified by that URI or its
        # origin (RFC 6454 §6.2: scheme://host[:port]).
        aud = claims["aud"]
        values = [aud] if type(aud) is str else aud
        if type(values) is not list or not values or not all(type(v) is str for v in values):
            raise InvalidDPoPProof("DPoP proof aud is not a string or an array of strings", reason="aud")
        target = normalize_htu(url)
        origin = target[: target.index("/", target.index("//") + 2)]
        for value in values:
            try:
                if normalize_htu(value) in (target, origin + "/"):
                    return
            except InvalidDPoPProof:
                continue
        raise InvalidDPoPProof("DPoP proof aud does not name this server", reason="aud")


def _check_and_add(store: ReplayStore, key: str, expires_at: int) -> Any:
    return store.check_and_add(key, expires_at)


def _call_store(store: str, function: Callable[..., Any], *args: Any) -> Any:
    """Call a store; any failure refuses the request (fail closed, never waved through).

    ``store`` ("replay", "nonce") names the store on the :class:`StoreUnavailable` raised.
    """
    try:
        return function(*args)
    except StoreUnavailable as exc:
        if exc.store is None:
            exc.store = store
        raise
    except DPoPError:
        raise
    except Exception as exc:
        raise StoreUnavailable(store=store) from exc
