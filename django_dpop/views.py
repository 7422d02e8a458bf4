"""RFC 9728 protected resource metadata for a resource server (no DOT needed).

Mount ``django_dpop.urls`` at the root of the host serving the resource (RFC 9728 §3.1: the
document of ``https://api.example.com/v1`` is at
``https://api.example.com/.well-known/oauth-protected-resource/v1``).
"""

from __future__ import annotations

from typing import Any

from django import http
from django.views.generic import View

from .conf import conf
from .core.resource_metadata import metadata_path, protected_resource_metadata, resource_from_metadata_url
from .http import request_uri


class ProtectedResourceMetadataView(View):
    """The RFC 9728 §2 document: ``resource``, ``authorization_servers``, ``bearer_methods_supported``,
    ``scopes_supported`` (when configured) and the DPoP members.

    With ``DPOP_RESOURCE_IDENTIFIER`` the document is served at that identifier's well-known URL
    only (any other path is 404: §3.3 asks clients to refuse a ``resource`` that differs from the
    identifier the URL was built from); without it, the identifier is derived from the URL asked.
    Override the ``get_*`` methods for several resources on one host.
    """

    http_method_names = ["get", "head", "options"]

    def get_resource(self, request: http.HttpRequest) -> str | None:
        configured = conf.DPOP_RESOURCE_IDENTIFIER
        if configured:
            return configured if request.path == metadata_path(configured) else None
        return resource_from_metadata_url(request_uri(request))

    def get_authorization_servers(self, request: http.HttpRequest) -> list[str]:
        return list(conf.DPOP_RESOURCE_AUTHORIZATION_SERVERS)

    def get_scopes_supported(self, request: http.HttpRequest) -> list[str] | None:
        scopes = conf.DPOP_RESOURCE_SCOPES_SUPPORTED
        return None if scopes is None else list(scopes)

    def get(self, request: http.HttpRequest, *args: Any, **kwargs: Any) -> http.HttpResponse:
        resource = self.get_resource(request)
        if resource is None:
            raise http.Http404("No protected resource here")
        data = protected_resource_metadata(
            resource=resource,
            authorization_servers=self.get_authorization_servers(request),
            algorithms=conf.DPOP_ALLOWED_ALGORITHMS,
            bearer_tokens_accepted=conf.DPOP_ALLOW_BEARER_TOKENS,
            scopes_supported=self.get_scopes_supported(request),
        )
        response = http.JsonResponse(data)
        # Public metadata: browser clients (SPAs) fetch it cross-origin.
        response["Access-Control-Allow-Origin"] = "*"
        return response
