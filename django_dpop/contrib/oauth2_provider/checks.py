"""System checks of the DOT integration (ids ``django_dpop_oauth2.E001``...).

A DOT setting that names a class without the DPoP mixin silently issues Bearer tokens, or
accepts bound tokens as Bearer: refuse to start instead.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
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


def check_par(**kwargs: Any) -> list[CheckMessage]:
    """The PAR settings (DOT main's names, RFC 9126) and the endpoint serving them."""
    from . import par
    from .par_views import PAR_URL_NAME, PushedAuthorizationRequestView

    messages: list[CheckMessage] = []
    lifetime = par.request_uri_lifetime()
    if not par.is_valid_lifetime(lifetime):
        messages.append(
            Error(
                f"OAUTH2_PROVIDER['PAR_REQUEST_URI_LIFETIME_SECONDS'] must be an integer from 1 to "
                f"{par.MAX_LIFETIME} (seconds), not {lifetime!r}.",
                hint="RFC 9126 §2.2: a short-lived request_uri; 60 is the default.",
                id="django_dpop_oauth2.E010",
            )
        )
    provider = getattr(settings, "OAUTH2_PROVIDER", None) or {}
    for name in ("PAR_ENABLED", "REQUIRE_PUSHED_AUTHORIZATION_REQUESTS"):
        value = provider.get(name, False) if isinstance(provider, dict) else False
        if not isinstance(value, bool):
            messages.append(
                Error(
                    f"OAUTH2_PROVIDER['{name}'] must be True or False, not {value!r}.",
                    hint="REQUIRE_PUSHED_AUTHORIZATION_REQUESTS other than False requires PAR (fails closed).",
                    id="django_dpop_oauth2.E011",
                )
            )
    ours = _serves(f"django_dpop_oauth2:{PAR_URL_NAME}", PushedAuthorizationRequestView)
    if par.server_requires_par() and not (par.par_enabled() and ours):
        messages.append(
            Error(
                "Pushed authorization requests are required, but no PAR endpoint is served.",
                hint="Include 'django_dpop.contrib.oauth2_provider.urls' and leave PAR_ENABLED True; "
                "otherwise every authorization request is refused.",
                id="django_dpop_oauth2.E012",
            )
        )
    dot_par = _resolved(f"oauth2_provider:{PAR_URL_NAME}")
    if dot_par is not None and not (
        isinstance(dot_par, type) and issubclass(dot_par, PushedAuthorizationRequestView)
    ):
        messages.append(
            Warning(
                "The URL of 'oauth2_provider:pushed-authorization-request' is served by DOT's own PAR "
                "view, which ignores DPoP proofs (RFC 9449 §10.1).",
                hint="Include 'django_dpop.contrib.oauth2_provider.urls' before 'oauth2_provider.urls' "
                "with the same prefix (see docs/par.md).",
                id="django_dpop_oauth2.W006",
            )
        )
    return messages


def _resolved(name: str) -> Any:
    try:
        match = resolve(reverse(name))
    except (NoReverseMatch, Resolver404):
        return None
    return getattr(match.func, "view_class", match.func)


def _serves(name: str, view: type) -> bool:
    view_class = _resolved(name)
    return isinstance(view_class, type) and issubclass(view_class, view)
