"""RFC 9728 protected resource metadata; include at the root of the resource's host.

urlpatterns = [path("", include("django_dpop.urls")), ...]
"""

from __future__ import annotations

from django.urls import path

from . import views


app_name = "django_dpop"

urlpatterns = [
    path(
        ".well-known/oauth-protected-resource",
        views.ProtectedResourceMetadataView.as_view(),
        name="protected-resource-metadata",
    ),
    # RFC 9728 §3.1: a resource identifier with a path has its document below the suffix.
    path(
        ".well-known/oauth-protected-resource/<path:resource_path>",
        views.ProtectedResourceMetadataView.as_view(),
        name="protected-resource-metadata-path",
    ),
]
