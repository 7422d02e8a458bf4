"""Binding of a proof to an access token (``ath``, RFC 9449 §4.2) and to a key (``jkt``, §6)."""

from __future__ import annotations

import hashlib
import hmac

from jwt.utils import base64url_encode


def compute_ath(access_token: str) -> str:
    """Return ``ath``: base64url(SHA-256(ASCII access token)) without padding (RFC 9449 §4.2)."""
    return base64url_encode(hashlib.sha256(access_token.encode("ascii")).digest()).decode("ascii")


def jkt_matches(expected: str | None, actual: str | None) -> bool:
    """Compare two thumbprints in constant time; ``None`` never matches (RFC 9449 §4.3 check 12b)."""
    if not expected or not actual:
        return False
    return hmac.compare_digest(expected.encode("ascii", "replace"), actual.encode("ascii", "replace"))
