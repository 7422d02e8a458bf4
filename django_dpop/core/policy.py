"""The frozen policy the proof verifier is given; it never reads settings itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


# RFC 9449 §4.3 check 5 / §11.6: registered asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037,
# RFC 8812, and the fully-specified Ed25519 / Ed448 of RFC 9864 §2.2). ``none`` and the HMAC
# family are never allowed, whatever the settings say.
ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(
    {
        "ES256",
        "ES384",
        "ES512",
        "ES256K",
        "EdDSA",
        "Ed25519",
        "Ed448",
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
    }
)

# The single source of the challenge's ``algs`` (RFC 9449 §7.1) and of the metadata's
# ``dpop_signing_alg_values_supported`` (§5.1) when DPOP_ALLOWED_ALGORITHMS is not set.
DEFAULT_ALGORITHMS: tuple[str, ...] = (
    "ES256",
    "ES384",
    "ES512",
    "Ed25519",
    "Ed448",
    "EdDSA",
    "PS256",
    "PS384",
    "PS512",
    "RS256",
)


@dataclass(frozen=True, slots=True)
class ProofPolicy:
    """What a server accepts: algorithms, time window (seconds), size limits, nonce requirement.

    ``__post_init__`` enforces the invariants, so an invalid policy can never reach
    :func:`~django_dpop.core.proof.verify_proof`; the system checks call it too.
    """

    allowed_algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    max_age: int = 300
    clock_skew: int = 60
    nonce_required: bool = False
    max_proof_length: int = 8192
    max_jti_length: int = 256
    min_rsa_bits: int = 2048
    algorithm_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        algs = self.allowed_algorithms
        if isinstance(algs, str) or not isinstance(algs, Iterable):
            raise ValueError("allowed_algorithms must be a sequence of algorithm names")
        algs = tuple(algs)
        if not algs:
            raise ValueError("allowed_algorithms must not be empty")
        for alg in algs:
            if not isinstance(alg, str) or alg not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(f"{alg!r} is not an asymmetric JWS algorithm (RFC 9449 §4.3 check 5)")
        object.__setattr__(self, "allowed_algorithms", algs)
        object.__setattr__(self, "algorithm_set", frozenset(algs))
        for name in ("max_age", "clock_skew", "max_proof_length", "max_jti_length", "min_rsa_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if self.max_age == 0:
            raise ValueError("max_age must be positive")
        if not isinstance(self.nonce_required, bool):
            raise ValueError("nonce_required must be a boolean")
