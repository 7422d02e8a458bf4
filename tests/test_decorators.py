"""``dpop_required`` and ``DPoPRequiredMixin`` on plain Django views, sync and async (RFC 9449 §7)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client
from django.urls import path
from django.views import View

from django_dpop.conf import conf
from django_dpop.core.nonces import rotation_period
from django_dpop.decorators import dpop_required
from django_dpop.mixins import DPoPRequiredMixin
from django_dpop.proofs import RESOURCE
from django_dpop.storage import DatabaseNonceStore
from tests.factories import make_proof


def describe(request: HttpRequest) -> dict[str, Any]:
    proof = request.dpop_proof  # type: ignore[attr-defined]
    return {
        "client_id": request.auth.application.client_id,  # type: ignore[attr-defined]
        "user": request.user.get_username() or None,
        "authenticated": request.user.is_authenticated,
        "jkt": proof.jkt if proof else None,
    }


@dpop_required
def sync_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


@dpop_required(scopes=["admin"])
def admin_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


@dpop_required
async def async_view(request: HttpRequest) -> JsonResponse:
    await asyncio.sleep(0)
    return JsonResponse(describe(request))


class SyncClassView(DPoPRequiredMixin, View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(describe(request))

    post = get


class AsyncClassView(DPoPRequiredMixin, View):
    required_scopes = ["read"]

    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(describe(request))


class AsyncAdminClassView(AsyncClassView):
    required_scopes = ["admin"]


urlpatterns = [
    path("sync/", sync_view),
    path("admin/", admin_view),
    path("async/", async_view),
    path("class/", SyncClassView.as_view()),
    path("async-class/", AsyncClassView.as_view()),
    path("async-admin/", AsyncAdminClassView.as_view()),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
PROTECTED = ["/sync/", "/async/", "/class/", "/async-class/"]


def call(
    path: str, token: Any = None, proof: str | None = None, scheme: str = "DPoP", method: str = "get"
) -> Any:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token.token}"
    if proof is not None:
        headers["DPoP"] = proof
    return getattr(Client(), method)(path, headers=headers)


@pytest.mark.parametrize("path", PROTECTED)
def test_valid_dpop_request(key, make_token, user, path):
    token = make_token(jkt=key.jkt)
    response = call(path, token, make_proof(key, "GET", f"http://testserver{path}", access_token=token.token))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "client_id": token.application.client_id,
        "user": user.username,
        "authenticated": True,
        "jkt": key.jkt,
    }


@pytest.mark.parametrize("path", PROTECTED)
def test_no_credentials(path):
    response = call(path)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_request"
    assert response.headers["WWW-Authenticate"].startswith('DPoP algs="')
    assert response.headers["WWW-Authenticate"].endswith(", Bearer")


@pytest.mark.parametrize("path", PROTECTED)
def test_key_mismatch(key, other_key, make_token, path):
    token = make_token(jkt=key.jkt)
    proof = make_proof(other_key, "GET", f"http://testserver{path}", access_token=token.token)
    response = call(path, token, proof)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": "Invalid DPoP key binding"}
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')


STOCK_DOT = {
    "OAUTH2_BACKEND_CLASS": "oauth2_provider.oauth2_backends.OAuthLibCore",
    "OAUTH2_VALIDATOR_CLASS": "oauth2_provider.oauth2_validators.OAuth2Validator",
}


@pytest.mark.parametrize("validator", ["dpop-validator", "stock-dot"])
@pytest.mark.parametrize("path", PROTECTED)
def test_bound_token_as_bearer(key, make_token, path, validator, settings):
    """RFC 9449 §7.2, even when the host's DOT validator lacks the mixin's downgrade guard."""
    if validator == "stock-dot":
        settings.OAUTH2_PROVIDER = STOCK_DOT
    token = make_token(jkt=key.jkt)
    response = call(path, token, scheme="Bearer")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    # The same token unbound passes the same validator: the binding alone refused it.
    token.dpop_binding.delete()
    assert call(path, token, scheme="Bearer").status_code == 200


@pytest.mark.parametrize("path", PROTECTED)
def test_token_for_another_resource(key, make_token, path):
    """RFC 8707: the token's resources must cover the URI the proof names."""
    other = make_token(jkt=key.jkt, resource=["https://other.example.com/"])
    proof = make_proof(key, "GET", f"http://testserver{path}", access_token=other.token)
    response = call(path, other, proof)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    ours = make_token(jkt=key.jkt, resource=[f"http://testserver{path}"])
    proof = make_proof(key, "GET", f"http://testserver{path}", access_token=ours.token)
    assert call(path, ours, proof).status_code == 200


