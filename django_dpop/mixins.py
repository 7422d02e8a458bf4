"""``DPoPRequiredMixin``: ``dpop_required`` for class-based views, sync and async (RFC 9449 §7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from .decorators import finish, protect
from .resource import Validators


class DPoPRequiredMixin:
    """Require a DPoP-bound access token before ``dispatch``; put it first in the bases.

    Same responses and request attributes as :func:`django_dpop.decorators.dpop_required`.
    ``required_scopes`` (or :meth:`get_required_scopes`) lists the scopes the token must have.
    ``token_validators`` (import paths, classes or instances) replaces ``DPOP_TOKEN_VALIDATORS``
    for this view; None uses the setting. A view whose handlers are ``async def`` is checked in
    ``sync_to_async``.
    """

    required_scopes: Sequence[str] = ()
    token_validators: Validators = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # Token-only views: no cookie authenticates here, so CSRF does not apply (as in DRF).
        return csrf_exempt(super().as_view(**initkwargs))  # type: ignore[misc]

    def get_required_scopes(self) -> Sequence[str]:
        return self.required_scopes

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "view_is_async", False):
            return self._dispatch_async(request, *args, **kwargs)
        refusal = protect(request, self.get_required_scopes(), self.token_validators)
        if refusal is not None:
            return refusal
        return finish(request, super().dispatch(request, *args, **kwargs))  # type: ignore[misc]

    async def _dispatch_async(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refusal = await sync_to_async(protect)(request, self.get_required_scopes(), self.token_validators)
        if refusal is not None:
            return refusal
        return finish(request, await super().dispatch(request, *args, **kwargs))  # type: ignore[misc]
