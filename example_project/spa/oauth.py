"""The example project's DOT backend and validator: django-dpop's, plus the SPA's redirect rule.

The backend hands oauthlib the origin of the request as Django validated it (a synthetic header
key no client can send: WSGI and ASGI put client headers under ``HTTP_``), and the validator
accepts ``<that origin>/spa/`` as a redirect URI of the client ``spa`` only (:mod:`.client`).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from django_dpop.contrib.oauth2_provider.backends import DPoPOAuthLibCore
from django_dpop.contrib.oauth2_provider.validators import DPoPOAuth2Validator

from .client import is_same_origin_spa_redirect


#: Key of the request's origin in the headers oauthlib sees (never an ``HTTP_`` key).
ORIGIN_HEADER = "X_EXAMPLE_REQUEST_ORIGIN"


class ExampleOAuthLibCore(DPoPOAuthLibCore):
    def extract_headers(self, request: HttpRequest) -> dict[str, Any]:
        headers = super().extract_headers(request)
        # scheme from SECURE_PROXY_SSL_HEADER, host checked against ALLOWED_HOSTS.
        headers[ORIGIN_HEADER] = f"{request.scheme}://{request.get_host()}"
        return headers


class ExampleOAuth2Validator(DPoPOAuth2Validator):
    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if super().validate_redirect_uri(client_id, redirect_uri, request, *args, **kwargs):
            return True
        origin = (request.headers or {}).get(ORIGIN_HEADER)
        return is_same_origin_spa_redirect(client_id, redirect_uri, origin)