@pytest.mark.parametrize("path", PROTECTED)
def test_unbound_bearer_token(make_token, path, settings):
    token = make_token()
    response = call(path, token, scheme="Bearer")
    assert response.status_code == 200, response.content
    assert response.json()["jkt"] is None
    settings.DPOP_ALLOW_BEARER_TOKENS = False
    response = call(path, token, scheme="Bearer")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_unknown_bearer_token_error_on_bearer_challenge():
    response = Client().get("/sync/", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    header = response.headers["WWW-Authenticate"]
    assert header.startswith('DPoP algs="')
    assert ', Bearer error="invalid_token"' in header


def test_bearer_with_dpop_header_is_400(key, make_token):
    token = make_token()
    response = call("/sync/", token, make_proof(key, "GET", "http://testserver/sync/"), scheme="Bearer")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_client_credentials_token_is_anonymous(key, make_token, client):
    # A session user must not leak into a request authenticated by a client-credentials token.
    token = make_token(jkt=key.jkt, user=None)
    client.force_login(token.application.user)
    response = client.get(
        "/sync/",
        headers={
            "Authorization": f"DPoP {token.token}",
            "DPoP": make_proof(key, "GET", "http://testserver/sync/", access_token=token.token),
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["user"] is None
    assert response.json()["authenticated"] is False


@pytest.mark.parametrize(("path", "dpop"), [("/admin/", True), ("/async-admin/", True), ("/admin/", False)])
def test_insufficient_scope(key, make_token, path, dpop):
    token = make_token(jkt=key.jkt if dpop else None, scope="read")
    proof = make_proof(key, "GET", f"http://testserver{path}", access_token=token.token) if dpop else None
    response = call(path, token, proof, scheme="DPoP" if dpop else "Bearer")
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    scheme = "DPoP" if dpop else "Bearer"
    assert response.headers["WWW-Authenticate"].startswith(
        f'{scheme} error="insufficient_scope", scope="admin"'
    )


def test_post_is_csrf_exempt(key, make_token):
    token = make_token(jkt=key.jkt)
    response = Client(enforce_csrf_checks=True).post(
        "/class/",
        headers={
            "Authorization": f"DPoP {token.token}",
            "DPoP": make_proof(key, "POST", "http://testserver/class/", access_token=token.token),
        },
    )
    assert response.status_code == 200, response.content


def test_replay_refused(key, make_token):
    token = make_token(jkt=key.jkt)
    proof = make_proof(key, "GET", "http://testserver/async/", access_token=token.token)
    assert call("/async/", token, proof).status_code == 200
    response = call("/async/", token, proof)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_dpop_proof", "error_description": "DPoP proof replayed"}


def test_store_failure_is_503(key, make_token, settings):
    settings.DPOP_REPLAY_STORE = "tests.contrib.rest_framework.conftest.FailingStore"
    token = make_token(jkt=key.jkt)
    response = call(
        "/async/", token, make_proof(key, "GET", "http://testserver/async/", access_token=token.token)
    )
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "WWW-Authenticate" not in response.headers
    assert response.headers["Retry-After"] == "5"  # DPOP_RETRY_AFTER's default


@pytest.mark.parametrize("path", ["/sync/", "/async-class/"])
def test_nonces(key, make_token, settings, path):
    settings.DPOP_NONCE_REQUIRED = True
    url = f"http://testserver{path}"
    token = make_token(jkt=key.jkt)
    response = call(path, token, make_proof(key, "GET", url, access_token=token.token))
    assert response.status_code == 401
    assert response.json()["error"] == "use_dpop_nonce"
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    nonce = response.headers["DPoP-Nonce"]
    response = call(path, token, make_proof(key, "GET", url, access_token=token.token, nonce=nonce))
    assert response.status_code == 200, response.content
    assert "DPoP-Nonce" not in response.headers
    store = DatabaseNonceStore()
    previous = store.issue(RESOURCE, now=time.time() - rotation_period(conf.DPOP_NONCE_LIFETIME))
    response = call(path, token, make_proof(key, "GET", url, access_token=token.token, nonce=previous))
    assert response.status_code == 200, response.content
    assert response.headers["DPoP-Nonce"] == store.issue(RESOURCE)


@pytest.mark.parametrize("path", ["/async/", "/async-class/"])
def test_async_views_under_asgi(key, make_token, path):
    # Through Django's ASGI handler: the checks run in sync_to_async, the view stays a coroutine.
    token = make_token(jkt=key.jkt)
    proof = make_proof(key, "GET", f"http://testserver{path}", access_token=token.token)
    get = async_to_sync(AsyncClient().get)
    response = get(path, headers={"Authorization": f"DPoP {token.token}", "DPoP": proof})
    assert response.status_code == 200, response.content
    assert response.json()["jkt"] == key.jkt
    response = get(path, headers={"Authorization": f"DPoP {token.token}", "DPoP": proof})
    assert response.status_code == 401


def test_decorated_views_keep_their_kind():
    assert asyncio.iscoroutinefunction(async_view)
    assert not asyncio.iscoroutinefunction(sync_view)
    assert AsyncClassView.view_is_async
    assert sync_view.__name__ == "sync_view"
