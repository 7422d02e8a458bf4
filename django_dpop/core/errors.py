"""Errors of the DPoP protocol core, one class per RFC error code.

They carry the RFC code and a short description and know nothing about HTTP: each adapter maps
them once (400 at the token endpoint, RFC 9449 §5; 401 with ``WWW-Authenticate`` at a protected
resource, RFC 9449 §7.1).
"""

from __future__ import annotations


class DPoPError(Exception):
    """Base class: ``error`` is the RFC error code, ``description`` the human-readable text."""

    error: str = "invalid_request"
    default_description: str = "Invalid request"

    def __init__(self, description: str | None = None) -> None:
        self.description = description or self.default_description
        super().__init__(self.description)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


class InvalidRequest(DPoPError):
    """RFC 6750 §3.1 ``invalid_request``: e.g. several authentication methods, or no proof."""

    error = "invalid_request"
    default_description = "Invalid request"


class InvalidDPoPProof(DPoPError):
    """RFC 9449 §5 / §7.1 ``invalid_dpop_proof``: the proof failed a check of §4.3."""

    error = "invalid_dpop_proof"
    default_description = "Invalid DPoP proof"


class UseDPoPNonce(DPoPError):
    """RFC 9449 §8 / §9 ``use_dpop_nonce``: the proof lacks the current server nonce.

    The adapter that raises it to the client attaches a fresh nonce as ``nonce``.
    """

    error = "use_dpop_nonce"
    default_description = "Authorization server requires nonce in DPoP proof"

    def __init__(self, description: str | None = None, nonce: str | None = None) -> None:
        super().__init__(description)
        self.nonce = nonce


class InvalidToken(DPoPError):
    """RFC 6750 §3.1 ``invalid_token``: unknown token, wrong key binding, or a downgrade (RFC 9449 §7.2)."""

    error = "invalid_token"
    default_description = "Invalid access token"


class ReplayedProof(InvalidDPoPProof):
    """RFC 9449 §11.1: a proof (``jti``) that was already accepted once."""

    default_description = "DPoP proof replayed"


class StoreUnavailable(DPoPError):
    """A replay or nonce store failed; callers must refuse the request (fail closed)."""

    error = "temporarily_unavailable"
    default_description = "DPoP replay or nonce store unavailable"
