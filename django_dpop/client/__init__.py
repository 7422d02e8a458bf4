"""A DPoP client (RFC 9449): keys, proofs, and auth for httpx and requests with nonce retries.

Importable without Django (and without configuring it). ``httpx`` and ``requests`` are optional:
``DPoPAuth`` and ``DPoPRequestsAuth`` are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .clock import ServerClock
from .errors import DPoPClientError, InvalidKeyError, InvalidProofInput, TokenResponseError
from .keys import DEFAULT_ALGORITHM, SUPPORTED_ALGORITHMS, DPoPKey, load_key
from .proofs import compute_ath, create_proof, dpop_headers, proof_htu


if TYPE_CHECKING:
    from .httpx_auth import DPoPAuth
    from .nonces import NonceCache
    from .requests_auth import DPoPRequestsAuth
    from .tokens import check_token_response

_LAZY = {
    "DPoPAuth": "httpx_auth",
    "DPoPRequestsAuth": "requests_auth",
    "NonceCache": "nonces",
    "check_token_response": "tokens",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DEFAULT_ALGORITHM",
    "SUPPORTED_ALGORITHMS",
    "ServerClock",
    "DPoPAuth",
    "DPoPClientError",
    "DPoPKey",
    "DPoPRequestsAuth",
    "InvalidKeyError",
    "InvalidProofInput",
    "NonceCache",
    "TokenResponseError",
    "check_token_response",
    "compute_ath",
    "create_proof",
    "dpop_headers",
    "load_key",
    "proof_htu",
]
