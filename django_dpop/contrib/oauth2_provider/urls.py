"""URL patterns of the DPoP views; include them *before* DOT's, with the same prefix.

    urlpatterns = [
        path("o/", include("django_dpop.contrib.oauth2_provider.urls")),
        path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    ]

The paths are DOT's, so the first match is ours while ``reverse("oauth2_provider:...")`` (used
by DOT's metadata documents) still resolves to the same URLs. Mount ``metadata_urlpatterns`` at
the server root as well when DOT's are mounted there (RFC 8414 §3).
"""

from __future__ import annotations

from django.urls import path, re_path

from . import par_views, views


app_name = "django_dpop_oauth2"

metadata_urlpatterns = [
    path(
        ".well-known/oauth-authorization-server",
        views.DPoPServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path(
        ".well-known/oauth-authorization-server/<path:issuer_path>",
        views.DPoPServerMetadataView.as_view(),
        name="oauth-server-metadata-issuer",
    ),
    # RFC 9728 protected resource metadata, with the DPoP members (and its §3.1 path form).
    path(
        ".well-known/oauth-protected-resource",
        views.DPoPProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata",
    ),
    path(
        ".well-known/oauth-protected-resource/<path:resource_path>",
        views.DPoPProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata-path",
    ),
]

base_urlpatterns = [
    path("authorize/", views.DPoPAuthorizationView.as_view(), name="authorize"),
    path("token/", views.DPoPTokenView.as_view(), name="token"),
    # DOT main's path and URL name (RFC 9126 §2).
    path(
        "par/",
        par_views.PushedAuthorizationRequestView.as_view(),
        name="pushed-authorization-request",
    ),
    path("introspect/", views.DPoPIntrospectTokenView.as_view(), name="introspect"),
    path(
        "device-authorization/",
        views.CompatDeviceAuthorizationView.as_view(),
        name="device-authorization",
    ),
]

oidc_urlpatterns = [
    re_path(
        r"^\.well-known/openid-configuration/?$",
        views.DPoPConnectDiscoveryInfoView.as_view(),
        name="oidc-connect-discovery-info",
    ),
]

urlpatterns = metadata_urlpatterns + base_urlpatterns + oidc_urlpatterns
