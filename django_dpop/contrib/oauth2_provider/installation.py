"""System checks of how the DOT helper is installed (ids ``django_dpop_oauth2.E004``...).

Registered from this app's ``ready()``, and importing neither DOT nor the base app at module
level, so they run (and say what is missing) when either is absent from ``INSTALLED_APPS``. The
reverse case, this app missing while its classes are configured, is checked from the base app
(``django_dpop.E045``, ``E046``).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.db import router
from django.utils.module_loading import import_string


BASE_APP_MISSING = "django_dpop_oauth2.E004"
DOT_MISSING = "django_dpop_oauth2.E005"
SPLIT_DATABASES = "django_dpop_oauth2.E006"
NO_SESSIONS = "django_dpop_oauth2.W003"

_APP = "django_dpop.contrib.oauth2_provider"


def check_installed_apps(**kwargs: Any) -> list[CheckMessage]:
    """The base app (its proof replay and nonce stores) and DOT itself must be installed."""
    if not apps.is_installed(_APP):
        return []
    messages: list[CheckMessage] = []
    if not apps.is_installed("django_dpop"):
        messages.append(
            Error(
                f"'{_APP}' is installed without 'django_dpop'.",
                hint="Add 'django_dpop' to INSTALLED_APPS and run 'manage.py migrate': its models "
                "are the default DPoP replay and nonce stores, used on every token request.",
                id=BASE_APP_MISSING,
            )
        )
    if not apps.is_installed("oauth2_provider"):
        messages.append(
            Error(
                f"'{_APP}' is installed without django-oauth-toolkit ('oauth2_provider').",
                hint="Add 'oauth2_provider' to INSTALLED_APPS, before this app: it binds DOT's "
                "tokens. For a resource server without DOT use the base app's decorators instead.",
                id=DOT_MISSING,
            )
        )
    return messages


def check_databases(**kwargs: Any) -> list[CheckMessage]:
    """Each binding must be written where its DOT row is: one transaction holds both."""
    if not (apps.is_installed(_APP) and apps.is_installed("oauth2_provider")):
        return []
    from oauth2_provider import models as dot

    from . import models

    pairs = [
        (models.AccessTokenBinding, dot.get_access_token_model()),
        (models.RefreshTokenBinding, dot.get_refresh_token_model()),
        (models.GrantBinding, dot.get_grant_model()),
        (models.ApplicationPolicy, dot.get_application_model()),
    ]
    messages: list[CheckMessage] = []
    for ours, theirs in pairs:
        if router.db_for_write(ours) != router.db_for_write(theirs):
            messages.append(
                Error(
                    f"{ours._meta.label} is written to database {router.db_for_write(ours)!r}, "
                    f"{theirs._meta.label} to {router.db_for_write(theirs)!r}.",
                    hint="Route the 'django_dpop_oauth2' app to the database of DOT's models: a "
                    "token and its DPoP binding are stored in one transaction, or not at all.",
                    id=SPLIT_DATABASES,
                )
            )
    return messages


def check_sessions(**kwargs: Any) -> list[CheckMessage]:
    """The DPoP authorization view keeps each consent request in the session."""
    if not (
        apps.is_installed(_APP) and apps.is_installed("oauth2_provider") and _authorization_view_mounted()
    ):
        return []
    from django.contrib.sessions.middleware import SessionMiddleware

    for path in getattr(settings, "MIDDLEWARE", None) or []:
        try:
            middleware = import_string(path) if isinstance(path, str) else path
        except Exception:  # noqa: BLE001 - Django reports a broken MIDDLEWARE itself
            continue
        if isinstance(middleware, type) and issubclass(middleware, SessionMiddleware):
            return []
    return [
        Warning(
            "MIDDLEWARE has no SessionMiddleware: the DPoP authorization view keeps each consent "
            "request in the session, so every consent form POST would be refused.",
            hint="Add 'django.contrib.sessions.middleware.SessionMiddleware' to MIDDLEWARE (or "
            "mount DOT's own AuthorizationView if this server issues no codes).",
            id=NO_SESSIONS,
        )
    ]


def _authorization_view_mounted() -> bool:
    from django.urls import NoReverseMatch, Resolver404, resolve, reverse

    from .views import DPoPAuthorizationView

    try:
        match = resolve(reverse("oauth2_provider:authorize"))
    except (NoReverseMatch, Resolver404):
        return False
    view_class = getattr(match.func, "view_class", None)
    return isinstance(view_class, type) and issubclass(view_class, DPoPAuthorizationView)
