"""The ``DPOP_*`` settings, read live from ``django.conf.settings`` (so ``override_settings`` works).

Values are validated by the system checks in :mod:`django_dpop.checks`, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .core.policy import DEFAULT_ALGORITHMS, ProofPolicy


class Settings:
    """Shadow Django's settings with the defaults of django-dpop."""

    @property
    def DPOP_ALLOWED_ALGORITHMS(self) -> Sequence[str]:
        return getattr(settings, "DPOP_ALLOWED_ALGORITHMS", DEFAULT_ALGORITHMS)

    @property
    def DPOP_CLOCK_SKEW(self) -> int:
        return getattr(settings, "DPOP_CLOCK_SKEW", 60)

    @property
    def DPOP_PROOF_MAX_AGE(self) -> int:
        return getattr(settings, "DPOP_PROOF_MAX_AGE", 300)

    @property
    def DPOP_NONCE_REQUIRED(self) -> bool:
        return getattr(settings, "DPOP_NONCE_REQUIRED", False)

    @property
    def DPOP_NONCE_LIFETIME(self) -> int:
        return getattr(settings, "DPOP_NONCE_LIFETIME", 300)

    @property
    def DPOP_REPLAY_STORE(self) -> str | None:
        return getattr(settings, "DPOP_REPLAY_STORE", "django_dpop.storage.DatabaseReplayStore")

    @property
    def DPOP_REPLAY_CACHE(self) -> str:
        return getattr(settings, "DPOP_REPLAY_CACHE", "default")

    @property
    def DPOP_NONCE_STORE(self) -> str:
        return getattr(settings, "DPOP_NONCE_STORE", "django_dpop.storage.DatabaseNonceStore")

    @property
    def DPOP_STORE_TIMEOUT(self) -> float:
        return getattr(settings, "DPOP_STORE_TIMEOUT", 2.0)

    @property
    def DPOP_HTU_BASE_URL(self) -> str | None:
        return getattr(settings, "DPOP_HTU_BASE_URL", None)

    @property
    def DPOP_MAX_PROOF_LENGTH(self) -> int:
        return getattr(settings, "DPOP_MAX_PROOF_LENGTH", 8192)

    @property
    def DPOP_ALLOW_BEARER_TOKENS(self) -> bool:
        return getattr(settings, "DPOP_ALLOW_BEARER_TOKENS", True)

    @property
    def DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS(self) -> bool:
        return getattr(settings, "DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS", False)


conf = Settings()


def proof_policy() -> ProofPolicy:
    """Return the :class:`ProofPolicy` of the current settings (cached per distinct values)."""
    return _policy(
        tuple(conf.DPOP_ALLOWED_ALGORITHMS),
        conf.DPOP_PROOF_MAX_AGE,
        conf.DPOP_CLOCK_SKEW,
        conf.DPOP_NONCE_REQUIRED,
        conf.DPOP_MAX_PROOF_LENGTH,
    )


@lru_cache(maxsize=32)
def _policy(algs: tuple[str, ...], max_age: int, skew: int, nonce: bool, max_length: int) -> ProofPolicy:
    return ProofPolicy(
        allowed_algorithms=algs,
        max_age=max_age,
        clock_skew=skew,
        nonce_required=nonce,
        max_proof_length=max_length,
    )


@lru_cache(maxsize=32)
def _load(path: str) -> Any:
    return import_string(path)


def replay_store() -> Any:
    """Return an instance of ``DPOP_REPLAY_STORE``, or None when replay detection is disabled."""
    path = conf.DPOP_REPLAY_STORE
    return _load(path)() if path else None


def nonce_store() -> Any:
    """Return an instance of ``DPOP_NONCE_STORE``."""
    return _load(conf.DPOP_NONCE_STORE)()
