"""``DPoPAPIClient``: a DRF test client that signs a fresh proof for every request."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.client import DPoPKey
from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.core import NonceStatus
from django_dpop.test import DPoPAPIClient
from tests.contrib.rest_framework.test_authentication import HasToken


class EchoView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [HasToken]

    def get(self, request: Any) -> Response:
        return Response(
            {
                "jkt": request.dpop_proof.jkt,
                "htu": request.dpop_proof.htu,
                "user": request.user.username if request.user else None,
            }
        )

    def post(self, request: Any) -> Response:
        return Response({"jkt": request.dpop_proof.jkt, "data": request.data})


urlpatterns = [path("api/echo/", EchoView.as_view())]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def test_one_line_api_test(application, user):
    client = DPoPAPIClient()
    client.obtain_token(application, user=user, scope="read")
    response = client.get("/api/echo/")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "jkt": client.dpop_key.thumbprint,
        "htu": "http://testserver/api/echo/",
        "user": user.username,
    }


def test_fresh_proof_per_request_and_replay_refused(application):
    client = DPoPAPIClient()
    client.obtain_token(application)
    assert client.get("/api/echo/").status_code == 200
    first = client.last_proof
    assert client.get("/api/echo/?page=2").status_code == 200  # query is not part of htu
    assert client.last_proof != first
    response = client.get("/api/echo/", HTTP_DPOP=first)  # an explicit header wins: a replay
    assert response.status_code == 401
    assert response.json()["detail"] == "DPoP proof replayed"


def test_given_token_and_key(make_token):
    key = DPoPKey.generate("EdDSA")
    token = make_token(jkt=key.thumbprint)
    client = DPoPAPIClient(key=key)
    client.credentials(token=token.token)
    response = client.get("/api/echo/")
    assert response.status_code == 200, response.content
    assert response.json()["jkt"] == key.thumbprint


def test_explicit_dpop_authorization_gets_its_own_ath(make_token):
    client = DPoPAPIClient()
    client.obtain_token()
    other = make_token(jkt=client.dpop_key.thumbprint)
    response = client.get("/api/echo/", HTTP_AUTHORIZATION=f"dpop {other.token}")
    assert response.status_code == 200, response.content
    bearer = client.get("/api/echo/", HTTP_AUTHORIZATION=f"Bearer {other.token}")
    assert bearer.status_code == 400  # a proof beside a Bearer token; no ath was computed for it


def test_client_credentials_token():
    client = DPoPAPIClient()
    access_token = client.obtain_token(scope=["read", "write"])
    assert access_token.user is None and access_token.scope == "read write"
    response = client.get("/api/echo/")
    assert response.status_code == 200, response.content
    assert response.json()["user"] is None


def test_other_key_is_refused(application):
    client = DPoPAPIClient()
    client.obtain_token(application)
    client.dpop_key = DPoPKey.generate()
    response = client.get("/api/echo/")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_follows_one_nonce_challenge_and_resends_the_body(application, settings):
    settings.DPOP_NONCE_REQUIRED = True
    client = DPoPAPIClient()
    client.obtain_token(application)
    response = client.post("/api/echo/", {"n": 1}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"jkt": client.dpop_key.thumbprint, "data": {"n": 1}}
    assert client.nonce
    # The nonce is kept for the next request: no challenge this time.
    first_nonce = client.nonce
    response = client.get("/api/echo/")
    assert response.status_code == 200
    assert client.nonce == first_nonce


class RefusingNonceStore:
    """A nonce store that never accepts a nonce: the client must give up after one retry."""

    issued = 0

    def issue(self, purpose: str) -> str:
        type(self).issued += 1
        return f"nonce-{self.issued}"

    def check(self, nonce: str, purpose: str) -> NonceStatus:
        return NonceStatus.INVALID


def test_retries_only_once(application, settings):
    settings.DPOP_NONCE_REQUIRED = True
    settings.DPOP_NONCE_STORE = f"{__name__}.RefusingNonceStore"
    RefusingNonceStore.issued = 0
    client = DPoPAPIClient()
    client.obtain_token(application)
    response = client.get("/api/echo/")
    assert response.status_code == 401
    assert RefusingNonceStore.issued == 2  # the first request and its one retry
    assert client.nonce == "nonce-2"


def test_without_nonce_following(application, settings):
    settings.DPOP_NONCE_REQUIRED = True
    client = DPoPAPIClient(follow_nonce=False)
    client.obtain_token(application)
    response = client.get("/api/echo/")
    assert response.status_code == 401
    assert 'error="use_dpop_nonce"' in response.headers["WWW-Authenticate"]
    assert client.nonce == response.headers["DPoP-Nonce"]
    assert client.get("/api/echo/").status_code == 200


def test_https_and_mount_path(application):
    client = DPoPAPIClient()
    client.obtain_token(application)
    response = client.get("/api/echo/", secure=True, SCRIPT_NAME="/app")
    assert response.status_code == 200, response.content
    assert response.json()["htu"] == "https://testserver/app/api/echo/"


def test_base_url_for_a_pinned_public_origin(application, settings):
    settings.DPOP_HTU_BASE_URL = "https://api.example.com"
    client = DPoPAPIClient()
    client.obtain_token(application)
    assert client.get("/api/echo/").status_code == 401  # signed for http://testserver
    pinned = DPoPAPIClient(key=client.dpop_key, base_url="https://api.example.com/")
    pinned.credentials(token=client.access_token)
    response = pinned.get("/api/echo/")
    assert response.status_code == 200, response.content
    assert response.json()["htu"] == "https://api.example.com/api/echo/"


def test_non_ascii_path_is_signed_as_django_sees_it(application):
    client = DPoPAPIClient()
    client.obtain_token(application)
    environ = {"PATH_INFO": "/caf\u00c3\u00a9/", "wsgi.url_scheme": "http", "SERVER_NAME": "testserver"}
    assert client.request_url(environ) == "http://testserver/caf%C3%A9/"
