"""``DPOP_NONCE_ON_EVERY_RESPONSE`` at protected resources (RFC 9449 §8.2, §9): DRF's
``DPoPAuthentication``, ``dpop_required`` and ``DPoPRequiredMixin``, successes and refusals."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client
from django.urls import path
from django.views import View
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.conf import conf, nonce_store
from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.core.nonces import rotation_period
from django_dpop.decorators import dpop_required
from django_dpop.mixins import DPoPRequiredMixin
from django_dpop.proofs import RESOURCE, TOKEN_ENDPOINT
from tests.factories import TestKey, make_proof


class HasToken(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return request.auth is not None


class HasAdminScope(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return request.auth is not None and "admin" in request.auth.scope.split()


class DRFView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [HasToken]

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


class DRFAdminView(DRFView):
    permission_classes = [HasAdminScope]


@dpop_required
def decorated(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@dpop_required(scopes=["admin"])
def decorated_admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


class MixinView(DPoPRequiredMixin, View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"ok": True})


class MixinAdminView(MixinView):
    required_scopes = ["admin"]


urlpatterns = [
    path("drf/", DRFView.as_view()),
    path("drf-admin/", DRFAdminView.as_view()),
    path("decorated/", decorated),
    path("decorated-admin/", decorated_admin),
    path("mixin/", MixinView.as_view()),
    path("mixin-admin/", MixinAdminView.as_view()),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

SURFACES = ["drf", "decorated", "mixin"]


def _get(path_: str, token: Any, key: TestKey | None, **proof_kwargs: Any) -> Any:
    headers = {"Authorization": f"{'DPoP' if key else 'Bearer'} {token.token}"}
    if key is not None:
        headers["DPoP"] = make_proof(
            key, "GET", f"http://testserver/{path_}", access_token=token.token, **proof_kwargs
        )
    return Client().get(f"/{path_}", headers=headers)


@pytest.fixture
def every_response(settings: Any) -> str:
    settings.DPOP_NONCE_ON_EVERY_RESPONSE = True
    return nonce_store().issue(RESOURCE)


@pytest.mark.parametrize("surface", SURFACES)
def test_success_carries_the_current_nonce(
    make_token: Any, key: TestKey, every_response: str, surface: str
) -> None:
    response = _get(f"{surface}/", make_token(jkt=key.jkt), key)
    assert response.status_code == 200, response.content
    assert response["DPoP-Nonce"] == every_response
    assert every_response != nonce_store().issue(TOKEN_ENDPOINT)  # the resource's own (RFC 9449 §9)


@pytest.mark.parametrize("surface", SURFACES)
def test_refusals_carry_it_too(
    make_token: Any, key: TestKey, other_key: TestKey, every_response: str, surface: str
) -> None:
    bound_elsewhere = _get(f"{surface}/", make_token(jkt=other_key.jkt), key)
    assert bound_elsewhere.status_code == 401
    assert bound_elsewhere["DPoP-Nonce"] == every_response
    bad_proof = _get(f"{surface}/", make_token(jkt=key.jkt), key, iat=1)
    assert bad_proof.status_code == 401
    assert bad_proof["DPoP-Nonce"] == every_response
    scope = _get(f"{surface}-admin/", make_token(jkt=key.jkt, scope="read"), key)
    assert scope.status_code == 403
    assert scope["DPoP-Nonce"] == every_response


@pytest.mark.parametrize("surface", SURFACES)
def test_bearer_requests_get_none(make_token: Any, every_response: str, surface: str) -> None:
    response = _get(f"{surface}/", make_token(), None)
    assert response.status_code == 200, response.content
    assert not response.has_header("DPoP-Nonce")


@pytest.mark.parametrize("surface", SURFACES)
def test_without_the_setting_a_current_nonce_is_not_repeated(
    make_token: Any, key: TestKey, settings: Any, surface: str
) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    nonce = nonce_store().issue(RESOURCE)
    response = _get(f"{surface}/", make_token(jkt=key.jkt), key, nonce=nonce)
    assert response.status_code == 200, response.content
    assert not response.has_header("DPoP-Nonce")


@pytest.mark.parametrize("surface", SURFACES)
def test_stale_nonce_keeps_being_accepted_across_a_rotation(
    make_token: Any, key: TestKey, settings: Any, surface: str
) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    settings.DPOP_NONCE_ON_EVERY_RESPONSE = True
    store = nonce_store()
    previous = store.issue(RESOURCE, now=time.time() - rotation_period(conf.DPOP_NONCE_LIFETIME))
    response = _get(f"{surface}/", make_token(jkt=key.jkt), key, nonce=previous)
    assert response.status_code == 200, response.content  # no use_dpop_nonce loop at a rotation
    assert response["DPoP-Nonce"] == store.issue(RESOURCE) != previous
    # The token endpoint's nonce is no good here (RFC 9449 §9): challenged with the resource's.
    wrong = _get(f"{surface}/", make_token(jkt=key.jkt), key, nonce=store.issue(TOKEN_ENDPOINT))
    assert wrong.status_code == 401
    assert wrong["DPoP-Nonce"] == store.issue(RESOURCE)
