"""Nonce arithmetic shared by the nonce stores (RFC 9449 §8, §9).

A nonce belongs to a rotation *step* of ``period`` seconds and is accepted during its own step and
the next one, so it lives between ``period`` and ``2 * period`` seconds; the stores take
``period = lifetime // 2``. Signed nonces (stateless) carry their step and an HMAC over it.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from jwt.utils import base64url_decode, base64url_encode

from .stores import NonceStatus


# RFC 9449 §8.1: nonce = 1*NQCHAR; we never accept anything longer than this.
MAX_NONCE_LENGTH = 256
_NQCHAR = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def is_nonce_syntax(value: object) -> bool:
    """Return True if ``value`` is a string of RFC 9449 §8.1 ``NQCHAR`` of sane length."""
    return isinstance(value, str) and 0 < len(value) <= MAX_NONCE_LENGTH and bool(_NQCHAR.fullmatch(value))


def rotation_period(lifetime: int) -> int:
    """Return the rotation step length for a nonce lifetime, at least one second."""
    return max(1, lifetime // 2)


def current_step(now: float, period: int) -> int:
    return int(now // period)


def step_status(step: int, now_step: int) -> NonceStatus:
    """A nonce of ``step`` is current in its step, still valid in the next one, then invalid."""
    if step == now_step:
        return NonceStatus.CURRENT
    if step == now_step - 1:
        return NonceStatus.VALID
    return NonceStatus.INVALID


def sign_nonce(key: bytes, purpose: str, step: int) -> str:
    """Return the signed nonce of ``step``: ``b64(step).b64(HMAC-SHA256(key, purpose|step))``."""
    step_bytes = step.to_bytes(8, "big", signed=False)
    mac = hmac.new(key, purpose.encode() + b"|" + step_bytes, hashlib.sha256).digest()
    return f"{base64url_encode(step_bytes).decode()}.{base64url_encode(mac).decode()}"


def signed_nonce_step(key: bytes, purpose: str, nonce: str) -> int | None:
    """Return the step of a signed nonce whose HMAC verifies, else None (constant-time compare)."""
    if not is_nonce_syntax(nonce) or nonce.count(".") != 1:
        return None
    step_part, _ = nonce.split(".")
    try:
        step_bytes = base64url_decode(step_part)
    except ValueError:
        return None
    if len(step_bytes) != 8:
        return None
    step = int.from_bytes(step_bytes, "big")
    expected = sign_nonce(key, purpose, step)
    return step if hmac.compare_digest(expected.encode(), nonce.encode()) else None
