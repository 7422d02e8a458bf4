"""Fixtures of the DOT authorization-server tests (keys and ``user`` are in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.contrib.oauth2_provider.flows import App, make_app


@pytest.fixture
def browser(user: Any) -> Client:
    """A test client with alice logged in (for the authorization endpoint)."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def app_factory(user: Any) -> Callable[..., App]:
    def factory(grant_type: str, *, public: bool = False, **fields: Any) -> App:
        return make_app(user, grant_type, public=public, **fields)

    return factory


@pytest.fixture
def dot_settings(settings: Any) -> Callable[..., None]:
    """Change DOT settings for one test (DOT reloads ``oauth2_settings`` on setting_changed)."""

    def update(**values: Any) -> None:
        settings.OAUTH2_PROVIDER = {**django_settings.OAUTH2_PROVIDER, **values}

    return update
