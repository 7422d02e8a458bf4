from __future__ import annotations

import pytest

from tests import services


_SERVICES = {
    "postgres": (services.POSTGRES_AVAILABLE, "PostgreSQL at 127.0.0.1:5432 (with psycopg)"),
    "redis": (services.REDIS_AVAILABLE, "Redis at 127.0.0.1:6379 (with redis-py)"),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests of an absent service with a reason; under CI (``CI`` set) stop the run instead."""
    for marker, (available, what) in _SERVICES.items():
        if available or not any(item.get_closest_marker(marker) for item in items):
            continue
        if services.REQUIRED:
            pytest.exit(f"CI requires {what}, which is not reachable", returncode=1)
        skip = pytest.mark.skip(reason=f"needs {what}; not reachable here")
        for item in items:
            if item.get_closest_marker(marker):
                item.add_marker(skip)
