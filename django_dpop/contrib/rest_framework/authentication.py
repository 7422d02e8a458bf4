"""``DPoPAuthentication``: DPoP-bound access tokens for DRF (RFC 9449 §7), from any token source.

List it first in ``authentication_classes`` (or ``DEFAULT_AUTHENTICATION_CLASSES``): DRF asks only
the first authenticator for the ``WWW-Authenticate`` challenge and answers 403 instead of 401 when
that one has none (``APIView.handle_exception``); this class always has one.

Tokens are vouched for by the access-token validators (``DPOP_TOKEN_VALIDATORS``, or the class
attribute ``token_validators``); DOT is one of them, not a requirement.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from ... import resource
from ...conf import conf
from ...core.errors import DPoPError, InvalidRequest, StoreUnavailable
from ...core.proof import VerifiedProof
from ...http import DPOP_NONCE_HEADER, set_pending_nonce
from ...resource import Credentials, InvalidBearerToken, Validators
from ...tokens.base import ValidatedToken


logger = logging.getLogger("django_dpop")

# Where the refusal is kept between authenticate() and authenticate_header() (same DRF Request).
_ERROR_ATTRIBUTE = "_dpop_error"


def _base_class() -> type[BaseAuthentication]:
    """DRF's ``BaseAuthentication``; DOT's ``OAuth2Authentication`` (itself one) when DOT is installed.

    Only for the ``isinstance(request.successful_authenticator, OAuth2Authentication)`` of DOT's
    ``IsAuthenticatedOrTokenHasScope``, which otherwise skips the scope check of a token-
    authenticated user. Every method DOT's class has is overridden here; nothing of DOT runs.
    """
    try:
        from django.apps import apps

        if not apps.is_installed("oauth2_provider"):
            return BaseAuthentication
        from oauth2_provider.contrib.rest_framework import OAuth2Authentication
    except Exception:  # DOT absent, or not importable in this process
        return BaseAuthentication
    return OAuth2Authentication


class DPoPAuthenticationFailed(exceptions.AuthenticationFailed):
    """A refused DPoP request: 401 with ``WWW-Authenticate: DPoP error=...`` (RFC 9449 §7.1)."""


class DPoPInvalidRequest(DPoPAuthenticationFailed):
    """RFC 6750 §3.1 ``invalid_request`` (e.g. Bearer and DPoP mixed, several credentials): 400."""

    status_code = status.HTTP_400_BAD_REQUEST


class DPoPStoreUnavailable(exceptions.APIException):
    """A store or token source failed: the request is refused, not waved through (503)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "DPoP verification is temporarily unavailable."
    default_code = "temporarily_unavailable"


