"""The PAR endpoint (RFC 9126 §2) with DPoP (RFC 9449 §10.1), and ``request_uri`` at ``/authorize/``.

:class:`PushedAuthorizationRequestView` is DOT main's view name, served at DOT main's path
(``par/``) and URL name (``pushed-authorization-request``). :class:`PushedAuthorizationMixin`
teaches DOT's authorization view the ``request_uri`` parameter (RFC 9126 §4).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django import http
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import View
from oauthlib.oauth2.rfc6749.errors import FatalClientError as OAuthlibFatalClientError
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from ... import http as dpop_http
from ...core.errors import DPoPError, StoreUnavailable
from ...core.proof import VerifiedProof
from ...http import get_proof
from ...proofs import TOKEN_ENDPOINT, verify_request_proof
from ...signals import ENDPOINT_PAR
from . import par
from .backends import TOKEN_RESPONSE_HEADERS, add_response_nonce, dpop_error_response
from .compat import FatalClientError, OAuthLibMixin, login_not_required
from .validators import is_jkt


log = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Session entries of resolved pushed requests awaiting the consent form's POST.
SESSION_KEY = "django_dpop_par"
MAX_SESSION_ENTRIES = 8
SESSION_ENTRY_LIFETIME = 3600  # a user may take a while to consent


class _DPoPRefusal(Exception):
    def __init__(self, error: DPoPError) -> None:
        self.error = error


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class PushedAuthorizationRequestView(OAuthLibMixin, View):
    """RFC 9126 §2: authenticate the client, validate its authorization request, store it.

    A ``DPoP`` proof (htm POST, htu this endpoint) is verified as at the token endpoint, nonce
    included, and its key binds the code as ``dpop_jkt`` would (RFC 9449 §10.1). Answers 201
    ``{"request_uri", "expires_in"}``; refusals are token-endpoint style JSON errors, and a refused
    push stores nothing.
    """

    http_method_names = ["post"]

    def dispatch(self, request: http.HttpRequest, *args: Any, **kwargs: Any) -> http.HttpResponse:
        if not par.par_enabled():
            return http.JsonResponse({"error": "not_found"}, status=404)
        return super().dispatch(request, *args, **kwargs)

    @method_decorator(sensitive_post_parameters("client_secret", "client_assertion"))
    def post(self, request: http.HttpRequest, *args: Any, **kwargs: Any) -> http.HttpResponse:
        proof: VerifiedProof | None = None
        try:
            proof = self._verify_proof(request)
            body, status = self._push(request, proof)
        except _DPoPRefusal as refusal:
            headers, content, status = dpop_error_response(refusal.error)
            return self._respond(request, json.loads(content), status, headers, proof=None)
        except par.PushedAuthorizationError as exc:
            body = {"error": exc.error, "error_description": exc.description}
            status = exc.status
        return self._respond(request, body, status, {}, proof=proof)

    # -- steps --------------------------------------------------------------------------------

    @staticmethod
    def _verify_proof(request: http.HttpRequest) -> VerifiedProof | None:
        """RFC 9449 §10.1: a proof at PAR is checked as at the token endpoint (§4.3, §8)."""
        if get_proof(request) is None:
            return None
        try:
            return verify_request_proof(request, purpose=TOKEN_ENDPOINT, endpoint=ENDPOINT_PAR)
        except DPoPError as exc:
            raise _DPoPRefusal(exc) from exc
        except Exception as exc:  # a broken store or store setting: refuse, never 500
            log.exception("DPoP proof verification failed unexpectedly at the PAR endpoint")
            raise _DPoPRefusal(StoreUnavailable()) from exc

    def _push(self, request: http.HttpRequest, proof: VerifiedProof | None) -> tuple[dict[str, Any], int]:
        content_type = (request.content_type or "").lower()
        if content_type != FORM_CONTENT_TYPE:
            raise par.PushedAuthorizationError(
                f"The request body must be {FORM_CONTENT_TYPE} (RFC 9126 §2.1)."
            )
        parameters = par.collect_parameters(request)
        core = self.get_oauthlib_core()
        client = par.authenticate_client(core, request)
        if client is None:
            raise par.PushedAuthorizationError("Client authentication failed.", "invalid_client", 401)
        # RFC 9126 §2.1: the pushed request is the authenticated client's own, before anything
        # about it is validated (no probing of other clients' redirect URIs).
        client_id = parameters.get("client_id", [None])[0]
        if client_id is not None and client_id != client.client_id:
            raise par.PushedAuthorizationError("client_id is not the authenticated client.")
        parameters["client_id"] = [client.client_id]

        # RFC 9449 §10.1: the proof's key binds the code exactly as dpop_jkt does; both present
        # must agree. The mismatch is a contradictory request, not a bad proof: invalid_request,
        # as node-oidc-provider and Keycloak answer it.
        dpop_jkt = parameters.get("dpop_jkt")
        if dpop_jkt is not None and not is_jkt(dpop_jkt[0]):
            raise par.PushedAuthorizationError("dpop_jkt must be one JWK SHA-256 thumbprint (RFC 9449 §10).")
        if proof is not None:
            if dpop_jkt is not None and dpop_jkt[0] != proof.jkt:
                raise par.PushedAuthorizationError(
                    "dpop_jkt does not match the key of the DPoP proof (RFC 9449 §10.1)."
                )
            parameters["dpop_jkt"] = [proof.jkt]
        validator = core.server.request_validator
        requires_dpop = getattr(validator, "client_requires_dpop", None)
        if "dpop_jkt" not in parameters and requires_dpop is not None and requires_dpop(client):
            raise par.PushedAuthorizationError(
                "This client must use DPoP: send a DPoP proof or dpop_jkt (RFC 9449 §5.2, §10.1).",
                "invalid_dpop_proof",
            )

        # RFC 9126 §2.1 step 3: validated as the authorization endpoint will see it, from the
        # very parameters that are stored.
        uri = dpop_http.request_uri(request) + "?" + par.query_string(parameters)
        try:
            core.server.validate_authorization_request(
                uri, http_method="GET", body=None, headers=core.extract_headers(request)
            )
        except OAuth2Error as exc:
            status = exc.status_code if isinstance(exc, OAuthlibFatalClientError) else 400
            raise par.PushedAuthorizationError(
                exc.description or "Invalid authorization request.", exc.error or "invalid_request", status
            ) from exc
        par.check_pkce_method(parameters)
        request_uri, expires_in = par.store(client, parameters)
        return {"request_uri": request_uri, "expires_in": expires_in}, 201

    @staticmethod
    def _respond(
        request: http.HttpRequest,
        body: dict[str, Any],
        status: int,
        headers: dict[str, str],
        *,
        proof: VerifiedProof | None,
    ) -> http.HttpResponse:
        response = http.HttpResponse(json.dumps(body), status=status)
        # RFC 9126 §2.2, §2.3: JSON, not cached.
        for name, value in {**TOKEN_RESPONSE_HEADERS, **headers}.items():
            response[name] = value
        if status == 401:
            # RFC 6749 §5.2: a failed client authentication answers a challenge.
            response["WWW-Authenticate"] = 'Basic realm="oauth2", error="invalid_client"'
        nonce_headers: dict[str, str] = {}
        if "DPoP-Nonce" not in response:
            add_response_nonce(nonce_headers, request, proof if status == 201 else None, status)
        for name, value in nonce_headers.items():
            response[name] = value
        return response


class InvalidRequestURIError(OAuthlibFatalClientError):
    """RFC 9101 §7 ``invalid_request_uri``, never redirected (RFC 9126 §4)."""

    error = par.INVALID_REQUEST_URI
    status_code = 400


class PushedAuthorizationRequiredError(OAuthlibFatalClientError):
    """RFC 9126 §5, §6: this server or client takes pushed requests only."""

    error = "invalid_request"
    status_code = 400


class PushedAuthorizationMixin:
    """Mix into DOT's ``AuthorizationView`` (ahead of it): ``request_uri`` (RFC 9126 §4).

    GET with ``client_id`` and ``request_uri`` spends the pushed request and carries on with its
    parameters only (whatever else the query holds is dropped). The consent form must then come
    back with the values it was rendered with, to the same URL (DOT's template posts back to
    it): the pushed request is remembered in the session until then. Without a ``request_uri``,
    a client that must push (RFC 9126 §5, §6) is refused at GET and POST. Refusals are never
    redirected: nothing about the redirect URI is known to be the client's.
    """

    _pushed_request_uri: str | None = None

    def get(self, request: http.HttpRequest, *args: Any, **kwargs: Any) -> http.HttpResponse:
        request_uri = request.GET.get("request_uri")
        if request_uri:
            try:
                parameters = par.consume(request_uri, request.GET.get("client_id"))
            except par.PushedAuthorizationError as exc:
                return self._refuse(InvalidRequestURIError(description=exc.description))
            query_string = par.query_string(parameters)
            request.GET = http.QueryDict(query_string)
            request.META["QUERY_STRING"] = query_string
            self._pushed_request_uri = request_uri
        elif par.pushed_authorization_required(request.GET.get("client_id")):
            return self._refuse(PushedAuthorizationRequiredError(description=self._required_message()))
        return super().get(request, *args, **kwargs)  # type: ignore[misc]

    def post(self, request: http.HttpRequest, *args: Any, **kwargs: Any) -> http.HttpResponse:
        request_uri = request.GET.get("request_uri")
        if request_uri:
            self._pushed_request_uri = request_uri
        elif par.pushed_authorization_required(request.POST.get("client_id")):
            return self._refuse(PushedAuthorizationRequiredError(description=self._required_message()))
        return super().post(request, *args, **kwargs)  # type: ignore[misc]

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)  # type: ignore[misc]
        if self._pushed_request_uri and self.request.method == "GET":
            # What the consent form is rendered with (dpop_jkt included) is what must come back.
            entries = dict(self.request.session.get(SESSION_KEY) or {})
            entries[self._pushed_request_uri] = {
                "expires": int(time.time()) + SESSION_ENTRY_LIFETIME,
                "values": {name: _form_value(value) for name, value in form.initial.items()},
            }
            # Newest entries only: a session never grows without bound.
            newest = sorted(entries.items(), key=lambda item: item[1]["expires"])[-MAX_SESSION_ENTRIES:]
            self.request.session[SESSION_KEY] = dict(newest)
        return form

    def form_valid(self, form: Any) -> http.HttpResponse:
        if self._pushed_request_uri:
            entries = dict(self.request.session.get(SESSION_KEY) or {})
            entry = entries.pop(self._pushed_request_uri, None)
            self.request.session[SESSION_KEY] = entries
            if entry is None or entry["expires"] < time.time():
                return self._refuse(
                    InvalidRequestURIError(description="The request_uri was not shown to this session.")
                )
            for name, value in entry["values"].items():
                if name in form.cleaned_data and _form_value(form.cleaned_data[name]) != value:
                    return self._refuse(
                        InvalidRequestURIError(description=f"The consent form changed the pushed {name}.")
                    )
        return super().form_valid(form)  # type: ignore[misc]

    def _refuse(self, error: OAuth2Error) -> http.HttpResponse:
        return self.error_response(FatalClientError(error=error), application=None)  # type: ignore[attr-defined]

    @staticmethod
    def _required_message() -> str:
        if par.server_requires_par():
            return "This authorization server requires pushed authorization requests (RFC 9126 §5)."
        return "This client must use pushed authorization requests (RFC 9126 §6)."


def _form_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return str(value)


PAR_URL_NAME = "pushed-authorization-request"


def par_endpoint_url(request: http.HttpRequest) -> str | None:
    """The absolute URL of the PAR endpoint (ours, else DOT's own once it has one), or None."""
    for name in (f"django_dpop_oauth2:{PAR_URL_NAME}", f"oauth2_provider:{PAR_URL_NAME}"):
        try:
            return request.build_absolute_uri(reverse(name))
        except NoReverseMatch:
            continue
    return None


def par_metadata(request: http.HttpRequest) -> dict[str, Any]:
    """RFC 9126 §5 authorization server metadata: the endpoint, and whether PAR is required."""
    if not par.par_enabled():
        return {}
    url = par_endpoint_url(request)
    if url is None:
        return {}
    return {
        "pushed_authorization_request_endpoint": url,
        "require_pushed_authorization_requests": par.server_requires_par(),
    }
