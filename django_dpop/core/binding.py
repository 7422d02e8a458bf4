"""Binding of a proof to an access token (``ath``, RFC 9449 §4.2) and to a key (``jkt``, §6)."""

from __future__ import annotations

import hashlib
import hmac
from binascii import b2a_base64


_TO_BASE64URL = bytes.maketrans(b"+/", b"-_")


def compute_ath(access_token: str) -> str:
    """Return ``ath``: base64url(SHA-256(ASCII access token)) without padding (RFC 9449 §4.2).

    Raises ``UnicodeEncodeError`` for a token that is not ASCII (RFC 6750 §2.1: token68).
    """
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    # 32 octets are 43 base64 characters and one "=" of padding (RFC 7515 §2 drops it).
    return b2a_base64(digest, newline=False)[:43].translate(_TO_BASE64URL).decode("ascii")


def jkt_matches(expected: str | None, actual: str | None) -> bool:
    """Compare two thumbprints in constant time; ``None`` never matches (RFC 9449 §4.3 check 12b).

    Anything that is not a non-empty string (``None``, ``""``, bytes) never matches either.
    """
    if not isinstance(expected, str) or not isinstance(actual, str) or not expected or not actual:
        return False
    # Exact code points: "surrogatepass" keeps distinct strings distinct (no "?" replacement).
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), actual.encode("utf-8", "surrogatepass")
    )
