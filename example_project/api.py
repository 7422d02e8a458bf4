"""The example API: ``/api/me/`` tells the caller what its DPoP-bound token says (DOT or introspected)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.tokens import TokenClaims


def describe(request: Request) -> dict[str, Any]:
    """What the token says, whichever validator vouched for it (DOT's, or introspection)."""
    auth = request.auth
    proof = getattr(request, "dpop_proof", None)
    if isinstance(auth, TokenClaims):  # an introspected (or JWT) token: its claims
        client_id, sub, user, source = auth.client_id, auth.sub, auth.get("username"), auth.source
    else:  # a DOT AccessToken
        client_id = auth.application.client_id if auth.application else None
        sub = str(auth.user.pk) if auth.user else None  # DOT's OpenID Connect sub
        user = auth.user.get_username() if auth.user else None
        source = "dot"
    return {
        "client_id": client_id,
        "sub": sub,
        "user": user,
        "scope": auth.scope,
        # The pipeline checked that the token is bound to the key of this proof (RFC 9449 §7.1).
        "jkt": proof.jkt if proof is not None else None,
        "source": source,
        "method": request.method,
    }


class MeView(APIView):
    """GET and POST: any valid DPoP-bound token, with or without a user (client credentials)."""

    authentication_classes = [DPoPAuthentication]
    permission_classes: list[type] = []

    def get(self, request: Request) -> Response:
        if request.auth is None:
            # No credentials at all: DRF answers 401 with the DPoP and Bearer challenges.
            self.permission_denied(request)
        return Response(describe(request))

    def post(self, request: Request) -> Response:
        return self.get(request)
