"""The DPoP protocol core (RFC 9449): no Django, only the standard library, pyjwt and cryptography.

Nothing here reads settings or the clock: a :class:`ProofPolicy` and ``now`` are passed in.
"""

from .binding import compute_ath, jkt_matches
from .challenge import build_challenge
from .errors import (
    DPoPError,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    ReplayedProof,
    StoreUnavailable,
    UseDPoPNonce,
)
from .htu import htu_matches, normalize_htu
from .jwk import check_public_jwk, jwk_thumbprint
from .policy import ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS, ProofPolicy
from .proof import VerifiedProof, verify_proof
from .stores import NonceStatus, NonceStore, ReplayStore


__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_ALGORITHMS",
    "DPoPError",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "NonceStatus",
    "NonceStore",
    "ProofPolicy",
    "ReplayStore",
    "ReplayedProof",
    "StoreUnavailable",
    "UseDPoPNonce",
    "VerifiedProof",
    "build_challenge",
    "check_public_jwk",
    "compute_ath",
    "htu_matches",
    "jkt_matches",
    "jwk_thumbprint",
    "normalize_htu",
    "verify_proof",
]
