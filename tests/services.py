"""Which external services (PostgreSQL, Redis on 127.0.0.1) the tests can use.

Tests that need one skip with a reason when it is absent; under CI (``CI`` set) they fail instead,
so that a missing service can never turn into a green run that tested nothing.
"""

from __future__ import annotations

import os
import socket


POSTGRES_HOST = os.environ.get("DPOP_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("DPOP_TEST_POSTGRES_PORT", "5432"))
REDIS_URL = os.environ.get("DPOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRED = bool(os.environ.get("CI"))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _module_available(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


POSTGRES_AVAILABLE = _reachable(POSTGRES_HOST, POSTGRES_PORT) and _module_available("psycopg")
REDIS_AVAILABLE = _reachable("127.0.0.1", 6379) and _module_available("redis")
#: Debian's Chromium (``apt-get install chromium``; .ci/run installs it), driven by playwright.
CHROMIUM = os.environ.get("DPOP_TEST_CHROMIUM", "/usr/bin/chromium")
BROWSER_AVAILABLE = os.access(CHROMIUM, os.X_OK) and _module_available("playwright")
