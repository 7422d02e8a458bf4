"""Stores that fail on purpose, for the fault cases (configured by import path)."""

from __future__ import annotations

from django.db import OperationalError

from django_dpop.core.stores import NonceStatus


class DownReplayStore:
    def check_and_add(self, key: str, expires_at: int) -> bool:
        raise OperationalError("database is locked")


class NonsenseReplayStore:
    """Answers something that is neither True nor False: must refuse, never accept."""

    def check_and_add(self, key: str, expires_at: int) -> bool:
        return "yes"  # type: ignore[return-value]


class DownNonceStore:
    def issue(self, purpose: str) -> str:
        raise ConnectionError("redis unreachable")

    def check(self, nonce: str, purpose: str) -> NonceStatus:
        raise ConnectionError("redis unreachable")


class NonsenseNonceStore:
    def issue(self, purpose: str) -> str:
        return "n" * 32

    def check(self, nonce: str, purpose: str) -> NonceStatus:
        return "current"  # type: ignore[return-value]


class UnbuildableStore:
    def __init__(self) -> None:
        raise RuntimeError("misconfigured")
