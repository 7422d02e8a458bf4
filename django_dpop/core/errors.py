"""Errors of the DPoP protocol core, one class per RFC error code.

They carry the RFC code and a short description and know nothing about HTTP: each adapter maps
them once (400 at the token endpoint, RFC 9449 §5; 401 with ``WWW-Authenticate`` at a protected
resource, RFC 9449 §7.1).
"""

from __future__ import annotations


#: The stable reason codes of a refused proof (``DPoPError.reason``), one per check of RFC 9449
#: §4.3 and of what the verifier adds to it; signals, metrics and logs carry them
#: (docs/observability.md). A new check gets a new code; a code never changes its meaning.
REASONS: frozenset[str] = frozenset(
    {
        "missing",  # check 1: no DPoP header
        "multiple",  # check 1: more than one proof
        "too_large",  # §11.1: longer than DPOP_MAX_PROOF_LENGTH
        "malformed",  # check 2: not a compact JWS of base64url JSON objects (duplicate members too)
        "claims",  # check 3: jti, htm, htu or iat missing or of the wrong type, jti too long
        "typ",  # check 4
        "alg",  # check 5: not allowed, not asymmetric
        "header",  # RFC 7515: crit, b64, jku/x5*, JWE members, kid not a string
        "jwk",  # check 7: not a public key, non-canonical, wrong type for alg, too small, small order
        "signature",  # check 6
        "htm",  # check 8
        "htu",  # check 9 (and an htu that is no valid http(s) URI)
        "iat",  # check 11: outside the acceptance window
        "exp",  # RFC 7519 §4.1.4
        "nbf",  # RFC 7519 §4.1.5
        "aud",  # RFC 7519 §4.1.3
        "ath",  # check 12a
        "nonce_missing",  # check 10: nonce required, none sent
        "nonce_invalid",  # check 10: unknown, expired, of another purpose, or malformed
        "replayed",  # §11.1: the jti was already accepted
        "store_unavailable",  # a replay or nonce store failed: refused (503)
        "invalid",  # any other refusal (a raise site without its own code)
    }
)


class DPoPError(Exception):
    """Base class: ``error`` is the RFC error code, ``description`` the human-readable text.

    ``reason`` is one of :data:`REASONS` (set where the error is raised): what failed, in a form
    stable enough for metrics and alerts. It never holds request data.
    """

    error: str = "invalid_request"
    default_description: str = "Invalid request"
    default_reason: str = "invalid"

    def __init__(self, description: str | None = None, *, reason: str | None = None) -> None:
        self.description = description or self.default_description
        self.reason = reason or self.default_reason
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
    default_reason = "nonce_invalid"

    def __init__(
        self, description: str | None = None, nonce: str | None = None, *, reason: str | None = None
    ) -> None:
        super().__init__(description, reason=reason)
        self.nonce = nonce


class InvalidToken(DPoPError):
    """RFC 6750 §3.1 ``invalid_token``: unknown token, wrong key binding, or a downgrade (RFC 9449 §7.2)."""

    error = "invalid_token"
    default_description = "Invalid access token"


class ReplayedProof(InvalidDPoPProof):
    """RFC 9449 §11.1: a proof (``jti``) that was already accepted once."""

    default_description = "DPoP proof replayed"
    default_reason = "replayed"


class StoreUnavailable(DPoPError):
    """A replay or nonce store failed; callers must refuse the request (fail closed).

    ``store`` names the store that failed (``"replay"``, ``"nonce"``, ``"token"``), None when
    unknown.
    """

    error = "temporarily_unavailable"
    default_description = "DPoP replay or nonce store unavailable"
    default_reason = "store_unavailable"

    def __init__(
        self, description: str | None = None, *, reason: str | None = None, store: str | None = None
    ) -> None:
        super().__init__(description, reason=reason)
        self.store = store
