"""The test settings with the DOT helper configured but its app missing (django_dpop.E045, E046)."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS


INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "django_dpop.contrib.oauth2_provider"]
ROOT_URLCONF = "tests.contrib.oauth2_provider.dot_only_urls"
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["django_dpop.contrib.rest_framework.DPoPAuthentication"]}
DPOP_TOKEN_VALIDATORS = ["django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator"]
