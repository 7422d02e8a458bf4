"""pytest fixtures for testing a DPoP-protected API, registered with pytest when django-dpop is installed.

    def test_me(dpop_client, dpop_application, dpop_user):
        dpop_client.obtain_token(dpop_application, user=dpop_user, scope="read")
        assert dpop_client.get("/api/me/").status_code == 200

Nothing is imported until a fixture is used, so the plugin costs nothing in projects (or test
runs) that do not use it; the fixtures need pytest-django (``db``) and, for
``dpop_application``, django-oauth-toolkit. A project's own fixtures of the same name win.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def dpop_client() -> Any:
    """A :class:`~django_dpop.test.DPoPAPIClient` holding a fresh ES256 key."""
    from django_dpop.test import DPoPAPIClient

    return DPoPAPIClient()


@pytest.fixture
def dpop_user(db: Any) -> Any:
    """A user of the project's user model (username ``dpop-user``), in the test database."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("dpop-user")


@pytest.fixture
def dpop_application(db: Any) -> Any:
    """A confidential django-oauth-toolkit application to issue test tokens for."""
    from oauth2_provider.models import get_application_model

    return get_application_model().objects.create(
        name="dpop test client",
        client_type="confidential",
        authorization_grant_type="client-credentials",
    )
