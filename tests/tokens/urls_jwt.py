"""Views protected by DPoP + JWT access tokens on every surface: DRF, @dpop_required, the mixin."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views import View
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.contrib.rest_framework.permissions import HasDPoPScope
from django_dpop.decorators import dpop_required
from django_dpop.mixins import DPoPRequiredMixin
from django_dpop.tokens.base import TokenClaims


def describe(request: Any) -> dict[str, Any]:
    auth = request.auth
    user = request.user
    if not isinstance(auth, TokenClaims):  # a DOT AccessToken, when DOT's validator is listed too
        return {"dot": auth.token, "scope": auth.scope}
    return {
        "sub": auth.sub,
        "client_id": auth.client_id,
        "iss": auth["iss"],
        "scope": auth.scope,
        "user": user.get_username() if user is not None and user.is_authenticated else None,
    }


class DRFView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [HasDPoPScope]
    required_scopes = ["read"]

    def get(self, request: Any) -> Response:
        return Response(describe(request))


@dpop_required(scopes=["read"])
def plain_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


class MixinView(DPoPRequiredMixin, View):
    required_scopes = ["read"]

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(describe(request))


urlpatterns = [
    path("drf/", DRFView.as_view()),
    path("plain/", plain_view),
    path("mixin/", MixinView.as_view()),
]
