from __future__ import annotations

from django.urls import include, path

from django_dpop.contrib.oauth2_provider.urls import metadata_urlpatterns


urlpatterns = [
    # The base app's document at the root; DOT's (with the DPoP members) below a prefix.
    path("", include("django_dpop.urls")),
    path("as/", include((metadata_urlpatterns, "dpop_metadata"))),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
