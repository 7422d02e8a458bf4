"""Fixtures shared by the whole suite (keys, a user, an application, tokens) and the service-skip hook."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from tests import services
from tests.factories import TestKey, make_key


_SERVICES = {
    "postgres": (services.POSTGRES_AVAILABLE, "PostgreSQL at 127.0.0.1:5432 (with psycopg)"),
    "redis": (services.REDIS_AVAILABLE, "Redis at 127.0.0.1:6379 (with redis-py)"),
    "browser": (services.BROWSER_AVAILABLE, f"Chromium at {services.CHROMIUM} (with playwright)"),
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


@pytest.fixture(scope="session")
def key() -> TestKey:
    return make_key("ES256")


@pytest.fixture(scope="session")
def other_key() -> TestKey:
    return make_key("ES256")


@pytest.fixture
def user(db: Any) -> Any:
    """alice; the password is for the DOT tests of the password grant."""
    return get_user_model().objects.create_user("alice", password="wonderland")


@pytest.fixture
def application(db: Any, user: Any) -> Any:
    return get_application_model().objects.create(
        name="api client",
        user=user,
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris="https://client.example.org/cb",
    )


@pytest.fixture
def make_token(db: Any, application: Any, user: Any) -> Callable[..., Any]:
    """Create an access token with the ORM; ``jkt`` binds it (RFC 9449 §6), ``user=None`` is client credentials."""
    from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding

    def make(
        *,
        jkt: str | None = None,
        scope: str = "read write",
        user: Any = user,
        expires_in: int = 3600,
        token: str | None = None,
        resource: list[str] | None = None,
    ) -> Any:
        access_token = get_access_token_model().objects.create(
            token=token or secrets.token_urlsafe(24),
            application=application,
            user=user,
            scope=scope,
            expires=timezone.now() + datetime.timedelta(seconds=expires_in),
            resource=resource or [],
        )
        if jkt is not None:
            AccessTokenBinding.objects.create(access_token=access_token, jkt=jkt)
        return access_token

    return make
