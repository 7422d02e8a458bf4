"""Helpers of the resource-server tests; the keys, user, application and ``make_token`` fixtures are in ``tests/conftest.py``."""

from __future__ import annotations


class FailingStore:
    """A replay store whose backend is down: it raises, as a real store does on a lost connection."""

    def check_and_add(self, key: str, expires_at: int) -> bool:
        raise ConnectionError("replay store is down")
