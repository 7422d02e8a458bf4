"""Review (area 1): HasDPoPScope refuses a request without a token, even with no required scope.

Found by breaking ``if auth is None: return False`` on purpose (no test failed): a view that
requires no particular scope must still take tokens only, not a session cookie.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from django_dpop.test import DPoPAPIClient


pytestmark = [pytest.mark.urls("tests.review.urls_review"), pytest.mark.django_db]

DOT_VALIDATOR = "django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator"


def test_session_without_token_is_refused(settings: Any) -> None:
    client = APIClient()
    client.force_login(get_user_model().objects.create_user("alice"))
    response = client.get("/no-scope/")
    assert response.status_code == 403, response.content


def test_anonymous_is_challenged() -> None:
    response = APIClient().get("/no-scope/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("DPoP ")


def test_any_valid_token_passes(settings: Any) -> None:
    settings.DPOP_TOKEN_VALIDATORS = [DOT_VALIDATOR]
    client = DPoPAPIClient()
    client.obtain_token(scope="")
    assert client.get("/no-scope/").status_code == 200
