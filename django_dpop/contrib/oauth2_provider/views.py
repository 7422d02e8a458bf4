"""DOT's views where DPoP needs more than the backend and validator hooks.

Mount them (``django_dpop.contrib.oauth2_provider.urls``) before DOT's own URLs, at the same
paths: the URL names stay DOT's, so ``reverse("oauth2_provider:token")`` and the metadata
documents keep pointing at them.
"""

from __future__ import annotations

import calendar
import json
from typing import Any

from django import http
from django.core.exceptions import ObjectDoesNotExist
from django.db import Error as DBError  # DatabaseError and InterfaceError (PEP 249)
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import get_access_token_model, get_device_grant_model
from oauthlib.oauth2.rfc6749.errors import InvalidRequestError, InvalidRequestFatalError
from oauthlib.oauth2.rfc8628 import errors as rfc8628_errors

from ...conf import conf
from ...core.errors import DPoPError
from ...core.resource_metadata import dpop_metadata
from . import consent
from .backends import DPOP_TOKEN_TYPE, TOKEN_RESPONSE_HEADERS, add_response_nonce, dpop_error_response
from .compat import (
    AuthorizationView,
    ConnectDiscoveryInfoView,
    DeviceAuthorizationView,
    FatalClientError,
    IntrospectTokenView,
    OAuthProtectedResourceMetadataView,
    OAuthServerMetadataView,
    OAuthToolkitError,
    TokenView,
    login_not_required,
)
from .forms import DPoPAllowForm
from .par_views import InvalidRequestURIError, PushedAuthorizationMixin, par_metadata
from .tokens import binding_jkt, token_checksum
from .transactions import log_unavailable, token_transaction, unavailable_response
from .validators import is_jkt


DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _response(headers: dict[str, str], body: str, status: int) -> http.HttpResponse:
    response = http.HttpResponse(content=body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


class UnavailableOnDatabaseError:
    """A JSON endpoint whose failing database answers 503 ``temporarily_unavailable``, never 500."""

    unavailable_endpoint = "endpoint"
    #: Run in one transaction (an endpoint that stores something: all of it or nothing).
    transactional = False

    def dispatch(self, request: http.HttpRequest, *args: Any, **kwargs: Any) -> http.HttpResponse:
        try:
            if not self.transactional:
                return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            with token_transaction(get_access_token_model()):
                return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except DBError as exc:
            log_unavailable(self.unavailable_endpoint, exc)
            return _response(*unavailable_response())


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class DPoPTokenView(TokenView):
    """DOT's token endpoint, with DPoP errors kept on the device-code path (RFC 9449 §5, §8).

    DOT's ``device_flow_token_response`` answers errors with a fresh ``JsonResponse`` and drops
    the backend's headers (``DPoP-Nonce``, ``Cache-Control: no-store``). This one checks the
    proof first, as for every other grant, and always copies the headers. It also spends the
    device code on its first token response (DOT 3.4.1 issued tokens on every poll).
    """

    def device_flow_token_response(
        self, request: http.HttpRequest, device_code: str, *args: Any, **kwargs: Any
    ) -> http.HttpResponse:
        core = self.get_oauthlib_core()
        token_endpoint_proof = getattr(core, "token_endpoint_proof", None)
        if token_endpoint_proof is not None:
            try:
                token_endpoint_proof(request)
            except DPoPError as exc:
                return _response(*dpop_error_response(exc))

        if not device_code:
            body = {"error": "invalid_request", "error_description": "Missing device_code parameter."}
            return _response(TOKEN_RESPONSE_HEADERS, json.dumps(body), 400)
        device_grant_model = get_device_grant_model()
        # The device row stays locked until the answer: concurrent polls of one code are served
        # one at a time, and the code is spent by its first token response. DOT 3.4.1 answered
        # every poll of an approved code with new tokens, to whoever held it, bound to any key.
        with token_transaction(device_grant_model):
            device = device_grant_model.objects.select_for_update().filter(device_code=device_code).first()
            if device is None:
                return _response(TOKEN_RESPONSE_HEADERS, json.dumps({"error": "device_not_found"}), 404)
            # RFC 8628 §3.5, as DOT answers them.
            error = {
                device.AUTHORIZATION_PENDING: rfc8628_errors.AuthorizationPendingError,
                device.DENIED: rfc8628_errors.AccessDenied,
                device.EXPIRED: rfc8628_errors.ExpiredTokenError,
            }.get(device.status)
            if error is not None:
                return _response(TOKEN_RESPONSE_HEADERS, error().json, error.status_code)
            if device.status != device.AUTHORIZED:
                return _response(TOKEN_RESPONSE_HEADERS, json.dumps({"error": "internal_error"}), 500)

            url, headers, body, status = self.create_token_response(request)
            if status == 200:
                device_grant_model.objects.filter(pk=device.pk).update(status=device.EXPIRED)
        return _response(dict(headers), body, status)

    def post(self, request: http.HttpRequest, *args: Any, **kwargs: Any) -> http.HttpResponse:
        # The proof first, outside the transaction: its jti stays spent even if the grant fails.
        token_endpoint_proof = getattr(self.get_oauthlib_core(), "token_endpoint_proof", None)
        if token_endpoint_proof is not None:
            try:
                token_endpoint_proof(request)
            except DPoPError as exc:
                response = _response(*dpop_error_response(exc))
                add_response_nonce(response, request, None, response.status_code)
                return response
        try:
            # Everything else in one transaction, DOT's own queries after the grant included: a
            # failure anywhere (a 503) leaves the grant unspent and nothing issued.
            with token_transaction(get_access_token_model()):
                if request.POST.get("grant_type") == DEVICE_CODE_GRANT:
                    # Last value wins, as in DOT's extract_body. A missing or empty device_code
                    # is a malformed request (RFC 6749 §5.2): DOT raises KeyError there, and
                    # oauthlib's pre-token hook DoesNotExist, both 500s.
                    response = self.device_flow_token_response(request, request.POST.get("device_code", ""))
                    # DPOP_NONCE_ON_EVERY_RESPONSE: the polls' authorization_pending answers too (§8.2).
                    add_response_nonce(response, request, None, response.status_code)
                    return response
                return self.authorization_flow_token_response(request)
        except DBError as exc:
            log_unavailable("token endpoint", exc)
            return _response(*unavailable_response())


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class CompatDeviceAuthorizationView(UnavailableOnDatabaseError, DeviceAuthorizationView):
    """DOT's RFC 8628 device authorization endpoint, working with oauthlib 4.

    oauthlib 4.0 adds a ``scope`` member (not defined by RFC 8628 §3.2) to the device
    authorization response, which DOT 3.4.1 passes to ``DeviceCodeResponse(**response)``:
    ``TypeError``, a 500 on every request. DOT resolves the scope again on its own, so the
    member is dropped; with oauthlib 3 this view changes nothing.
    """

    unavailable_endpoint = "device authorization endpoint"
    transactional = True

    def create_device_authorization_response(self, request: http.HttpRequest) -> tuple[Any, Any, int]:
        headers, response, status = super().create_device_authorization_response(request)
        if status == 200 and isinstance(response, dict):
            response.pop("scope", None)
        return headers, response, status


class DPoPAuthorizationView(PushedAuthorizationMixin, AuthorizationView):
    """DOT's authorization endpoint accepting ``dpop_jkt`` (RFC 9449 §10) and ``request_uri``.

    ``request_uri`` (RFC 9126 §4) is :class:`~.par_views.PushedAuthorizationMixin`'s.

    The thumbprint is checked (43 base64url characters) and handed to oauthlib as a credential,
    so the validator stores it with the code on every path (consent form, ``skip_authorization``,
    ``approval_prompt=auto``). Across the consent form the request stays on the server
    (:mod:`.consent`): the POST issues the code from what the GET was asked, so a browser can
    neither change nor drop ``dpop_jkt``, PKCE, the redirect URI or the client, nor post twice.
    """

    form_class = DPoPAllowForm
    _dpop_jkt: str | None = None
    _consent_id: str | None = None
    _consented: dict[str, Any] | None = None

    def validate_authorization_request(self, request: http.HttpRequest) -> tuple[Any, dict[str, Any]]:
        scopes, credentials = super().validate_authorization_request(request)
        values = request.GET.getlist("dpop_jkt")
        if values:
            if len(values) != 1 or not is_jkt(values[0]):
                redirect_uri = credentials.get("redirect_uri")
                raise OAuthToolkitError(
                    error=InvalidRequestError(
                        description="dpop_jkt must be one JWK SHA-256 thumbprint (RFC 9449 §10).",
                        state=credentials.get("state"),
                    ),
                    redirect_uri=redirect_uri,
                )
            self._dpop_jkt = values[0]
        credentials["dpop_jkt"] = self._dpop_jkt
        return scopes, credentials

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        if self.request.method == "GET" and self.oauth2_data:
            # The consent page is about to be built from this request: keep it server-side.
            parameters = {name: self.oauth2_data.get(name) for name in consent.PARAMETERS}
            parameters["scopes"] = list(self.oauth2_data.get("scopes") or [])
            parameters["dpop_jkt"] = self._dpop_jkt
            self._consent_id = initial["dpop_request"] = consent.remember(self.request, parameters)
        return initial

    def form_valid(self, form: DPoPAllowForm) -> http.HttpResponse:
        record = consent.take(self.request, form.cleaned_data.get("dpop_request"))
        problem = _consent_problem(record, form.cleaned_data)
        if problem is not None:
            # Never redirected: the request cannot be trusted to name the redirect URI.
            error = InvalidRequestURIError if self._pushed_request_uri else InvalidRequestFatalError
            return self.error_response(FatalClientError(error=error(description=problem)), application=None)
        assert record is not None
        self._dpop_jkt = record.get("dpop_jkt")
        self._consented = record
        # The form's own values go on to DOT (and the PAR check, which refuses changes to a pushed
        # request); the code is issued from the record (create_authorization_response).
        return super().form_valid(form)

    def create_authorization_response(
        self, request: http.HttpRequest, scopes: Any, credentials: dict[str, Any], allow: bool
    ) -> Any:
        # Always set, None included: oauthlib would otherwise read the parameter from the POST's
        # query string or body, which the browser controls.
        credentials["dpop_jkt"] = self._dpop_jkt
        if self._consented is not None:
            credentials.update(_credentials_of(self._consented))
        elif request.method == "GET":
            consent.forget(request, self._consent_id)  # answered without the form
        return super().create_authorization_response(request, scopes, credentials, allow)


def _credentials_of(record: dict[str, Any]) -> dict[str, Any]:
    """The oauthlib credentials of a stored authorization request, as DOT's ``form_valid`` builds them."""
    credentials = {name: record.get(name) for name in ("client_id", "redirect_uri", "response_type", "state")}
    for name in ("code_challenge", "code_challenge_method", "nonce", "claims"):
        credentials[name] = record.get(name) or None
    credentials["resource"] = str(record.get("resource") or "").split()  # RFC 8707, DOT's form
    return credentials


def _consent_problem(record: dict[str, Any] | None, posted: dict[str, Any]) -> str | None:
    """Why a consent POST cannot be honoured, or None (RFC 6749 §4.1.2.1: no redirect then)."""
    if record is None:
        return "Unknown, expired or already answered authorization request: start it again."
    for name in ("client_id", "redirect_uri"):
        if posted.get(name) not in (None, "", record.get(name)):
            return f"The consent form's {name} is not the authorization request's."
    chosen = set(str(posted.get("scope") or "").split())
    if not chosen <= set(record.get("scopes") or []):
        return "The consent form grants scopes the authorization request did not ask for."
    return None


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class DPoPIntrospectTokenView(UnavailableOnDatabaseError, IntrospectTokenView):
    """RFC 7662 introspection answering ``cnf.jkt`` and ``token_type`` (RFC 9449 §6.2).

    DOT builds its answer inline with no hook (DOT issue #835), so the lookup is repeated here,
    with the binding in the same query.
    """

    unavailable_endpoint = "introspection endpoint"

    @staticmethod
    def get_token_response(token_value: str | None = None) -> http.JsonResponse:
        if token_value is None:
            return http.JsonResponse(
                {"error": "invalid_request", "error_description": "Token parameter is missing."}, status=400
            )
        try:
            token = (
                get_access_token_model()
                .objects.select_related("user", "application", "dpop_binding")
                .get(token_checksum=token_checksum(token_value))
            )
        except ObjectDoesNotExist:
            return http.JsonResponse({"active": False})
        if not token.is_valid():
            return http.JsonResponse({"active": False})
        data: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "exp": int(calendar.timegm(token.expires.timetuple())),
        }
        if token.application:
            data["client_id"] = token.application.client_id
        if token.user:
            data["username"] = token.user.get_username()
        if token.resource:  # RFC 8707
            data["aud"] = token.resource
        jkt = binding_jkt(token)
        data["token_type"] = DPOP_TOKEN_TYPE if jkt else "Bearer"
        if jkt:
            data["cnf"] = {"jkt": jkt}
        return http.JsonResponse(data)


