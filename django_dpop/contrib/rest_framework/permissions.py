"""``HasDPoPScope``: DRF's scope permission for tokens of every validator (RFC 6750 §3.1).

DOT's ``TokenHasScope`` works with ``DPoPAuthentication`` too (DOT's ``AccessToken`` and
:class:`~django_dpop.tokens.TokenClaims` both have ``scope`` and ``is_valid(scopes)``); this one
needs no DOT and reads the scopes the validator reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ...tokens.base import TokenClaims


def token_scopes(auth: Any) -> frozenset[str]:
    """The scopes of ``request.auth``: a TokenClaims', or any object's ``scope`` string (DOT's)."""
    if isinstance(auth, TokenClaims):
        return auth.scopes
    scope = getattr(auth, "scope", None)
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()


class HasDPoPScope(BasePermission):
    """The token has every scope of the view's ``required_scopes`` (or ``get_required_scopes()``).

    Refused (403 for an authenticated request, 401 with the challenge otherwise) when there is no
    token at all, e.g. a session-authenticated request: scopes belong to tokens.
    """

    message = "The access token lacks the scope this resource requires."

    def has_permission(self, request: Request, view: Any) -> bool:
        auth = request.auth
        if auth is None:
            return False
        return set(self.get_scopes(request, view)) <= token_scopes(auth)

    def get_scopes(self, request: Request, view: Any) -> Sequence[str]:
        getter = getattr(view, "get_required_scopes", None)
        scopes = getter() if callable(getter) else getattr(view, "required_scopes", None)
        if scopes is None:
            raise ImproperlyConfigured("HasDPoPScope requires the view to define required_scopes")
        return scopes
