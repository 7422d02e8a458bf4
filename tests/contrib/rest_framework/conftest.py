"""Tokens and bindings made with the ORM (no token endpoint needed) for the resource-server tests."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding
from tests.factories import TestKey, make_key


@pytest.fixture(scope="session")
def key() -> TestKey:
    return make_key("ES256")


@pytest.fixture(scope="session")
def other_key() -> TestKey:
    return make_key("ES256")


@pytest.fixture
def user(db: Any) -> Any:
    return get_user_model().objects.create_user("alice", password="not-used")


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
    """Create an access token; ``jkt`` binds it (RFC 9449 §6), ``user=None`` is client credentials."""

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


class FailingStore:
    """A replay store whose backend is down: it raises, as a real store does on a lost connection."""

    def check_and_add(self, key: str, expires_at: int) -> bool:
        raise ConnectionError("replay store is down")
