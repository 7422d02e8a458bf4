"""``DOTTokenValidator``: django-oauth-toolkit's access tokens behind the validator seam.

The checks of DOT's ``validate_bearer_token`` for a resource request: known (locally, in one
query that also brings the application, user and DPoP binding, or through DOT's remote
introspection), not expired, allowed for this resource (RFC 8707) and of a usable client. Bearer
tokens go through DOT's configured oauthlib core, so a host's ``OAUTH2_VALIDATOR_CLASS`` applies.

``auth`` is DOT's ``AccessToken``, ``user`` its user (None for client credentials), ``jkt`` its
:class:`~.models.AccessTokenBinding` (RFC 9449 §6). A token this server does not know is "not
mine" (None), so a later validator in ``DPOP_TOKEN_VALIDATORS`` may claim it.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.models import AbstractApplication, get_access_token_model
from oauth2_provider.settings import oauth2_settings

from ...core.errors import InvalidToken
from ...http import expected_htu
from ...resource import BEARER_SCHEME, InvalidBearerToken
from ...tokens.base import AccessTokenValidator, ValidatedToken
from .token_lookup import BINDING_JKT_ATTRIBUTE, find_access_token


# Use the token lookup compiled once (True) or the plain ORM query (False, for comparison).
COMPILED_LOOKUP = True
_NOT_LOADED = object()


def token_checksum(token: str) -> str:
    """Return the SHA-256 hex digest DOT stores in ``AccessToken.token_checksum``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_access_token(token: str) -> Any | None:
    """Return the access token with its application, user and binding (one query), or None.

    The same lookup as DOT's ``OAuth2Validator._load_access_token`` plus ``dpop_binding``, so
    that checking the key binding costs no second query; its SQL is compiled once
    (:mod:`.token_lookup`) rather than on every request.
    """
    return find_access_token(get_access_token_model(), token_checksum(token), compiled=COMPILED_LOOKUP)


def binding_jkt(access_token: Any) -> str | None:
    """Return the thumbprint ``access_token`` is bound to (RFC 9449 §6), or None if unbound.

    Free when the token was loaded by :func:`load_access_token`; one query otherwise.
    """
    # Set by the token lookup, bound or not (None), so an unbound token costs no second query.
    loaded = access_token.__dict__.get(BINDING_JKT_ATTRIBUTE, _NOT_LOADED)
    if loaded is not _NOT_LOADED:
        return loaded
    # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an AttributeError.
    binding = getattr(access_token, "dpop_binding", None)
    return binding.jkt if binding is not None else None


def _introspect(token: str) -> Any | None:
    """Ask the authorization server, as DOT's validator does when the token is not known here.

    The configured validator (DOT helper: ``DPoPValidatorMixin``) caches the token locally and
    keeps the ``cnf.jkt`` of the introspection response as its binding (RFC 9449 §6.2).
    """
    url = oauth2_settings.RESOURCE_SERVER_INTROSPECTION_URL
    bearer = oauth2_settings.RESOURCE_SERVER_AUTH_TOKEN
    credentials = oauth2_settings.RESOURCE_SERVER_INTROSPECTION_CREDENTIALS
    if not url or not (bearer or credentials):
        return None
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    return validator._get_token_from_authentication_server(token, url, bearer, credentials)


def _is_usable(application: Any, request: HttpRequest) -> bool:
    """DOT's ``Application.is_usable``, called as DOT's ``validate_bearer_token`` calls it.

    Its argument is an oauthlib request (a host's override may read ``uri`` or ``headers``), so
    one is built, only when the method is overridden: DOT's own always answers True.
    """
    if getattr(type(application), "is_usable", None) is AbstractApplication.is_usable:
        return True
    from oauthlib.common import Request as OAuthlibRequest

    from .compat import get_oauthlib_core

    uri, http_method, body, headers = get_oauthlib_core()._extract_params(request)
    return bool(application.is_usable(OAuthlibRequest(uri, http_method, body, headers)))


