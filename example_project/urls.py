from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from example_project.api import MeView


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="admin/login.html"), name="login"),
    # The DPoP views first: they take over token, authorize, introspect and metadata from DOT.
    path("", include("django_dpop.contrib.oauth2_provider.urls")),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/me/", MeView.as_view(), name="me"),
]
