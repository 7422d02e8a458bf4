"""Access-token validators: the seam between the resource pipeline and where tokens come from.

The resource pipeline (``Authorization`` parsing, proof verification, binding check, challenges)
knows nothing about token sources. It hands the raw access token to the configured validators
(``DPOP_TOKEN_VALIDATORS``, overridable per DRF class and per decorator/mixin), which answer with
a :class:`ValidatedToken` or refuse. Implementations: the DOT one
(``django_dpop.contrib.oauth2_provider.tokens``), RFC 9068 JWT access tokens
(:mod:`django_dpop.tokens.jwt`) and RFC 7662 introspection (:mod:`django_dpop.tokens.introspection`).
"""

from .base import AccessTokenValidator, TokenClaims, ValidatedToken


__all__ = ["AccessTokenValidator", "TokenClaims", "ValidatedToken"]
