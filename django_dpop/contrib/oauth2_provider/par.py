"""Pushed authorization requests (RFC 9126) for DOT 3.x: what the views delegate to.

DOT's main branch (unreleased, PR #1763) has PAR in ``oauth2_provider.authorization_server.par``;
this module mirrors its names and settings so that moving to DOT's release is small (see
``docs/par.md``): the settings are read from ``OAUTH2_PROVIDER`` under DOT main's keys
(``PAR_ENABLED``, ``PAR_REQUEST_URI_LIFETIME_SECONDS``, ``REQUIRE_PUSHED_AUTHORIZATION_REQUESTS``).
Unlike DOT main, a failed ``request_uri`` is answered ``invalid_request_uri`` (RFC 9126 §4 refers
to RFC 9101 §7, where that code is defined), and the DPoP key of the push binds the code
(RFC 9449 §10.1).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import router, transaction
from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthlibRequest

from .models import ApplicationPolicy, PushedAuthorizationRequest


# RFC 9126 §2.2: the URN sub-namespace registered for request URIs (§9.3).
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# 32 random bytes: 256 bits, well above the 128 bits RFC 9126 §7.1 asks (via RFC 6749 §10.10).
REQUEST_URI_BYTES = 32
DEFAULT_LIFETIME = 60
# RFC 9126 §2.2: "a short lifetime, 5 to 600 seconds"; we keep it below 600.
MAX_LIFETIME = 599
# RFC 9126 §2.1: client authentication parameters authenticate the push; they are not part of
# the authorization request and are never stored.
CLIENT_AUTH_PARAMETERS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})
# RFC 8707 §2: the only authorization request parameter that may repeat.
REPEATABLE_PARAMETERS = frozenset({"resource"})
CLEANUP_BATCH = 100
#: The error of a request_uri that is unknown, used, expired or another client's (RFC 9101 §7).
INVALID_REQUEST_URI = "invalid_request_uri"


class PushedAuthorizationError(Exception):
    """A refused push or ``request_uri``: an OAuth error code, its description and HTTP status."""

    def __init__(self, description: str, error: str = "invalid_request", status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


# -- settings (DOT main's names, in OAUTH2_PROVIDER) ----------------------------------------------


def _provider_setting(name: str, default: Any) -> Any:
    provider = getattr(settings, "OAUTH2_PROVIDER", None) or {}
    return provider.get(name, default) if isinstance(provider, dict) else default


def par_enabled() -> bool:
    """``OAUTH2_PROVIDER['PAR_ENABLED']`` (default True): the endpoint answers 404 when False."""
    return _provider_setting("PAR_ENABLED", True) is True


def request_uri_lifetime() -> Any:
    """``OAUTH2_PROVIDER['PAR_REQUEST_URI_LIFETIME_SECONDS']`` (default 60; check E010)."""
    return _provider_setting("PAR_REQUEST_URI_LIFETIME_SECONDS", DEFAULT_LIFETIME)


def server_requires_par() -> bool:
    """``OAUTH2_PROVIDER['REQUIRE_PUSHED_AUTHORIZATION_REQUESTS']`` (RFC 9126 §5); fails closed."""
    value = _provider_setting("REQUIRE_PUSHED_AUTHORIZATION_REQUESTS", False)
    return value is not False  # anything but False (check E012 names it) requires PAR


def is_valid_lifetime(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_LIFETIME


# -- the push (RFC 9126 §2.1) ---------------------------------------------------------------------


def collect_parameters(request: HttpRequest) -> dict[str, list[str]]:
    """The authorization request parameters of a push, client authentication left out.

    Only the form body counts (RFC 9126 §2.1); a query string would let what is validated differ
    from what is stored, and is refused. A parameter may appear once (RFC 6749 §3.1), except
    ``resource`` (RFC 8707 §2). ``request_uri`` (§2.1) and JAR ``request`` objects (not
    supported) are refused.
    """
    if request.GET:
        raise PushedAuthorizationError("Send the parameters in the form body, not in the query string.")
    parameters: dict[str, list[str]] = {}
    for name, values in request.POST.lists():
        if name in CLIENT_AUTH_PARAMETERS:
            continue
        if name == "request_uri":
            raise PushedAuthorizationError("request_uri is not allowed in a pushed request (RFC 9126 §2.1).")
        if name == "request":
            raise PushedAuthorizationError("Request objects (the request parameter) are not supported.")
        if "\x00" in name or any("\x00" in value for value in values):
            # No OAuth parameter holds a NUL (RFC 6749 App. A), and PostgreSQL cannot store one.
            raise PushedAuthorizationError("A parameter contains a NUL character.")
        if len(values) != 1 and name not in REPEATABLE_PARAMETERS:
            raise PushedAuthorizationError(f"The {name} parameter is repeated (RFC 6749 §3.1).")
        parameters[name] = list(values)
    return parameters


def check_pkce_method(parameters: dict[str, list[str]]) -> None:
    """Refuse ``plain`` PKCE at the push already when DOT refuses it at the code (RFC 9700 §2.1.1)."""
    plain = parameters.get("code_challenge_method") == ["plain"]
    if plain and getattr(oauth2_settings, "COMPLIANT_BCP_RFC9700_PKCE_METHOD", False) is True:
        raise PushedAuthorizationError('Unsupported "plain" code_challenge_method; use "S256".')


def query_string(parameters: dict[str, list[str]]) -> str:
    return urlencode(parameters, doseq=True)


def authenticate_client(core: Any, request: HttpRequest) -> Any | None:
    """The client of the push, authenticated as at the token endpoint (RFC 9126 §2.1), or None.

    Confidential clients must authenticate (DOT's Basic, body secret...); a public client is
    accepted on its ``client_id`` alone, as DOT's authorization-code grant accepts it.
    """
    uri, http_method, body, headers = core._extract_params(request)
    oauthlib_request = OAuthlibRequest(uri, http_method=http_method, body=body, headers=headers)
    validator = core.server.request_validator
    if validator.authenticate_client(oauthlib_request):
        return oauthlib_request.client
    client_id = oauthlib_request.client_id
    if client_id and validator.authenticate_client_id(client_id, oauthlib_request):
        return oauthlib_request.client
    return None


def store(application: Any, parameters: dict[str, list[str]]) -> tuple[str, int]:
    """Store a validated push; return its ``request_uri`` and ``expires_in`` (RFC 9126 §2.2)."""
    lifetime = request_uri_lifetime()
    if not is_valid_lifetime(lifetime):  # check E010 says so at start-up; never store one
        raise PushedAuthorizationError(
            "The server's request_uri lifetime is misconfigured.", "server_error", 500
        )
    request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(REQUEST_URI_BYTES)
    now = timezone.now()
    requests = PushedAuthorizationRequest.objects
    requests.create(
        request_uri=request_uri,
        application=application,
        parameters=parameters,
        expires=now + timedelta(seconds=lifetime),
    )
    # Pushes that were never used: each push reclaims up to CLEANUP_BATCH of them, so the table
    # stays small without a cron job (DOT main leaves this to cleartokens).
    expired = list(requests.filter(expires__lt=now).values_list("pk", flat=True)[:CLEANUP_BATCH])
    if expired:
        requests.filter(pk__in=expired).delete()
    return request_uri, lifetime


# -- the authorization request (RFC 9126 §4) ------------------------------------------------------


def consume(request_uri: str, client_id: str | None) -> dict[str, list[str]]:
    """Use a ``request_uri`` once and return its parameters; raise ``invalid_request_uri``.

    RFC 9126 §4: only the client it was issued to may use it, once, before it expires. A
    request with another ``client_id`` leaves it in place (a leaked value cannot be spent by
    whoever holds it); an expired one is deleted. The delete decides between two concurrent
    uses: exactly one of them deletes the row.
    """
    if not request_uri.startswith(REQUEST_URI_PREFIX) or len(request_uri) > 255 or "\x00" in request_uri:
        # Not one of ours; never handed to the database (PostgreSQL refuses a NUL in text).
        raise PushedAuthorizationError("The request_uri is unknown or has been used.", INVALID_REQUEST_URI)
    model = PushedAuthorizationRequest
    with transaction.atomic(using=router.db_for_write(model)):
        record = (
            model.objects.select_related("application")
            .filter(request_uri=request_uri)
            .only("pk", "parameters", "expires", "application__client_id")
            .first()
        )
        if record is None:
            raise PushedAuthorizationError(
                "The request_uri is unknown or has been used.", INVALID_REQUEST_URI
            )
        if not client_id or not secrets.compare_digest(
            record.application.client_id.encode(), client_id.encode()
        ):
            raise PushedAuthorizationError(
                "The request_uri was not issued to this client.", INVALID_REQUEST_URI
            )
        deleted, _ = model.objects.filter(pk=record.pk).delete()
    if not deleted:
        raise PushedAuthorizationError("The request_uri is unknown or has been used.", INVALID_REQUEST_URI)
    if record.is_expired():
        raise PushedAuthorizationError("The request_uri has expired.", INVALID_REQUEST_URI)
    return {name: list(values) for name, values in record.parameters.items()}


def client_requires_par(application: Any) -> bool:
    """RFC 9126 §6 ``require_pushed_authorization_requests`` of a client (its policy row)."""
    try:
        return application.dpop_policy.require_pushed_authorization_requests is True
    except ApplicationPolicy.DoesNotExist:
        return False


def pushed_authorization_required(client_id: str | None) -> bool:
    """Whether an authorization request of ``client_id`` must use a ``request_uri``.

    The server-wide setting is a floor that a client's own value never relaxes (RFC 9126 §5, §6).
    """
    if server_requires_par():
        return True
    if not client_id:
        return False
    return ApplicationPolicy.objects.filter(
        application__client_id=client_id, require_pushed_authorization_requests=True
    ).exists()
