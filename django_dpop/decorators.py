"""``dpop_required``: DPoP-bound access tokens for plain Django views, sync and async (RFC 9449 §7).

The same semantics as DRF's ``DPoPAuthentication``: ``Authorization: DPoP <token>`` with a valid
proof, or (while ``DPOP_ALLOW_BEARER_TOKENS``) an unbound Bearer token, each vouched for by the
access-token validators (``DPOP_TOKEN_VALIDATORS``, or ``validators=[...]``). Refusals are
JSON ``{"error", "error_description"}`` with ``WWW-Authenticate`` (401, 400 ``invalid_request``,
403 ``insufficient_scope``, 503 when a store fails). On success the view finds:

- ``request.auth``: the validator's ``auth`` (DOT's ``AccessToken``, or a ``TokenClaims``);
- ``request.user``: its user, or ``AnonymousUser`` for a client-credentials token (never a session
  user: the token alone decides who is calling);
- ``request.dpop_proof``: the :class:`~django_dpop.core.VerifiedProof`, None for a Bearer token.

The views are CSRF-exempt, as DRF's are: the browser never attaches an ``Authorization`` header on
its own, and these views accept nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .conf import conf
from .core.challenge import build_challenge
from .core.errors import DPoPError, StoreUnavailable, UseDPoPNonce
from .http import DPOP_NONCE_HEADER, pending_nonce, set_pending_nonce
from .resource import (
    Validators,
    authenticate_resource_request,
    challenges,
    error_status,
    refusal_nonce,
    retry_after,
    success_nonce,
)


logger = logging.getLogger("django_dpop")

View = TypeVar("View", bound=Callable[..., Any])


def refusal_response(error: DPoPError | None) -> JsonResponse:
    """The response to a refused request, or to one without credentials (``error`` None)."""
    if error is None:
        response = JsonResponse(
            {"error": "invalid_request", "error_description": "Authentication credentials were not provided"},
            status=401,
        )
        response["WWW-Authenticate"] = challenges(None)
        return response
    if isinstance(error, StoreUnavailable):
        logger.error("DPoP store unavailable", exc_info=error.__cause__ or error)
    response = JsonResponse(
        {"error": error.error, "error_description": error.description}, status=error_status(error)
    )
    if isinstance(error, StoreUnavailable):
        response["Retry-After"] = retry_after()  # RFC 9110 §15.6.4
    else:
        response["WWW-Authenticate"] = challenges(error)
    if isinstance(error, UseDPoPNonce) and error.nonce:
        response[DPOP_NONCE_HEADER] = error.nonce
    return response


def _insufficient_scope(scopes: Sequence[str], dpop: bool) -> JsonResponse:
    """RFC 6750 §3.1 ``insufficient_scope``: 403, with the scope the resource needs."""
    description = "The access token lacks the scope this resource requires"
    response = JsonResponse({"error": "insufficient_scope", "error_description": description}, status=403)
    scope = " ".join(scopes)
    metadata = conf.DPOP_RESOURCE_METADATA_URL or None  # RFC 9728 §5.1
    if dpop:
        algs = conf.DPOP_ALLOWED_ALGORITHMS
        challenge = build_challenge(
            "DPoP", algs=algs, error="insufficient_scope", scope=scope, resource_metadata=metadata
        )
    else:
        challenge = build_challenge(
            "Bearer", error="insufficient_scope", scope=scope, resource_metadata=metadata
        )
    response["WWW-Authenticate"] = challenge
    return response


def protect(
    request: HttpRequest, scopes: Sequence[str] = (), validators: Validators = None
) -> JsonResponse | None:
    """Authenticate ``request``; return the refusal to send, or None after setting ``request.auth``.

    ``validators``: the access-token validators to ask (None: ``DPOP_TOKEN_VALIDATORS``).
    Synchronous (database and crypto): async callers wrap it in ``sync_to_async``.
    """
    try:
        access = authenticate_resource_request(request, validators)
        if access is None:
            return _with_nonce(request, refusal_response(None), None)
        if scopes and not set(scopes) <= access.token.scopes:
            return _with_nonce(request, _insufficient_scope(scopes, dpop=access.proof is not None), None)
        nonce = success_nonce(request, access.proof)
        if nonce is not None:
            set_pending_nonce(request, nonce)
    except DPoPError as error:
        return _with_nonce(request, refusal_response(error), error)
    request.auth = access.auth  # type: ignore[attr-defined]
    request.user = access.user if access.user is not None else AnonymousUser()
    request.dpop_proof = access.proof  # type: ignore[attr-defined]
    return None


def _with_nonce(request: HttpRequest, response: JsonResponse, error: DPoPError | None) -> JsonResponse:
    """``DPOP_NONCE_ON_EVERY_RESPONSE``: refusals of a request with a proof get a nonce too (§8.2)."""
    if DPOP_NONCE_HEADER not in response:
        nonce = refusal_nonce(request, error)
        if nonce:
            response[DPOP_NONCE_HEADER] = nonce
    return response


def finish(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """Add the fresh nonce of a successful request (RFC 9449 §8.2) unless the view set one."""
    nonce = pending_nonce(request)
    if nonce and DPOP_NONCE_HEADER not in response:
        response[DPOP_NONCE_HEADER] = nonce
    return response


@overload
def dpop_required(view: View, /) -> View: ...
@overload
def dpop_required(*, scopes: Sequence[str] = (), validators: Validators = None) -> Callable[[View], View]: ...


def dpop_required(
    view: View | None = None, /, *, scopes: Sequence[str] = (), validators: Validators = None
) -> Any:
    """Protect a function view with a DPoP-bound access token; ``@dpop_required`` or ``(scopes=[...])``.

    ``validators``: import paths, classes or instances of access-token validators to ask instead
    of ``DPOP_TOKEN_VALIDATORS``. Async views (``async def``) stay async: the checks, which touch the database, run in
    ``sync_to_async`` (thread-sensitive, as Django's ORM requires).
    """
    scopes = tuple(scopes)
    validators = tuple(validators) if validators is not None else None

    def decorator(func: View) -> View:
        if iscoroutinefunction(func):

            @wraps(func)
            async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                refusal = await sync_to_async(protect)(request, scopes, validators)
                if refusal is not None:
                    return refusal
                return finish(request, await func(request, *args, **kwargs))

            return csrf_exempt(async_view)  # type: ignore[return-value]

        @wraps(func)
        def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            refusal = protect(request, scopes, validators)
            if refusal is not None:
                return refusal
            return finish(request, func(request, *args, **kwargs))

        return csrf_exempt(sync_view)  # type: ignore[return-value]

    return decorator(view) if view is not None else decorator
