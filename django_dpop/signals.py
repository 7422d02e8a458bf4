"""Signals of every DPoP proof check and store failure (docs/observability.md).

Sent by :func:`django_dpop.proofs.verify_request_proof`, the one place where the token endpoint,
PAR and every protected resource verify proofs, and where a store fails. The sender is always
``None``; every payload is keyword arguments:

``proof_accepted``
    ``request``, ``endpoint`` (one of :data:`ENDPOINTS`), ``alg``, ``iat_offset`` (the proof's
    ``iat`` minus the server's time, in seconds: positive when the client's clock is ahead).
``proof_rejected``
    ``request``, ``endpoint``, ``reason`` (one of :data:`django_dpop.core.errors.REASONS`),
    ``error`` (the RFC error code sent), ``alg`` (a JWS algorithm name, ``"other"`` for a name no
    specification defines, None when the header could not be read), ``iat_offset`` (None when the
    proof had no readable numeric ``iat``).
``store_failed``
    ``request`` (None outside a request), ``endpoint``, ``store`` (``"replay"``, ``"nonce"``,
    ``"token"``), ``exception_class`` (dotted name of the exception, never its message).

No payload holds the access token, the proof, the nonce or the key. The payload is computed
only when a receiver is connected, and a receiver that raises is logged and otherwise ignored:
it can never change the answer to a request.
"""

from __future__ import annotations

from django.dispatch import Signal


#: Endpoint kinds carried by every signal.
ENDPOINT_TOKEN = "token"
ENDPOINT_PAR = "par"
ENDPOINT_RESOURCE = "resource"
ENDPOINTS: frozenset[str] = frozenset({ENDPOINT_TOKEN, ENDPOINT_PAR, ENDPOINT_RESOURCE})

#: Stores named by ``store_failed``.
STORES: frozenset[str] = frozenset({"replay", "nonce", "token", "unknown"})

proof_accepted = Signal()
proof_rejected = Signal()
store_failed = Signal()
