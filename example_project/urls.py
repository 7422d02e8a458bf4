from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from django_dpop.contrib.oauth2_provider.urls import metadata_urlpatterns
from example_project.api import MeView


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="admin/login.html"), name="login"),
    # RFC 8414 metadata at the server root (with dpop_signing_alg_values_supported).
    path("", include((metadata_urlpatterns, "dpop_metadata"))),
    # The DPoP views before DOT's, with the same prefix: they take over token, authorize,
    # introspect and device authorization while DOT's URL names keep resolving, and add the
    # PAR endpoint (o/par/, RFC 9126) that the metadata above advertises.
    path("o/", include("django_dpop.contrib.oauth2_provider.urls")),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/me/", MeView.as_view(), name="me"),
    # The browser single-page app (docs/browser-clients.md).
    path("spa/", include("example_project.spa.urls")),
]
