"""Fixtures of the review tests: those of the JWT and of the DOT authorization-server tests."""

from tests.contrib.oauth2_provider.conftest import app_factory, browser, dot_settings  # noqa: F401
from tests.tokens.conftest import fresh_caches, issuer, other_issuer, trust  # noqa: F401
