"""Public JWKs of DPoP proofs: validation (RFC 9449 §4.3 check 7) and RFC 7638 thumbprints."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from jwt.utils import base64url_decode, base64url_encode

from .errors import InvalidDPoPProof


# RFC 7638 §3.2: the required members of each key type, the only ones hashed.
THUMBPRINT_MEMBERS: dict[str, tuple[str, ...]] = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}

# RFC 7518 §6.2.2, §6.3.2, §6.4 and RFC 8037 §2: members that only a private or symmetric key has.
PRIVATE_MEMBERS: frozenset[str] = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

# RFC 7518 §6.2.1.2-6.2.1.3, §6.3.1.1-6.3.1.2, RFC 8037 §2: key material is base64url without
# padding (RFC 7515 §2). pyjwt's decoder skips foreign characters, so "AB!!CD" would build the
# same key as "ABCD" under another thumbprint: refuse anything outside the alphabet up front, and
# non-canonical final characters (_is_canonical_base64url).
_KEY_MATERIAL = ("x", "y", "n", "e")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

# RFC 7517 §4.6-4.9: members that would bring a second key (a certificate chain, a URL to fetch,
# a certificate thumbprint) beside the one the proof is verified with. A proof has one key.
FOREIGN_KEY_MEMBERS: frozenset[str] = frozenset({"x5u", "x5c", "x5t", "x5t#S256"})

# RFC 7518 §6.2.1.1 (and RFC 8812 §3.1 for secp256k1): octets of a coordinate and the field prime.
EC_CURVES: dict[str, tuple[int, int]] = {
    "P-256": (32, 2**256 - 2**224 + 2**192 + 2**96 - 1),
    "P-384": (48, 2**384 - 2**128 - 2**96 + 2**32 - 1),
    "P-521": (66, 2**521 - 1),
    "secp256k1": (32, 2**256 - 2**32 - 977),
}

_P25519 = 2**255 - 19
_P448 = 2**448 - 2**224 - 1
# The y coordinates of every point of small order (the cofactor subgroup): a signature by such a
# public key proves nothing (with A = identity, R = identity and S = 0 verify for any message;
# OpenSSL accepts that for Ed25519). This is libsodium's blocklist (ge25519_has_small_order in
# crypto_core/ed25519/ref10/ed25519_ref10.c): y = 1 (order 1), p - 1 (order 2), 0 (order 4) and
# the two y of the order-8 points, checked with either sign bit; its non-canonical entries p and
# p + 1 are refused above as y >= p. Ed448 (cofactor 4, RFC 8032 §5.2): y = 1, p - 1 and 0.
# Chalkias, Garillot and Nikolaenko, "Taming the many EdDSAs" (SSR 2020), discuss why verifiers
# refuse them.
_ED25519_ORDER8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022
OKP_CURVES: dict[str, tuple[int, int, frozenset[int]]] = {
    "Ed25519": (32, _P25519, frozenset({0, 1, _P25519 - 1, _ED25519_ORDER8_Y, _P25519 - _ED25519_ORDER8_Y})),
    "Ed448": (57, _P448, frozenset({0, 1, _P448 - 1})),
}

# Beyond these an RSA key only costs verification time (no DPoP client needs a modulus over
# 8192 bits); FIPS 186-5 §5.4 bounds the public exponent: odd, 2**16 < e < 2**256.
MAX_RSA_BITS = 8192
_MIN_RSA_EXPONENT = 2**16
_MAX_RSA_EXPONENT = 2**256


def _is_canonical_base64url(value: str) -> bool:
    # RFC 4648 §3.5: the unused low bits of the last character must be zero. Decoders ignore
    # them, so "...Fs" and "...Ft" would be one key under two thumbprints: only the canonical
    # spelling (what every encoder writes) is accepted.
    if not _BASE64URL.fullmatch(value):
        return False
    try:
        return base64url_encode(base64url_decode(value)).decode("ascii") == value
    except ValueError:  # binascii.Error: a length of 4k + 1 characters
        return False


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of ``jwk``, base64url without padding.

    This is the ``jkt`` of RFC 9449 (``cnf.jkt`` §6, ``dpop_jkt`` §10). Only the required members
    of the key type are hashed, in lexicographic order, with no whitespace (RFC 7638 §3.1-3.3).
    Raises :class:`InvalidDPoPProof` for anything that is not a JWK of a supported key type.
    """
    if not isinstance(jwk, Mapping):
        raise InvalidDPoPProof("jwk is not a JSON object", reason="jwk")
    kty = jwk.get("kty")
    members = THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise InvalidDPoPProof("jwk has an unsupported key type", reason="jwk")
    required: dict[str, str] = {}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidDPoPProof(f"jwk member {name!r} is missing or not a string", reason="jwk")
        required[name] = value
    canonical = json.dumps(required, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    try:
        # RFC 7638 §3: the UTF-8 octets of the JSON; a lone surrogate (JSON "\ud800") has none.
        octets = canonical.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidDPoPProof("jwk member is not valid Unicode", reason="jwk") from None
    return base64url_encode(hashlib.sha256(octets).digest()).decode("ascii")


def check_public_jwk(jwk: object) -> Mapping[str, Any]:
    """Return ``jwk`` if it is a public asymmetric signing JWK, else raise :class:`InvalidDPoPProof`.

    RFC 9449 §4.3 check 7: the ``jwk`` header must not contain a private key; a symmetric
    (``oct``) key is refused as well, since it is all secret. The key type must be one RFC 7638
    can thumbprint (EC, RSA, OKP) on a signature curve, and the key material (``x``, ``y``,
    ``n``, ``e``) canonical base64url of canonical integers (:func:`_check_key_material`), so
    that one key has exactly one spelling and one thumbprint. ``use`` and ``key_ops``, when
    present, must allow verification (RFC 7517 §4.2-4.3); no certificate or URL may ride along
    (:data:`FOREIGN_KEY_MEMBERS`).
    """
    if not isinstance(jwk, Mapping):
        raise InvalidDPoPProof("jwk header is not a JSON object", reason="jwk")
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in THUMBPRINT_MEMBERS:
        raise InvalidDPoPProof("jwk header is not an asymmetric public key", reason="jwk")
    if not PRIVATE_MEMBERS.isdisjoint(jwk):
        raise InvalidDPoPProof("jwk header contains a private key", reason="jwk")
    for name in THUMBPRINT_MEMBERS[kty]:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidDPoPProof(f"jwk header member {name!r} is missing or not a string", reason="jwk")
        if name in _KEY_MATERIAL and not _is_canonical_base64url(value):
            raise InvalidDPoPProof(f"jwk header member {name!r} is not base64url", reason="jwk")
    if not FOREIGN_KEY_MEMBERS.isdisjoint(jwk):
        raise InvalidDPoPProof("jwk header carries a certificate or key URL", reason="jwk")
    if "use" in jwk and jwk["use"] != "sig":
        raise InvalidDPoPProof("jwk header use is not sig", reason="jwk")
    if "key_ops" in jwk:
        key_ops = jwk["key_ops"]
        if type(key_ops) is not list or "verify" not in key_ops or not all(type(op) is str for op in key_ops):
            raise InvalidDPoPProof("jwk header key_ops does not allow verify", reason="jwk")
    _check_key_material(jwk)
    return jwk


def _octets(value: str) -> bytes:
    return base64url_decode(value)  # canonical base64url already (check_public_jwk)


def _check_key_material(jwk: Mapping[str, Any]) -> None:
    """Refuse key material with more than one encoding, or that cannot be a sound signing key.

    Pure integer arithmetic on the decoded octets: nothing cryptographic runs here.
    """
    kty = jwk["kty"]
    if kty == "RSA":
        n = _octets(jwk["n"])
        e = _octets(jwk["e"])
        # RFC 7518 §6.3.1.1-6.3.1.2: n and e are the minimal big-endian octets of the integer
        # ("AAEAAQ" is 65537 under another thumbprint, as is n with a leading zero octet).
        if n[0] == 0 or e[0] == 0:
            raise InvalidDPoPProof("jwk header RSA member is not minimally encoded", reason="jwk")
        # A modulus is odd and at most MAX_RSA_BITS; FIPS 186-5 §5.4 (e): 2**16 < e < 2**256, odd.
        if not n[-1] & 1 or len(n) * 8 > MAX_RSA_BITS:
            raise InvalidDPoPProof("jwk header RSA modulus is not a valid modulus", reason="jwk")
        exponent = int.from_bytes(e, "big")
        if not exponent & 1 or not _MIN_RSA_EXPONENT < exponent < _MAX_RSA_EXPONENT:
            raise InvalidDPoPProof("jwk header RSA exponent is not acceptable", reason="jwk")
        return
    crv = jwk["crv"]
    if kty == "EC":
        field = EC_CURVES.get(crv)
        if field is None:
            raise InvalidDPoPProof("jwk header EC curve is not supported", reason="jwk")
        size, prime = field
        # RFC 7518 §6.2.1.2-6.2.1.3: each coordinate is exactly the field size in octets, and
        # an integer below the field prime: x + p would be the same point, another thumbprint.
        for name in ("x", "y"):
            octets = _octets(jwk[name])
            if len(octets) != size or int.from_bytes(octets, "big") >= prime:
                raise InvalidDPoPProof(f"jwk header member {name!r} is not a {crv} coordinate", reason="jwk")
        return
    okp = OKP_CURVES.get(crv)  # kty == "OKP"
    if okp is None:
        raise InvalidDPoPProof("jwk header OKP curve is not a signature curve", reason="jwk")
    size, prime, small_order = okp
    x = _octets(jwk["x"])
    if len(x) != size:
        raise InvalidDPoPProof(f"jwk header member 'x' is not an {crv} public key", reason="jwk")
    # RFC 8032 §5.1.3 / §5.2.3 decoding, step 1: clear the sign bit (the top bit of the last
    # octet), the rest is y, and y >= p "fails": one key, one encoding.
    y = int.from_bytes(x, "little") & ~(1 << (8 * size - 1))
    if y >= prime:
        raise InvalidDPoPProof(f"jwk header member 'x' is not a canonical {crv} encoding", reason="jwk")
    if y in small_order:
        raise InvalidDPoPProof(f"jwk header {crv} key has small order", reason="jwk")
