"""Keys for the core tests, made once per session (RSA key generation is slow)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.factories import TestKey, make_key


_KEYS: dict[str, TestKey] = {}


def key_for(alg: str) -> TestKey:
    """Return the session's key for ``alg`` (RS* and PS* share one RSA key)."""
    name = "RSA" if alg[:2] in ("RS", "PS") else alg
    if name not in _KEYS:
        _KEYS[name] = make_key(alg)
    cached = _KEYS[name]
    return cached if cached.alg == alg else TestKey(alg, cached.private_key, cached.public_jwk)


@pytest.fixture
def keys() -> Callable[[str], TestKey]:
    return key_for


@pytest.fixture
def es256() -> TestKey:
    return key_for("ES256")
