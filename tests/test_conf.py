"""``django_dpop.conf``: safe defaults, settings read live, the policy follows them."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

from django_dpop.conf import conf, nonce_store, proof_policy, replay_store
from django_dpop.core.policy import ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS
from django_dpop.storage import DatabaseNonceStore, DatabaseReplayStore, SignedNonceStore


def test_defaults_are_safe() -> None:
    assert tuple(conf.DPOP_ALLOWED_ALGORITHMS) == DEFAULT_ALGORITHMS
    assert set(conf.DPOP_ALLOWED_ALGORITHMS) <= ASYMMETRIC_ALGORITHMS  # no none, no HS*
    assert conf.DPOP_CLOCK_SKEW == 60
    assert conf.DPOP_PROOF_MAX_AGE == 300  # a window of minutes at most
    assert conf.DPOP_NONCE_REQUIRED is False
    assert conf.DPOP_NONCE_LIFETIME == 300
    assert conf.DPOP_REPLAY_STORE == "django_dpop.storage.DatabaseReplayStore"  # replay detection on
    assert conf.DPOP_REPLAY_CACHE == "default"
    assert conf.DPOP_NONCE_STORE == "django_dpop.storage.DatabaseNonceStore"
    assert conf.DPOP_HTU_BASE_URL is None
    assert conf.DPOP_MAX_PROOF_LENGTH == 8192
    assert conf.DPOP_ALLOW_BEARER_TOKENS is True
    assert conf.DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DPOP_ALLOWED_ALGORITHMS", ("EdDSA",)),
        ("DPOP_CLOCK_SKEW", 5),
        ("DPOP_PROOF_MAX_AGE", 30),
        ("DPOP_NONCE_REQUIRED", True),
        ("DPOP_NONCE_LIFETIME", 60),
        ("DPOP_REPLAY_STORE", None),
        ("DPOP_REPLAY_CACHE", "redis"),
        ("DPOP_NONCE_STORE", "django_dpop.storage.SignedNonceStore"),
        ("DPOP_HTU_BASE_URL", "https://api.example.com"),
        ("DPOP_MAX_PROOF_LENGTH", 4096),
        ("DPOP_ALLOW_BEARER_TOKENS", False),
        ("DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS", True),
    ],
)
def test_settings_are_read_live(name: str, value: object) -> None:
    default = getattr(conf, name)
    with override_settings(**{name: value}):
        assert getattr(conf, name) == value
    assert getattr(conf, name) == default


def test_proof_policy_follows_the_settings() -> None:
    policy = proof_policy()
    assert (policy.allowed_algorithms, policy.max_age, policy.clock_skew) == (DEFAULT_ALGORITHMS, 300, 60)
    assert (policy.nonce_required, policy.max_proof_length) == (False, 8192)
    with override_settings(
        DPOP_ALLOWED_ALGORITHMS=["ES256", "EdDSA"],
        DPOP_PROOF_MAX_AGE=30,
        DPOP_CLOCK_SKEW=5,
        DPOP_NONCE_REQUIRED=True,
        DPOP_MAX_PROOF_LENGTH=2048,
    ):
        changed = proof_policy()
        assert changed.allowed_algorithms == ("ES256", "EdDSA")
        assert changed.algorithm_set == frozenset({"ES256", "EdDSA"})
        assert (changed.max_age, changed.clock_skew, changed.nonce_required) == (30, 5, True)
        assert changed.max_proof_length == 2048
    assert proof_policy() == policy


def test_proof_policy_is_cached_per_distinct_values() -> None:
    assert proof_policy() is proof_policy()
    with override_settings(DPOP_CLOCK_SKEW=1):
        assert proof_policy().clock_skew == 1
        assert proof_policy() is proof_policy()


def test_invalid_policy_values_are_refused_at_use_too() -> None:
    # The checks report it at start-up; a policy is never built from an invalid value either.
    with override_settings(DPOP_ALLOWED_ALGORITHMS=["HS256"]), pytest.raises(ValueError, match="HS256"):
        proof_policy()


def test_store_settings_choose_the_store_class() -> None:
    assert isinstance(replay_store(), DatabaseReplayStore)
    assert isinstance(nonce_store(), DatabaseNonceStore)
    with override_settings(DPOP_REPLAY_STORE=None, DPOP_NONCE_STORE="django_dpop.storage.SignedNonceStore"):
        assert replay_store() is None
        assert isinstance(nonce_store(), SignedNonceStore)
