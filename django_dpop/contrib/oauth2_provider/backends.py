"""DOT's Django-to-oauthlib bridge (``OAUTH2_BACKEND_CLASS``) taught DPoP (RFC 9449).

The proof is verified here, against the Django request (method, public URL, stores), once per
request. oauthlib then learns the verified key thumbprint through a synthetic header key that no
client can send (WSGI and ASGI put every client header under ``HTTP_``), the same idiom DOT uses
for ``X_DJANGO_OAUTH_TOOLKIT_SECURE``. The validator (:mod:`.validators`) reads it to bind and
check tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from typing import Any

from django.db import Error as DBError  # DatabaseError and InterfaceError (PEP 249)
from django.http import HttpRequest, HttpResponse
from oauth2_provider.models import get_access_token_model
from oauthlib.common import Request as OAuthlibRequest

from ...core.errors import DPoPError, StoreUnavailable, UseDPoPNonce
from ...core.proof import VerifiedProof
from ...http import get_proof, pending_nonce, set_pending_nonce
from ...proofs import TOKEN_ENDPOINT, response_nonce, verify_request_proof
from ...resource import refusal_nonce, retry_after, success_nonce
from .compat import OAuthLibCore
from .transactions import log_unavailable, token_transaction, unavailable_response


log = logging.getLogger(__name__)

#: Key of the verified thumbprint in the headers oauthlib sees (never an ``HTTP_`` key).
JKT_HEADER = "X_DJANGO_DPOP_JKT"
#: ``token_type`` of a DPoP-bound access token (RFC 9449 §5).
DPOP_TOKEN_TYPE = "DPoP"

_TOKEN_PROOF = "_dpop_token_endpoint_proof"
_RESOURCE_AUTH = "_dpop_resource_authentication"
_UNSET = object()
#: Headers of every token endpoint JSON answer (RFC 6749 §5.1, §5.2).
TOKEN_RESPONSE_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def dpop_error_response(exc: DPoPError) -> tuple[dict[str, str], str, int]:
    """Headers, body and status of a token endpoint DPoP error (RFC 9449 §5, §8).

    ``use_dpop_nonce`` carries exactly one ``DPoP-Nonce``. A failing replay or nonce store
    answers 503 ``temporarily_unavailable``: the request is refused (fail closed) but the client
    may retry, which a 400 would tell it not to.
    """
    headers = dict(TOKEN_RESPONSE_HEADERS)
    status = 400
    if isinstance(exc, UseDPoPNonce) and exc.nonce:
        headers["DPoP-Nonce"] = exc.nonce
    elif isinstance(exc, StoreUnavailable):
        status = 503
        headers["Retry-After"] = retry_after()  # DPOP_RETRY_AFTER, as at the resources
    body = json.dumps({"error": exc.error, "error_description": exc.description})
    return headers, body, status


def add_response_nonce(
    headers: MutableMapping[str, str] | HttpResponse,
    request: HttpRequest,
    proof: VerifiedProof | None,
    status: int,
) -> None:
    """Put a ``DPoP-Nonce`` on a token or PAR endpoint response when one is due (RFC 9449 §8.2).

    A newer nonce on a success whose nonce is about to expire; with
    ``DPOP_NONCE_ON_EVERY_RESPONSE``, the current one on every answer to a request with a proof.
    A response that has one already (``use_dpop_nonce``) or says the store failed (503) is left.
    """
    if "DPoP-Nonce" in headers or status == 503:
        return
    try:
        nonce = response_nonce(request, TOKEN_ENDPOINT, proof)
    except StoreUnavailable:
        # The answer stands; the client will get use_dpop_nonce next time.
        log.warning("DPoP nonce store unavailable; no DPoP-Nonce on this response")
        return
    if nonce:
        headers["DPoP-Nonce"] = nonce


def _park_nonce(request: HttpRequest, nonce: str | None) -> None:
    """A resource nonce for DOT's surfaces: UserInfo sends it, ``DPoPNonceMiddleware`` the others."""
    if nonce:
        set_pending_nonce(request, nonce)


