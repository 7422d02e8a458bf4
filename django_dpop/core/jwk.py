"""Public JWKs of DPoP proofs: validation (RFC 9449 §4.3 check 7) and RFC 7638 thumbprints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from jwt.utils import base64url_encode

from .errors import InvalidDPoPProof


# RFC 7638 §3.2: the required members of each key type, the only ones hashed.
THUMBPRINT_MEMBERS: dict[str, tuple[str, ...]] = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}

# RFC 7518 §6.2.2, §6.3.2, §6.4 and RFC 8037 §2: members that only a private or symmetric key has.
PRIVATE_MEMBERS: frozenset[str] = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of ``jwk``, base64url without padding.

    This is the ``jkt`` of RFC 9449 (``cnf.jkt`` §6, ``dpop_jkt`` §10). Only the required members
    of the key type are hashed, in lexicographic order, with no whitespace (RFC 7638 §3.1-3.3).
    """
    if not isinstance(jwk, Mapping):
        raise InvalidDPoPProof("jwk is not a JSON object")
    members = THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None:
        raise InvalidDPoPProof("jwk has an unsupported key type")
    required: dict[str, str] = {}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidDPoPProof(f"jwk member {name!r} is missing or not a string")
        required[name] = value
    canonical = json.dumps(required, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return base64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest()).decode("ascii")


def check_public_jwk(jwk: object) -> Mapping[str, Any]:
    """Return ``jwk`` if it is a public asymmetric JWK, else raise :class:`InvalidDPoPProof`.

    RFC 9449 §4.3 check 7: the ``jwk`` header must not contain a private key; a symmetric
    (``oct``) key is refused as well, since it is all secret.
    """
    if not isinstance(jwk, Mapping):
        raise InvalidDPoPProof("jwk header is not a JSON object")
    if jwk.get("kty") not in THUMBPRINT_MEMBERS:
        raise InvalidDPoPProof("jwk header is not an asymmetric public key")
    if PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidDPoPProof("jwk header contains a private key")
    return jwk
