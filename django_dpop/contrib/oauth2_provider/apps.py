from __future__ import annotations

from django.apps import AppConfig


class DPoPOAuth2ProviderConfig(AppConfig):
    name = "django_dpop.contrib.oauth2_provider"
    label = "django_dpop_oauth2"
    verbose_name = "DPoP for django-oauth-toolkit"
    default_auto_field = "django.db.models.BigAutoField"
