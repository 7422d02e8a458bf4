from __future__ import annotations

from django.urls import include, path


urlpatterns = [
    # DPoP views first: same paths as DOT's, so they win while DOT's URL names still resolve.
    path("o/", include("django_dpop.contrib.oauth2_provider.urls")),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
