"""Helpers of the adversarial suites (``test_adversarial_*.py``): one fixed clock, one URL.

``refused`` asserts the exact error class, its RFC error code and its description, so that a
refusal for another reason (an earlier check, a crash turned into a refusal) fails the test.
Every suite puts a passing control beside each refusal: the same proof with the one thing fixed.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from django_dpop.core import DPoPError, InvalidDPoPProof, ProofPolicy, VerifiedProof, verify_proof
from tests.core import jws
from tests.factories import TestKey


NOW = 1_700_000_000
URL = "https://server.example.com/resource"
POLICY = ProofPolicy()  # the defaults: max_age 300, clock_skew 60, DEFAULT_ALGORITHMS
SKEW = POLICY.clock_skew


def verify(proof: str, **kwargs: Any) -> VerifiedProof:
    kwargs.setdefault("method", "GET")
    kwargs.setdefault("url", URL)
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("policy", POLICY)
    return verify_proof(proof, **kwargs)


def refused(
    proof: str,
    match: str,
    error: type[DPoPError] = InvalidDPoPProof,
    code: str = "invalid_dpop_proof",
    **kwargs: Any,
) -> DPoPError:
    """Assert ``proof`` is refused with exactly ``error`` and ``code``, its description matching ``match``."""
    with pytest.raises(DPoPError) as excinfo:
        verify(proof, **kwargs)
    exc = excinfo.value
    assert type(exc) is error, repr(exc)
    assert exc.error == code, repr(exc)
    assert re.search(match, exc.description), repr(exc)
    return exc


def payload(**claims: Any) -> dict[str, Any]:
    """The claims of a valid proof at ``NOW`` for ``GET URL``; ``claims`` override or add members."""
    values: dict[str, Any] = {"jti": "jti-0001", "htm": "GET", "htu": URL, "iat": NOW}
    values.update(claims)
    return {name: value for name, value in values.items() if value is not _DROP}


_DROP = object()
DROP: Any = _DROP  # a claim value that removes the claim


def signed(
    key: TestKey, header: dict[str, Any] | None = None, jwk: dict[str, Any] | None = None, **claims: Any
) -> str:
    """A proof signed by ``key``: ``header`` members override the key's, ``jwk`` replaces its JWK."""
    members = dict(header or {})
    if jwk is not None:
        members["jwk"] = jwk
    return jws.compact(key, jws.header_for(key, **members), payload(**claims))