class DPoPAuthentication(_base_class()):  # type: ignore[misc]
    """Authenticate ``Authorization: DPoP <token>`` plus a ``DPoP`` proof (RFC 9449 §7.1).

    ``request.auth`` is the validator's ``auth`` (DOT's ``AccessToken`` for DOT tokens, a
    :class:`~django_dpop.tokens.TokenClaims` otherwise: both have ``scope`` and
    ``is_valid(scopes)``, so DOT's ``TokenHasScope`` works), ``request.user`` is
    :meth:`get_user` (the token's user, None without one). The verified proof is
    ``request.dpop_proof``.

    Bearer tokens are accepted while ``DPOP_ALLOW_BEARER_TOKENS`` is True, except a DPoP-bound
    one (RFC 9449 §7.2) and a Bearer token sent with a ``DPoP`` header. Refusals raise (401, or
    400 for ``invalid_request``, 503 with ``Retry-After`` when a store or token source fails);
    requests without DPoP or Bearer credentials return None so that other authenticators can
    run, and so does an invalid Bearer token (as DOT does; its error goes into the challenge).

    ``token_validators``: import paths, classes or instances replacing ``DPOP_TOKEN_VALIDATORS``
    for this class (None: the setting). Override points: :meth:`get_authorization`,
    :meth:`authenticate_dpop`, :meth:`verify`, :meth:`get_user`, :meth:`authenticate_bearer`,
    :meth:`get_challenges`.
    """

    www_authenticate_realm = "api"
    token_validators: Validators = None

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if request is None:
            return None
        try:
            credentials = self.get_authorization(request)
            if credentials is None:
                return None
            if credentials.scheme == resource.DPOP_SCHEME:
                return self.authenticate_dpop(request, credentials.token)
            return self.authenticate_bearer(request, credentials)
        except DPoPError as error:
            raise self.refuse(request, error) from None

    # -- the steps -------------------------------------------------------------------------------

    def get_authorization(self, request: Request) -> Credentials | None:
        """Return the DPoP or Bearer credentials of ``Authorization`` (None for other schemes)."""
        return resource.get_authorization(request._request)

    def authenticate_dpop(self, request: Request, token: str) -> tuple[Any, Any]:
        """Verify the proof and the token's binding; return ``(user, auth)``."""
        validated, proof = self.verify(request, token)
        request._request.dpop_proof = proof
        nonce = resource.success_nonce(request._request, proof)
        if nonce is not None:
            self.send_nonce(request, nonce)
        return self.get_user(validated), validated.auth

    def verify(self, request: Request, token: str) -> tuple[ValidatedToken, VerifiedProof]:
        """All checks of RFC 9449 §4.3, the validators, the key binding (§6): ``(validated, proof)``."""
        return resource.verify_dpop_token(request._request, token, self.token_validators)

    def get_user(self, validated: ValidatedToken) -> Any:
        """The user DRF sets as ``request.user``: the token's, None for none (client credentials)."""
        return validated.user

    def authenticate_bearer(self, request: Request, credentials: Credentials) -> tuple[Any, Any] | None:
        """Validate a Bearer token, refusing a DPoP-bound one (RFC 9449 §7.2).

        Like DOT, an invalid Bearer token returns None (and its error goes into the challenge).
        """
        try:
            validated = resource.verify_bearer_token(
                request._request, credentials.token, self.token_validators
            )
        except InvalidBearerToken as error:
            setattr(request, _ERROR_ATTRIBUTE, error)
            return None
        request._request.dpop_proof = None
        return self.get_user(validated), validated.auth

    # -- refusals and challenges -----------------------------------------------------------------

    def refuse(self, request: Request, error: DPoPError) -> exceptions.APIException:
        """Map a core error to the DRF exception to raise, remembering it for the challenge."""
        if isinstance(error, StoreUnavailable):
            logger.error("DPoP store unavailable", exc_info=error.__cause__ or error)
            self.send_retry_after(request)
            unavailable = DPoPStoreUnavailable()
            unavailable.wait = conf.DPOP_RETRY_AFTER  # DRF's exception handler: Retry-After
            return unavailable
        setattr(request, _ERROR_ATTRIBUTE, error)
        nonce = resource.refusal_nonce(request._request, error)  # use_dpop_nonce's, or §8.2's
        if nonce:
            self.send_nonce(request, nonce)
        exception_class = (
            DPoPInvalidRequest if isinstance(error, InvalidRequest) else DPoPAuthenticationFailed
        )
        return exception_class(detail=error.description, code=error.error)

    def send_nonce(self, request: Request, nonce: str) -> None:
        """Send ``DPoP-Nonce`` on this response, error or success (RFC 9449 §8.2, §9).

        Through the view's ``headers``, which ``finalize_response`` copies onto every response;
        parked on the request as well for ``DPoPNonceMiddleware`` when there is no view.
        """
        view = (request.parser_context or {}).get("view")
        headers = getattr(view, "headers", None)
        if isinstance(headers, dict):
            headers[DPOP_NONCE_HEADER] = nonce
        set_pending_nonce(request, nonce)

    def send_retry_after(self, request: Request) -> None:
        """``Retry-After`` on a 503 (RFC 9110 §10.2.3), through the view's ``headers``.

        Also ``wait`` on the exception, which DRF's own exception handler turns into the header.
        """
        view = (request.parser_context or {}).get("view")
        headers = getattr(view, "headers", None)
        if isinstance(headers, dict):
            headers["Retry-After"] = resource.retry_after()

    def authenticate_header(self, request: Request) -> str:
        """Always a challenge, so that DRF answers 401 and never 403 (RFC 9449 §7.1, §7.2)."""
        return self.get_challenges(request)

    def get_challenges(self, request: Request) -> str:
        error = getattr(request, _ERROR_ATTRIBUTE, None)
        return resource.challenges(
            error, bearer=conf.DPOP_ALLOW_BEARER_TOKENS, realm=self.www_authenticate_realm
        )
