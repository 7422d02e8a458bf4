"""The example API: ``/api/me/`` tells the caller what its DPoP-bound token says."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication


class MeView(APIView):
    """GET and POST: any valid DPoP-bound token, with or without a user (client credentials)."""

    authentication_classes = [DPoPAuthentication]
    permission_classes: list[type] = []

    def get(self, request: Request) -> Response:
        token = request.auth
        if token is None:
            # No credentials at all: DRF answers 401 with the DPoP and Bearer challenges.
            self.permission_denied(request)
        binding = getattr(token, "dpop_binding", None)
        return Response(
            {
                "client_id": token.application.client_id if token.application else None,
                "user": token.user.get_username() if token.user else None,
                "scope": token.scope,
                "jkt": binding.jkt if binding else None,
                "method": request.method,
            }
        )

    def post(self, request: Request) -> Response:
        return self.get(request)
