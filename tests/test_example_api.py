"""The example project's ``/api/me/``, tested the way users test theirs: with ``DPoPAPIClient``."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import path
from rest_framework.test import APIClient

from django_dpop.test import DPoPAPIClient
from example_project.api import MeView


urlpatterns = [path("api/me/", MeView.as_view())]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture(autouse=True)
def example_settings(settings: Any) -> None:
    settings.DPOP_ALLOW_BEARER_TOKENS = False  # as in example_project/settings.py


@pytest.mark.parametrize("method", ["get", "post"])
def test_me(application, user, method):
    client = DPoPAPIClient()
    client.obtain_token(application, user=user, scope="read")
    response = getattr(client, method)("/api/me/")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "client_id": application.client_id,
        "sub": str(user.pk),
        "user": user.username,
        "scope": "read",
        "jkt": client.dpop_key.thumbprint,
        "source": "dot",
        "method": method.upper(),
    }


def test_client_credentials_token_without_user(application):
    client = DPoPAPIClient()
    client.obtain_token(application)
    response = client.get("/api/me/")
    assert response.status_code == 200, response.content
    assert response.json()["user"] is None


def test_replay_and_downgrade_are_refused(application):
    client = DPoPAPIClient()
    client.obtain_token(application)
    assert client.get("/api/me/").status_code == 200
    replayed = client.get("/api/me/", HTTP_DPOP=client.last_proof)
    assert replayed.status_code == 401
    assert 'error="invalid_dpop_proof"' in replayed.headers["WWW-Authenticate"]
    # The same token as Bearer, without a proof: a downgrade (RFC 9449 §7.2).
    downgrade = APIClient().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {client.access_token}")
    assert downgrade.status_code == 401
    assert 'error="invalid_token"' in downgrade.headers["WWW-Authenticate"]


def test_no_credentials_is_401_with_the_dpop_challenge():
    response = DPoPAPIClient().get("/api/me/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('DPoP algs="')
