"""Errors of the DPoP client helper.

Every error about bad input is a :class:`ValueError` subclass, so callers that only know the
standard library can still catch it. Messages never contain tokens or key material.
"""

from __future__ import annotations


class DPoPClientError(Exception):
    """Base class of every error raised by :mod:`django_dpop.client`."""


class InvalidKeyError(DPoPClientError, ValueError):
    """A key cannot be used for DPoP: unknown algorithm, public-only, malformed, or too weak."""


class InvalidProofInput(DPoPClientError, ValueError):
    """A proof cannot be made for these inputs: bad method, URL, access token or nonce."""


class TokenResponseError(DPoPClientError, ValueError):
    """A token response is unusable: not a JSON object, no access token, or (RFC 9449 §5) a
    ``token_type`` other than ``DPoP`` while the client requires DPoP-bound tokens."""
