"""JWT access tokens (RFC 9068) issued by DOT, DPoP-bound by ``cnf.jkt`` (RFC 9449 §6.1).

DOT hands the token generation to oauthlib's ``BearerToken``, which calls
``token_generator(request)`` for the access token and ``refresh_token_generator(request)`` for
the refresh token, the *same* generator unless told otherwise. So the opt-in is two DOT settings:

    OAUTH2_PROVIDER = {
        "ACCESS_TOKEN_GENERATOR": "django_dpop.contrib.oauth2_provider.jwt_tokens.generate_access_token",
        "REFRESH_TOKEN_GENERATOR": "django_dpop.contrib.oauth2_provider.jwt_tokens.generate_refresh_token",
        "OIDC_ENABLED": True,  # DOT's JwksInfoView publishes the signing keys
        "OIDC_RSA_PRIVATE_KEY": ...,
    }

The token is signed (RS256) with DOT's ``OIDC_RSA_PRIVATE_KEY``, ``kid`` being the RFC 7638
thumbprint DOT's JWKS document gives that key; rotation is DOT's: the previous key moves to
``OIDC_RSA_PRIVATE_KEYS_INACTIVE`` (still published) until the tokens it signed have expired.

DOT still stores every token (``AccessToken.token`` is a ``TextField``, looked up by its SHA-256
``token_checksum``) and the validator binds it as before, so revocation, introspection (with
``cnf``), refresh and the DOT resource validator work unchanged. The token is generated before
DOT's ``_save_bearer_token`` (and before OIDC's ``at_hash``), so the RFC 8707 ``resource`` is
normalised here the way DOT then stores it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

import jwt
from django.http import HttpRequest
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749.errors import ServerError
from oauthlib.oauth2.rfc6749.tokens import random_token_generator

from ...conf import conf
from .backends import JKT_HEADER
from .compat import jwk_from_pem


#: RFC 9068 §2.1: the media type of a JWT access token, in ``typ``.
ACCESS_TOKEN_TYPE = "at+jwt"
#: RFC 9068 §2.1: RS256 must be supported; DOT's OIDC keys are RSA keys.
SIGNING_ALGORITHM = "RS256"


def generate_refresh_token(request: Any, refresh_token: bool = False) -> str:
    """An opaque random refresh token (oauthlib's generator): a refresh token is never a JWT."""
    return random_token_generator(request, refresh_token)


def is_enabled() -> bool:
    """True when DOT's ``ACCESS_TOKEN_GENERATOR`` is :func:`generate_access_token`."""
    return getattr(oauth2_settings, "ACCESS_TOKEN_GENERATOR", None) is generate_access_token


def signing_key() -> tuple[Any, str]:
    """DOT's active OIDC key, as ``(private key, kid)``; ``kid`` as DOT's JWKS publishes it."""
    pem = oauth2_settings.OIDC_RSA_PRIVATE_KEY
    if not pem:
        raise ServerError(description="No signing key for JWT access tokens (OIDC_RSA_PRIVATE_KEY).")
    key = jwk_from_pem(pem)
    return key.get_op_key("sign"), key.thumbprint()


class _IssuerRequest(HttpRequest):
    """A Django request rebuilt from the WSGI environ DOT hands oauthlib (its ``headers``)."""

    def __init__(self, headers: Any) -> None:
        super().__init__()
        self.META = dict(headers or {})
        self._secure = bool(self.META.get("X_DJANGO_OAUTH_TOOLKIT_SECURE"))

    def _get_scheme(self) -> str:
        return "https" if self._secure else "http"


def issuer(request: Any) -> str:
    """RFC 9068 §2.2 ``iss``: ``OIDC_ISS_ENDPOINT``, else the ``issuer`` of DOT's RFC 8414 metadata.

    The same derivation as DOT's RFC 9207 ``iss`` (the base of the metadata URL, with the mount
    prefix), so that a resource server's discovery finds a document naming this issuer.
    """
    if oauth2_settings.OIDC_ISS_ENDPOINT:
        return oauth2_settings.OIDC_ISS_ENDPOINT
    return oauth2_settings.oauth2_authorization_server_issuer(_IssuerRequest(request.headers))


def audience(request: Any) -> str | list[str]:
    """RFC 9068 §3 ``aud``: the RFC 8707 resources of the request, else the configured default.

    The resources are normalised and checked as DOT stores them (``_check_and_set_request_resource``:
    the grant's or refresh token's resources when the request names none, no widening); DOT runs
    that check again when it saves the token, on the already normalised list.
    """
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    validator._check_and_set_request_resource(request)
    resources = [entry for entry in (request.resource or []) if isinstance(entry, str)]
    if resources:
        return resources[0] if len(resources) == 1 else resources
    default = conf.DPOP_JWT_ACCESS_TOKEN_AUDIENCE
    if isinstance(default, str) and default:
        return default
    if isinstance(default, Sequence) and default and all(isinstance(v, str) and v for v in default):
        return list(default) if len(default) > 1 else default[0]
    # RFC 9068 §2.2: aud is required. Check django_dpop_oauth2.E017 reports this at start-up.
    raise ServerError(description="No audience for the JWT access token (DPOP_JWT_ACCESS_TOKEN_AUDIENCE).")


def subject(request: Any) -> str:
    """RFC 9068 §2.2 ``sub``: the user's primary key, or the ``client_id`` without a user (§2.2)."""
    user = getattr(request, "user", None)
    if request.grant_type != "client_credentials" and user is not None and user.pk is not None:
        return str(user.pk)
    return request.client.client_id


def access_token_claims(request: Any, *, now: int | None = None) -> dict[str, Any]:
    """The claims of the JWT access token of this (validated) oauthlib token request."""
    issued_at = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer(request),
        "sub": subject(request),
        "aud": audience(request),
        "client_id": request.client.client_id,
        "scope": " ".join(request.scopes or ()),
        "jti": secrets.token_urlsafe(18),
        "iat": issued_at,
        "exp": issued_at + int(request.expires_in),
    }
    # Set by the backend only for a verified proof; RFC 9449 §6.1.
    jkt = (getattr(request, "headers", None) or {}).get(JKT_HEADER)
    if isinstance(jkt, str) and jkt:
        claims["cnf"] = {"jkt": jkt}
    return claims


def generate_access_token(request: Any, refresh_token: bool = False) -> str:
    """DOT ``ACCESS_TOKEN_GENERATOR``: a signed RFC 9068 JWT access token (header ``typ: at+jwt``)."""
    private_key, kid = signing_key()
    headers = {"typ": ACCESS_TOKEN_TYPE, "kid": kid}
    return jwt.encode(access_token_claims(request), private_key, algorithm=SIGNING_ALGORITHM, headers=headers)
