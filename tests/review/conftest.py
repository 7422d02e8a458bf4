"""Fixtures of the review tests: the JWT tests' issuers, settings helper and fresh caches."""

from tests.tokens.conftest import fresh_caches, issuer, other_issuer, trust  # noqa: F401
