"""A resource server without django-oauth-toolkit: django_dpop + DRF and a static validator."""

from __future__ import annotations


SECRET_KEY = "django-dpop-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
ROOT_URLCONF = "tests.seam.urls_no_dot"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "django_dpop",
]
MIDDLEWARE: list[str] = []
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DPOP_TOKEN_VALIDATORS = ["tests.seam.validators.EnvironmentValidator"]
REST_FRAMEWORK = {"UNAUTHENTICATED_USER": None}
