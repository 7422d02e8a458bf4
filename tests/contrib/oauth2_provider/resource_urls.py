"""The test URLconf plus DOT-protected resources (a DOT view and a DRF view with DOT's auth)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.oauth2_provider.compat import ProtectedResourceView
from tests.urls import urlpatterns as base_urlpatterns


class DOTResource(ProtectedResourceView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("dot ok")


class HasToken(IsAuthenticated):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.auth is not None


class DRFResource(APIView):
    authentication_classes = [OAuth2Authentication]
    permission_classes = [HasToken]

    def get(self, request: Request) -> Response:
        return Response({"client_id": request.auth.application.client_id})


urlpatterns = [
    path("dot/", DOTResource.as_view()),
    path("drf/", DRFResource.as_view()),
    *base_urlpatterns,
]
