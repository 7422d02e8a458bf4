"""DPoP for django-oauth-toolkit: an optional app (label ``django_dpop_oauth2``)."""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.core.checks import Tags, register


class DPoPOAuth2ProviderConfig(AppConfig):
    name = "django_dpop.contrib.oauth2_provider"
    label = "django_dpop_oauth2"
    verbose_name = "DPoP for django-oauth-toolkit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .installation import check_databases, check_installed_apps, check_sessions

        register()(check_installed_apps)
        register()(check_databases)  # not Tags.database: it queries nothing
        register(Tags.security)(check_sessions)
        if not apps.is_installed("oauth2_provider"):
            return  # the checks below import DOT; check_installed_apps says it is missing
        from .checks import check_jwt_access_tokens, check_oauth2_classes, check_par, check_urls

        register(Tags.security)(check_oauth2_classes)
        register(Tags.urls)(check_urls)
        register(Tags.security)(check_par)
        register(Tags.security)(check_jwt_access_tokens)
        if apps.is_installed("rest_framework"):
            from ..rest_framework.checks import check_default_authentication_classes, check_dot_base

            register(Tags.security)(check_default_authentication_classes)
            register(Tags.security)(check_dot_base)
