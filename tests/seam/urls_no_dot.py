"""A DRF view and a decorated view, for the no-DOT resource server."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.contrib.rest_framework.permissions import HasDPoPScope
from django_dpop.decorators import dpop_required


class DRFView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [HasDPoPScope]
    required_scopes = ["read"]

    def get(self, request: Any) -> Response:
        return Response(
            {"sub": request.auth["sub"], "base": type(request.successful_authenticator).__mro__[1].__name__}
        )


@dpop_required(scopes=["read"])
def plain_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": request.auth["sub"]})  # type: ignore[attr-defined]


urlpatterns = [path("drf/", DRFView.as_view()), path("plain/", plain_view)]
