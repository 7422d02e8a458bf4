"""The DOT test URLconf plus a DOT-protected view and a DRF view that trusts JWT access tokens only."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication
from tests.contrib.oauth2_provider.resource_urls import urlpatterns as resource_urlpatterns


class JWTAuthentication(DPoPAuthentication):
    token_validators = ["django_dpop.tokens.jwt.JWTTokenValidator"]


class JWTResource(APIView):
    """What a resource server verifying the JWT locally sees (no DOT row is read)."""

    authentication_classes = [JWTAuthentication]
    permission_classes: list[type] = []

    def get(self, request: Any) -> Response:
        if request.auth is None:
            self.permission_denied(request)
        return Response(
            {
                "sub": request.auth.sub,
                "client_id": request.auth.client_id,
                "scope": request.auth.scope,
                "jkt": request.auth.jkt,
            }
        )


urlpatterns = [path("jwt/", JWTResource.as_view()), *resource_urlpatterns]