class DPoPMetadataMixin:
    """Add ``dpop_signing_alg_values_supported`` (RFC 9449 §5.1) to a DOT metadata document."""

    def get(self, request: http.HttpRequest, *args: Any, **kwargs: Any) -> http.HttpResponse:
        response = super().get(request, *args, **kwargs)  # type: ignore[misc]
        if response.status_code != 200:
            return response
        data = json.loads(response.content)
        data["dpop_signing_alg_values_supported"] = list(conf.DPOP_ALLOWED_ALGORITHMS)
        data.update(par_metadata(request))
        patched = http.JsonResponse(data, status=response.status_code)
        for name, value in response.items():
            if name.lower() not in ("content-type", "content-length"):
                patched[name] = value
        return patched


@method_decorator(login_not_required, name="dispatch")
class DPoPServerMetadataView(DPoPMetadataMixin, OAuthServerMetadataView):
    """RFC 8414 authorization server metadata with DPoP."""


@method_decorator(login_not_required, name="dispatch")
class DPoPConnectDiscoveryInfoView(DPoPMetadataMixin, ConnectDiscoveryInfoView):
    """OpenID Connect discovery with DPoP."""


@method_decorator(login_not_required, name="dispatch")
class DPoPProtectedResourceMetadataView(OAuthProtectedResourceMetadataView):
    """DOT's RFC 9728 protected resource metadata with the DPoP members of §2.

    ``dpop_signing_alg_values_supported`` is ``DPOP_ALLOWED_ALGORITHMS`` and
    ``dpop_bound_access_tokens_required`` is true when Bearer tokens are refused. The resource
    identifier and authorization servers are ``DPOP_RESOURCE_IDENTIFIER`` and
    ``DPOP_RESOURCE_AUTHORIZATION_SERVERS`` when set (the values the introspection validator and
    the base app's metadata view use), else DOT's ``OAUTH2_PROTECTED_RESOURCE_*`` settings.
    """

    def get_resource(self, request: http.HttpRequest) -> str:
        return conf.DPOP_RESOURCE_IDENTIFIER or super().get_resource(request)

    def get_authorization_servers(self, request: http.HttpRequest) -> list[str]:
        configured = list(conf.DPOP_RESOURCE_AUTHORIZATION_SERVERS)
        return configured or super().get_authorization_servers(request)

    def get(self, request: http.HttpRequest, *args: Any, **kwargs: Any) -> http.HttpResponse:
        response = super().get(request, *args, **kwargs)
        if response.status_code != 200:
            return response
        data = json.loads(response.content)
        data.update(
            dpop_metadata(
                algorithms=conf.DPOP_ALLOWED_ALGORITHMS,
                bearer_tokens_accepted=conf.DPOP_ALLOW_BEARER_TOKENS,
            )
        )
        patched = http.JsonResponse(data, status=response.status_code)
        for name, value in response.items():
            if name.lower() not in ("content-type", "content-length"):
                patched[name] = value
        return patched
