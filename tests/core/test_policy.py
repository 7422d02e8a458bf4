"""``ProofPolicy``: an invalid policy can never reach the verifier (RFC 9449 §4.3 check 5, §11.1)."""

from __future__ import annotations

from typing import Any

import pytest

from django_dpop.core import ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS, ProofPolicy


def test_defaults_are_safe() -> None:
    policy = ProofPolicy()
    assert set(policy.allowed_algorithms) <= ASYMMETRIC_ALGORITHMS
    assert policy.algorithm_set == frozenset(DEFAULT_ALGORITHMS)
    assert 0 < policy.max_age <= 600 and 0 <= policy.clock_skew <= 300
    assert policy.min_rsa_bits >= 2048 and policy.nonce_required is False


def test_algorithms_are_kept_in_order_as_a_tuple() -> None:
    policy = ProofPolicy(allowed_algorithms=["EdDSA", "ES256"])  # type: ignore[arg-type]
    assert policy.allowed_algorithms == ("EdDSA", "ES256")
    assert policy.algorithm_set == {"EdDSA", "ES256"}


@pytest.mark.parametrize(
    "algorithms",
    [(), ("none",), ("HS256",), ("ES256", "HS512"), ("es256",), "ES256", (["ES256"],), (None,), 1, None],
)
def test_refused_algorithms(algorithms: Any) -> None:
    with pytest.raises(ValueError):
        ProofPolicy(allowed_algorithms=algorithms)


@pytest.mark.parametrize(
    "changes",
    [
        {"max_age": 0},
        {"max_age": -1},
        {"max_age": 1.5},
        {"max_age": True},
        {"clock_skew": -1},
        {"clock_skew": "60"},
        {"max_proof_length": -1},
        {"max_jti_length": None},
        {"min_rsa_bits": -2048},
        {"nonce_required": 1},
        {"nonce_required": "yes"},
    ],
)
def test_refused_values(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ProofPolicy(**changes)


def test_policy_is_frozen() -> None:
    policy = ProofPolicy()
    with pytest.raises(AttributeError):
        policy.max_age = 10  # type: ignore[misc]
