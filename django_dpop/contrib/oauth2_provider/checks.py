"""System checks of the DOT integration (ids ``django_dpop_oauth2.E001``...).

A DOT setting that names a class without the DPoP mixin silently issues Bearer tokens, or
accepts bound tokens as Bearer: refuse to start instead.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings

from .backends import DPoPOAuthLibCoreMixin
from .compat import OAuthLibCore
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


#: Longest access-token lifetime (seconds) that W010 lets pass with JWT access tokens.
JWT_ACCESS_TOKEN_MAX_LIFETIME = 3600


def _valid_audience(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(v, str) and v for v in value)


def check_jwt_access_tokens(**kwargs: Any) -> list[CheckMessage]:
    """JWT access tokens (RFC 9068) from DOT: refresh tokens opaque, a key, an audience."""
    from ...conf import conf
    from . import jwt_tokens

    try:
        enabled = jwt_tokens.is_enabled()
        refresh_generator = oauth2_settings.REFRESH_TOKEN_GENERATOR
    except ImportError:
        return []  # E003 reports the broken import
    if not enabled:
        return []
    messages: list[CheckMessage] = []
    if refresh_generator is None or refresh_generator is jwt_tokens.generate_access_token:
        messages.append(
            Error(
                "ACCESS_TOKEN_GENERATOR issues JWT access tokens but REFRESH_TOKEN_GENERATOR is not set: "
                "oauthlib then makes every refresh token a JWT too.",
                hint="Set OAUTH2_PROVIDER['REFRESH_TOKEN_GENERATOR'] to "
                "'django_dpop.contrib.oauth2_provider.jwt_tokens.generate_refresh_token'.",
                id="django_dpop_oauth2.E015",
            )
        )
    keys = [oauth2_settings.OIDC_RSA_PRIVATE_KEY, *(oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE or ())]
    if not keys[0]:
        messages.append(
            Error(
                "JWT access tokens need a signing key: OAUTH2_PROVIDER['OIDC_RSA_PRIVATE_KEY'] is empty.",
                hint="Set OIDC_RSA_PRIVATE_KEY to an RSA private key in PEM (2048 bits or more).",
                id="django_dpop_oauth2.E016",
            )
        )
    else:
        for index, pem in enumerate(keys):
            try:
                key = jwt_tokens.jwk_from_pem(pem)
                usable = key.get("kty") == "RSA" and key.has_private
            except Exception:
                usable = False
            if not usable:
                which = (
                    "OIDC_RSA_PRIVATE_KEY" if index == 0 else f"OIDC_RSA_PRIVATE_KEYS_INACTIVE[{index - 1}]"
                )
                messages.append(
                    Error(
                        f"OAUTH2_PROVIDER['{which}'] is not an RSA private key in PEM.",
                        hint="DOT signs and publishes RS256 keys only.",
                        id="django_dpop_oauth2.E016",
                    )
                )
    audience = conf.DPOP_JWT_ACCESS_TOKEN_AUDIENCE
    if not _valid_audience(audience):
        messages.append(
            Error(
                f"DPOP_JWT_ACCESS_TOKEN_AUDIENCE ({audience!r}) is not a non-empty string or list of strings.",
                hint="RFC 9068 requires aud: the identifier of your API, used when a token request "
                "names no RFC 8707 resource.",
                id="django_dpop_oauth2.E017",
            )
        )
    if not oauth2_settings.OIDC_ENABLED:
        messages.append(
            Warning(
                "JWT access tokens are issued but OIDC_ENABLED is False: DOT serves no JWKS "
                "(/.well-known/jwks.json) and the metadata has no jwks_uri.",
                hint="Set OAUTH2_PROVIDER['OIDC_ENABLED'] = True, or give resource servers the public "
                "keys statically.",
                id="django_dpop_oauth2.W009",
            )
        )
    lifetime = oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
    if isinstance(lifetime, int | float) and lifetime > JWT_ACCESS_TOKEN_MAX_LIFETIME:
        messages.append(
            Warning(
                f"JWT access tokens live {lifetime} s: revoking one at this server does not reach the "
                "resource servers that verify it locally.",
                hint=f"Keep ACCESS_TOKEN_EXPIRE_SECONDS at {JWT_ACCESS_TOKEN_MAX_LIFETIME} or less "
                "and use refresh tokens.",
                id="django_dpop_oauth2.W010",
            )
        )
    return messages
