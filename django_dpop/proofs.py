"""Verify the DPoP proof of a Django request against the live settings and stores.

The one place where the adapters (token endpoint, DRF, plain views) meet the core: they call
:func:`verify_request_proof` and map the core's errors to their own responses.
"""

from __future__ import annotations

import time

from django.http import HttpRequest

from . import conf as _conf
from . import events
from .core.errors import DPoPError, StoreUnavailable, UseDPoPNonce
from .core.proof import VerifiedProof, verify_proof
from .http import expected_htu, get_proof
from .signals import ENDPOINT_RESOURCE, ENDPOINT_TOKEN, proof_accepted


# Nonce purposes (RFC 9449 §9: a nonce of the authorization server is no good at a resource).
TOKEN_ENDPOINT = "token"
RESOURCE = "resource"


def verify_request_proof(
    request: HttpRequest, *, purpose: str, access_token: str | None = None, endpoint: str | None = None
) -> VerifiedProof:
    """Run every check of RFC 9449 §4.3 (and replay detection) on ``request``'s ``DPoP`` header.

    Raises the core's errors; a :class:`UseDPoPNonce` carries the fresh nonce to send back.
    ``endpoint`` (``"token"``, ``"par"``, ``"resource"``; default from ``purpose``) is the kind
    the signals and log lines of :mod:`django_dpop.events` report.
    """
    if endpoint is None:
        endpoint = ENDPOINT_RESOURCE if purpose == RESOURCE else ENDPOINT_TOKEN
    policy = _conf.proof_policy()
    now = time.time()
    proof = get_proof(request)
    try:
        try:
            nonces = _conf.nonce_store() if policy.nonce_required else None
        except Exception as exc:  # a store that cannot even be built refuses too (fail closed)
            raise StoreUnavailable(store="nonce") from exc
        try:
            replay_store = _conf.replay_store()
        except Exception as exc:
            raise StoreUnavailable(store="replay") from exc
        try:
            verified = verify_proof(
                proof,
                method=request.method or "",
                url=expected_htu(request),
                now=now,
                policy=policy,
                access_token=access_token,
                nonce_checker=(lambda nonce: nonces.check(nonce, purpose)) if nonces is not None else None,
                replay_store=replay_store,
            )
        except UseDPoPNonce as exc:
            exc.nonce = issue_nonce(purpose, request=request, endpoint=endpoint)
            raise
    except DPoPError as exc:
        events.rejected(request, endpoint, exc, proof, now, lambda: expected_htu(request))
        raise
    if proof_accepted.receivers:  # the event's own first check, without a call per request
        events.accepted(request, endpoint, verified.alg, verified.claims["iat"], now)
    return verified


def issue_nonce(purpose: str, *, request: HttpRequest | None = None, endpoint: str | None = None) -> str:
    """Return the current nonce for ``purpose``; a failing store refuses (fail closed)."""
    try:
        return _conf.nonce_store().issue(purpose)
    except Exception as exc:
        error = StoreUnavailable(store="nonce")
        error.__cause__ = exc
        if request is None:  # inside verify_request_proof the refusal reports it
            events.failed_store(
                None, endpoint or (ENDPOINT_RESOURCE if purpose == RESOURCE else ENDPOINT_TOKEN), error
            )
        raise error from exc


def next_nonce(proof: VerifiedProof, purpose: str) -> str | None:
    """Return a newer nonce to send on success when the one used is about to expire (RFC 9449 §8.2)."""
    return issue_nonce(purpose) if proof.nonce_stale else None


def response_nonce(request: HttpRequest, purpose: str, proof: VerifiedProof | None = None) -> str | None:
    """The ``DPoP-Nonce`` to put on a response to ``request``, or None.

    With ``DPOP_NONCE_ON_EVERY_RESPONSE`` every response to a request that carried a ``DPoP``
    header gets the current nonce, successes and refusals alike (RFC 9449 §8.2: the server may
    supply a nonce on any response; the AT Protocol profile makes clients expect one). Without
    it, only a success whose nonce is about to expire gets a newer one. Raises
    :class:`StoreUnavailable` when the store fails.
    """
    if _conf.conf.DPOP_NONCE_ON_EVERY_RESPONSE and get_proof(request) is not None:
        return issue_nonce(purpose)
    return next_nonce(proof, purpose) if proof is not None else None
