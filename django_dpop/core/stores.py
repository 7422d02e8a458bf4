"""Interfaces of the stores the verifier talks to; implementations live in ``django_dpop.storage``."""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable


@runtime_checkable
class ReplayStore(Protocol):
    """Remembers accepted proofs (RFC 9449 §11.1) until they would be refused as too old anyway."""

    def check_and_add(self, key: str, expires_at: int) -> bool:
        """Record ``key`` until ``expires_at`` (Unix time); return False if it was already there.

        Must be atomic: of two concurrent calls with one key, exactly one returns True.
        Any failure must raise, never return True.
        """
        ...


class NonceStatus(enum.Enum):
    """What a nonce store says of a nonce a client sent."""

    CURRENT = "current"  # valid and the newest: nothing to do
    VALID = "valid"  # still accepted, but a newer one exists: send it (RFC 9449 §8.2)
    INVALID = "invalid"  # unknown, expired, malformed or of another purpose


@runtime_checkable
class NonceStore(Protocol):
    """Server-provided nonces (RFC 9449 §8, §9); ``purpose`` separates token endpoint and resources."""

    def issue(self, purpose: str) -> str:
        """Return the current nonce for ``purpose`` (the same for every caller within a period)."""
        ...

    def check(self, nonce: str, purpose: str) -> NonceStatus:
        """Say whether ``nonce`` is acceptable for ``purpose``."""
        ...
