"""System checks of the DOT integration (ids ``django_dpop_oauth2.E001``...).

A DOT setting that names a class without the DPoP mixin silently issues Bearer tokens, or
accepts bound tokens as Bearer: refuse to start instead.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings

from .backends import DPoPOAuthLibCoreMixin
from .validators import DPoPValidatorMixin


def _mixed_in(cls: Any, mixin: type, base: type) -> bool:
    """``cls`` has ``mixin`` ahead of ``base`` in its MRO (so the mixin's overrides run)."""
    mro = getattr(cls, "__mro__", ())
    if mixin not in mro:
        return False
    return base not in mro or mro.index(mixin) < mro.index(base)


def check_oauth2_classes(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    try:
        backend = oauth2_settings.OAUTH2_BACKEND_CLASS
        validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS
    except ImportError as exc:  # DOT's own import of the dotted path
        return [Error(f"OAUTH2_PROVIDER class cannot be imported: {exc}", id="django_dpop_oauth2.E003")]
    if not _mixed_in(backend, DPoPOAuthLibCoreMixin, OAuthLibCore):
        errors.append(
            Error(
                f"OAUTH2_PROVIDER['OAUTH2_BACKEND_CLASS'] ({backend!r}) does not use DPoPOAuthLibCoreMixin.",
                hint="Use 'django_dpop.contrib.oauth2_provider.backends.DPoPOAuthLibCore', or put "
                "DPoPOAuthLibCoreMixin first in your backend's bases. Without it no DPoP token is issued.",
                id="django_dpop_oauth2.E001",
            )
        )
    if not _mixed_in(validator, DPoPValidatorMixin, OAuth2Validator):
        errors.append(
            Error(
                f"OAUTH2_PROVIDER['OAUTH2_VALIDATOR_CLASS'] ({validator!r}) does not use DPoPValidatorMixin.",
                hint="Use 'django_dpop.contrib.oauth2_provider.validators.DPoPOAuth2Validator', or put "
                "DPoPValidatorMixin first in your validator's bases. Without it tokens are not bound "
                "and bound tokens are accepted as Bearer tokens.",
                id="django_dpop_oauth2.E002",
            )
        )
    return errors


# URL name -> the view class that must answer it (RFC 9449 §5 device errors, §10, §6.2).
_VIEWS = {
    "token": "DPoPTokenView",
    "authorize": "DPoPAuthorizationView",
    "introspect": "DPoPIntrospectTokenView",
}


def check_urls(**kwargs: Any) -> list[CheckMessage]:
    from . import views

    warnings: list[CheckMessage] = []
    for name, view_name in _VIEWS.items():
        try:
            match = resolve(reverse(f"oauth2_provider:{name}"))
        except (NoReverseMatch, Resolver404):
            continue  # DOT's endpoint is not mounted: nothing to shadow
        view_class = getattr(match.func, "view_class", None)
        expected = getattr(views, view_name)
        if not (isinstance(view_class, type) and issubclass(view_class, expected)):
            warnings.append(
                Warning(
                    f"The URL of 'oauth2_provider:{name}' is not served by {view_name}.",
                    hint="Include 'django_dpop.contrib.oauth2_provider.urls' before "
                    "'oauth2_provider.urls', with the same prefix.",
                    id="django_dpop_oauth2.W001",
                )
            )
    return warnings
