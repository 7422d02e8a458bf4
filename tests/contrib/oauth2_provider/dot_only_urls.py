"""A URLconf that mounts DOT without the DPoP views (for the URL system check)."""

from __future__ import annotations

from django.urls import include, path


urlpatterns = [path("o/", include("oauth2_provider.urls", namespace="oauth2_provider"))]
