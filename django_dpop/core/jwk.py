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
        raise InvalidDPoPProof("jwk is not a JSON object")
    kty = jwk.get("kty")
    members = THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise InvalidDPoPProof("jwk has an unsupported key type")
    required: dict[str, str] = {}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidDPoPProof(f"jwk member {name!r} is missing or not a string")
        required[name] = value
    canonical = json.dumps(required, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    try:
        # RFC 7638 §3: the UTF-8 octets of the JSON; a lone surrogate (JSON "\ud800") has none.
        octets = canonical.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidDPoPProof("jwk member is not valid Unicode") from None
    return base64url_encode(hashlib.sha256(octets).digest()).decode("ascii")


def check_public_jwk(jwk: object) -> Mapping[str, Any]:
    """Return ``jwk`` if it is a public asymmetric JWK, else raise :class:`InvalidDPoPProof`.

    RFC 9449 §4.3 check 7: the ``jwk`` header must not contain a private key; a symmetric
    (``oct``) key is refused as well, since it is all secret. The key type must be one RFC 7638
    can thumbprint (EC, RSA, OKP), ``crv`` a string, and the key material (``x``, ``y``, ``n``,
    ``e``) base64url strings, so that one key has exactly one spelling and one thumbprint.
    """
    if not isinstance(jwk, Mapping):
        raise InvalidDPoPProof("jwk header is not a JSON object")
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in THUMBPRINT_MEMBERS:
        raise InvalidDPoPProof("jwk header is not an asymmetric public key")
    if not PRIVATE_MEMBERS.isdisjoint(jwk):
        raise InvalidDPoPProof("jwk header contains a private key")
    for name in THUMBPRINT_MEMBERS[kty]:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidDPoPProof(f"jwk header member {name!r} is missing or not a string")
        if name in _KEY_MATERIAL and not _is_canonical_base64url(value):
            raise InvalidDPoPProof(f"jwk header member {name!r} is not base64url")
    return jwk