class DPoPOAuthLibCoreMixin:
    """Mix into an ``OAuthLibCore`` subclass (before it) to add DPoP to DOT's endpoints."""

    # -- token endpoint (RFC 9449 §5) ----------------------------------------------------------

    def token_endpoint_proof(self, request: HttpRequest) -> VerifiedProof | None:
        """Verify the token request's proof once; None without a ``DPoP`` header.

        The outcome is remembered on the request, so the device-flow view can check the proof
        before the grant status and the backend reuses the result (a second verification would
        see its own ``jti`` as a replay). Raises :class:`DPoPError`, never anything else.
        """
        cached = request.__dict__.get(_TOKEN_PROOF, _UNSET)
        if cached is _UNSET:
            if get_proof(request) is None:
                cached = None
            else:
                try:
                    cached = verify_request_proof(request, purpose=TOKEN_ENDPOINT)
                except DPoPError as exc:
                    cached = exc
                except Exception as exc:  # a broken store or store setting: refuse, never 500
                    cached = StoreUnavailable()
                    cached.__cause__ = exc
                if isinstance(cached, StoreUnavailable):
                    # Say why (a forgotten migrate, Redis down): the client only sees a 503.
                    log_unavailable("token endpoint", cached)
            setattr(request, _TOKEN_PROOF, cached)
        if isinstance(cached, DPoPError):
            raise cached
        return cached

    def create_token_response(self, request: HttpRequest) -> tuple[Any, dict[str, str], str, int]:
        try:
            proof = self.token_endpoint_proof(request)
        except DPoPError as exc:
            headers, body, status = dpop_error_response(exc)
            add_response_nonce(headers, request, None, status)
            return None, headers, body, status
        try:
            # One transaction per grant: a concurrent use of the same grant waits for this one and
            # then finds it spent (invalid_grant, RFC 6749 §5.2), see .transactions.
            with token_transaction(get_access_token_model()):
                uri, headers, body, status = super().create_token_response(request)  # type: ignore[misc]
        except DBError as exc:
            log_unavailable("token endpoint", exc)
            headers, body, status = unavailable_response()
            return None, headers, body, status
        headers = dict(headers)
        # Errors raised from save_bearer_token (ours among them) reach DOT's ``except
        # OAuth2Error`` without oauthlib's default headers (RFC 6749 §5.1, §5.2).
        for name, value in TOKEN_RESPONSE_HEADERS.items():
            headers.setdefault(name, value)
        add_response_nonce(headers, request, proof if status == 200 else None, status)
        return uri, headers, body, status

    def _get_extra_credentials(self, request: HttpRequest) -> dict[str, Any] | None:
        """``token_type: DPoP`` when the request carried a valid proof (RFC 9449 §5).

        oauthlib merges this after it sets ``Bearer``, for every grant (tokens.py).
        """
        extra = super()._get_extra_credentials(request)  # type: ignore[misc]
        if isinstance(request.__dict__.get(_TOKEN_PROOF), VerifiedProof):
            extra = dict(extra or {})
            extra["token_type"] = DPOP_TOKEN_TYPE
        return extra

    def create_revocation_response(self, request: HttpRequest) -> tuple[Any, dict[str, str], str, int]:
        """RFC 7009 revocation in one transaction; a failing database is a 503, never a 500."""
        try:
            with token_transaction(get_access_token_model()):
                return super().create_revocation_response(request)  # type: ignore[misc]
        except DBError as exc:
            log_unavailable("revocation endpoint", exc)
            headers, body, status = unavailable_response()
            return None, headers, body, status

    # -- protected resources: DOT's views, DRF's OAuth2Authentication, OIDC UserInfo (§7.1) -------

    def _authenticate_dpop(self, request: HttpRequest) -> DPoPError | None:
        """Check an ``Authorization: DPoP`` request (proof with ``ath``, token, key binding).

        On success the token, its binding and the proof are parked on the request for
        :meth:`extract_headers`; a request with another scheme is left to DOT. Returns the refusal.
        """
        from ...resource import DPOP_SCHEME, get_authorization, verify_dpop_token
        from .tokens import DOTTokenValidator

        if _RESOURCE_AUTH in request.__dict__:
            return None
        try:
            credentials = get_authorization(request)
            if credentials is None or credentials.scheme != DPOP_SCHEME:
                return None
            # DOT's own surfaces need DOT's AccessToken: the DOT validator alone, whatever
            # DPOP_TOKEN_VALIDATORS lists for DRF and plain views.
            validated, proof = verify_dpop_token(request, credentials.token, [DOTTokenValidator])
            access_token = validated.auth
        except DPoPError as exc:
            _park_nonce(request, refusal_nonce(request, exc))
            return exc
        except Exception:  # a broken store or store setting: refuse, never 500
            log.exception("DPoP resource authentication failed unexpectedly")
            return StoreUnavailable()
        setattr(request, _RESOURCE_AUTH, (credentials.token, access_token, proof))
        try:
            _park_nonce(request, success_nonce(request, proof))
        except StoreUnavailable:
            log.warning("DPoP nonce store unavailable; no DPoP-Nonce on this response")
        return None

    def verify_request(self, request: HttpRequest, scopes: list[str]) -> tuple[bool, Any]:
        """Accept ``Authorization: DPoP`` as well; DOT then checks scopes, audience and client."""
        from .validators import preloaded_access_token

        error = self._authenticate_dpop(request)
        if error is not None:
            oauthlib_request = OAuthlibRequest(request.build_absolute_uri())
            oauthlib_request.oauth2_error = {"error": error.error, "error_description": error.description}
            return False, oauthlib_request
        auth = request.__dict__.get(_RESOURCE_AUTH)
        if auth is None:
            return super().verify_request(request, scopes)  # type: ignore[misc]
        with preloaded_access_token(auth[1]):
            return super().verify_request(request, scopes)  # type: ignore[misc]

    def create_userinfo_response(self, request: HttpRequest) -> tuple[Any, dict[str, str], str, int]:
        """OIDC UserInfo with ``Authorization: DPoP`` (RFC 9449 §7.1), refusals as 401 challenges."""
        from ...resource import challenges, error_status, retry_after
        from .validators import preloaded_access_token

        error = self._authenticate_dpop(request)
        if error is not None:
            headers = {"WWW-Authenticate": challenges(error), "Cache-Control": "no-store"}
            nonce = pending_nonce(request)  # use_dpop_nonce's, or DPOP_NONCE_ON_EVERY_RESPONSE's
            if nonce:
                headers["DPoP-Nonce"] = nonce
            if isinstance(error, StoreUnavailable):
                headers["Retry-After"] = retry_after()
            body = json.dumps({"error": error.error, "error_description": error.description})
            headers["Content-Type"] = "application/json"
            return None, headers, body, error_status(error)
        auth = request.__dict__.get(_RESOURCE_AUTH)
        if auth is None:
            return super().create_userinfo_response(request)  # type: ignore[misc]
        with preloaded_access_token(auth[1]):
            uri, headers, body, status = super().create_userinfo_response(request)  # type: ignore[misc]
        nonce = pending_nonce(request)
        if nonce:
            headers = {**dict(headers), "DPoP-Nonce": nonce}
        return uri, headers, body, status

    # -- what oauthlib sees ----------------------------------------------------------------------

    def extract_headers(self, request: HttpRequest) -> dict[str, Any]:
        headers = super().extract_headers(request)  # type: ignore[misc]
        # Whatever arrived under this name did not come from us.
        headers.pop(JKT_HEADER, None)
        proof = request.__dict__.get(_TOKEN_PROOF)
        if isinstance(proof, VerifiedProof):
            headers[JKT_HEADER] = proof.jkt
        auth = request.__dict__.get(_RESOURCE_AUTH)
        if auth is not None:
            # oauthlib only knows Bearer: hand it the verified token under that scheme, with the
            # proof's key for the validator's binding check. request.META is left untouched.
            token, _access_token, resource_proof = auth
            headers["Authorization"] = f"Bearer {token}"
            headers[JKT_HEADER] = resource_proof.jkt
        return headers


class DPoPOAuthLibCore(DPoPOAuthLibCoreMixin, OAuthLibCore):
    """``OAUTH2_BACKEND_CLASS`` for DOT with DPoP."""
