"""``DPoPAuthentication``: DPoP-bound access tokens of django-oauth-toolkit for DRF (RFC 9449 §7).

List it first in ``authentication_classes`` (or ``DEFAULT_AUTHENTICATION_CLASSES``): DRF asks only
the first authenticator for the ``WWW-Authenticate`` challenge and answers 403 instead of 401 when
that one has none (``APIView.handle_exception``); this class always has one.
"""

from __future__ import annotations

import logging
from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions, status
from rest_framework.request import Request

from ...conf import conf
from ...core.errors import DPoPError, InvalidRequest, StoreUnavailable, UseDPoPNonce
from ...core.proof import VerifiedProof
from ...http import DPOP_NONCE_HEADER, set_pending_nonce
from ...proofs import RESOURCE, next_nonce
from ..oauth2_provider import resource
from ..oauth2_provider.resource import Credentials


logger = logging.getLogger("django_dpop")

# Where the refusal is kept between authenticate() and authenticate_header() (same DRF Request).
_ERROR_ATTRIBUTE = "_dpop_error"


class DPoPAuthenticationFailed(exceptions.AuthenticationFailed):
    """A refused DPoP request: 401 with ``WWW-Authenticate: DPoP error=...`` (RFC 9449 §7.1)."""


class DPoPInvalidRequest(DPoPAuthenticationFailed):
    """RFC 6750 §3.1 ``invalid_request`` (e.g. Bearer and DPoP mixed, several credentials): 400."""

    status_code = status.HTTP_400_BAD_REQUEST


class DPoPStoreUnavailable(exceptions.APIException):
    """The replay or nonce store failed: the request is refused, not waved through (503)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "DPoP verification is temporarily unavailable."
    default_code = "temporarily_unavailable"


class DPoPAuthentication(OAuth2Authentication):
    """Authenticate ``Authorization: DPoP <token>`` plus a ``DPoP`` proof (RFC 9449 §7.1).

    A subclass of DOT's ``OAuth2Authentication``, so DOT's permission classes treat it as theirs
    and ``request.user`` / ``request.auth`` are what DOT gives: ``(token.user, token)``, the user
    being None for client-credentials tokens. The verified proof is ``request.dpop_proof``.

    Bearer tokens are delegated to DOT while ``DPOP_ALLOW_BEARER_TOKENS`` is True, except a
    DPoP-bound one (RFC 9449 §7.2) and a Bearer token sent with a ``DPoP`` header. Refusals raise
    (401, or 400 for ``invalid_request``, 503 when a store fails); requests without DPoP or Bearer
    credentials return None so that other authenticators can run.

    Override points: :meth:`get_authorization`, :meth:`authenticate_dpop`, :meth:`verify`,
    :meth:`get_user`, :meth:`authenticate_bearer`, :meth:`get_challenges`.
    """

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
        """Verify the proof and the token's binding; return ``(user, access_token)``."""
        access_token, proof = self.verify(request, token)
        request._request.dpop_proof = proof
        nonce = next_nonce(proof, RESOURCE)
        if nonce is not None:
            self.send_nonce(request, nonce)
        return self.get_user(access_token), access_token

    def verify(self, request: Request, token: str) -> tuple[Any, VerifiedProof]:
        """All checks of RFC 9449 §4.3 and the key binding (§6): ``(access_token, proof)``."""
        return resource.verify_dpop_token(request._request, token)

    def get_user(self, access_token: Any) -> Any:
        """The user DRF sets as ``request.user``: the token's, None for client credentials."""
        return access_token.user

    def authenticate_bearer(self, request: Request, credentials: Credentials) -> tuple[Any, Any] | None:
        """Delegate a Bearer token to DOT, then refuse it if it is DPoP-bound (RFC 9449 §7.2).

        Like DOT, an invalid Bearer token returns None (and its error goes into the challenge).
        """
        resource.check_bearer_request(request._request)
        result = super().authenticate(request)
        if result is not None:
            resource.refuse_bound_bearer(result[1])
            request._request.dpop_proof = None
        elif getattr(request, "oauth2_error", None):
            # DOT refused the token; if it is bound (the DOT helper's validator refuses those),
            # say so on the DPoP scheme, whichever validator the host runs. Refusals only.
            access_token = resource.load_access_token(credentials.token)
            if access_token is not None:
                resource.refuse_bound_bearer(access_token)
        return result

    # -- refusals and challenges -----------------------------------------------------------------

    def refuse(self, request: Request, error: DPoPError) -> exceptions.APIException:
        """Map a core error to the DRF exception to raise, remembering it for the challenge."""
        if isinstance(error, StoreUnavailable):
            logger.error("DPoP store unavailable", exc_info=error.__cause__ or error)
            return DPoPStoreUnavailable()
        setattr(request, _ERROR_ATTRIBUTE, error)
        if isinstance(error, UseDPoPNonce) and error.nonce:
            self.send_nonce(request, error.nonce)
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

    def authenticate_header(self, request: Request) -> str:
        """Always a challenge, so that DRF answers 401 and never 403 (RFC 9449 §7.1, §7.2)."""
        return self.get_challenges(request)

    def get_challenges(self, request: Request) -> str:
        error = getattr(request, _ERROR_ATTRIBUTE, None)
        if error is None:
            oauth2_error = getattr(request, "oauth2_error", None)
            if oauth2_error and oauth2_error.get("error"):
                # DOT refused a Bearer token (and returned None): report it on the Bearer scheme.
                description = oauth2_error.get("error_description")
                error = resource.InvalidBearerToken(str(description) if description else None)
                error.error = str(oauth2_error["error"])
        return resource.challenges(
            error, bearer=conf.DPOP_ALLOW_BEARER_TOKENS, realm=self.www_authenticate_realm
        )