def validated(access_token: Any) -> ValidatedToken:
    """The :class:`ValidatedToken` of a DOT ``AccessToken``."""
    return ValidatedToken(
        auth=access_token,
        user=access_token.user,
        jkt=binding_jkt(access_token),
        scopes=frozenset((access_token.scope or "").split()),
    )


def get_valid_access_token(request: HttpRequest, token: str) -> Any | None:
    """Return the valid DOT access token for ``token``, None when unknown here, or raise.

    ``InvalidToken`` for a token this server knows (or introspected) that is expired, meant for
    another resource (RFC 8707) or of an unusable client.
    """
    access_token = load_access_token(token)
    if access_token is None or not access_token.is_valid():
        # Like DOT: a token unknown here, or an expired cached copy, is introspected again.
        access_token = _introspect(token) or access_token
    if access_token is None:
        return None
    if not access_token.is_valid():
        raise InvalidToken("The access token is invalid or expired")
    # RFC 8707: the resource is the URI the client addressed, the one a proof's htu names.
    if access_token.resource and not access_token.allows_audience(expected_htu(request)):
        raise InvalidToken("The access token is not valid for this resource")
    application = access_token.application
    if application is not None and not _is_usable(application, request):
        raise InvalidToken("The access token is invalid")
    return access_token


class DOTTokenValidator(AccessTokenValidator):
    """Access tokens issued (or introspected) by django-oauth-toolkit."""

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> ValidatedToken | None:
        if scheme == BEARER_SCHEME:
            return self.validate_bearer(request, token)
        access_token = get_valid_access_token(request, token)
        return validated(access_token) if access_token is not None else None

    def validate_bearer(self, request: HttpRequest, token: str) -> ValidatedToken | None:
        """Through DOT's configured oauthlib core, so a host's validator applies (RFC 6750).

        The request's ``Authorization`` header carries ``token`` (the pipeline parsed it there).
        A refusal is reported on the Bearer scheme, except for a DPoP-bound token (the DOT
        helper's validator refuses those): §7.2, on the DPoP scheme, whichever validator runs.
        """
        from .compat import get_oauthlib_core

        valid, oauthlib_request = get_oauthlib_core().verify_request(request, scopes=[])
        if valid:
            return validated(oauthlib_request.access_token)
        # Refusals only: one more query to tell "not mine" and the downgrade from the rest.
        access_token = load_access_token(token)
        if access_token is None and not getattr(oauthlib_request, "access_token", None):
            return None
        if access_token is not None and binding_jkt(access_token) is not None:
            raise InvalidToken("DPoP-bound access token presented as Bearer")
        error = getattr(oauthlib_request, "oauth2_error", None) or {}
        description = error.get("error_description")
        refusal = InvalidBearerToken(str(description) if description else None)
        if error.get("error"):
            refusal.error = str(error["error"])
        raise refusal

    def create_test_token(
        self,
        *,
        jkt: str | None,
        application: Any = None,
        user: Any = None,
        scope: str = "read write",
        expires_in: int = 3600,
    ) -> tuple[str, Any]:
        """Write a DOT access token (and its binding to ``jkt``) for tests: ``(raw token, row)``.

        ORM only, no token endpoint. Without ``application`` a confidential client-credentials
        application is created; ``user=None`` is a client-credentials token.
        """
        from oauth2_provider.models import get_application_model, set_token_value

        from .models import AccessTokenBinding

        if application is None:
            application = get_application_model().objects.create(
                name="DPoPAPIClient",
                client_type="confidential",
                authorization_grant_type="client-credentials",
            )
        raw = secrets.token_urlsafe(32)
        access_token = get_access_token_model()(
            application=application,
            user=user,
            scope=scope,
            expires=timezone.now() + datetime.timedelta(seconds=expires_in),
        )
        set_token_value(access_token, raw)
        access_token.save()
        if jkt is not None:
            AccessTokenBinding.objects.create(access_token=access_token, jkt=jkt)
        return raw, access_token
