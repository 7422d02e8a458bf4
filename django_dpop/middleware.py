"""``DPoP-Nonce`` on responses (RFC 9449 §8.2, §9) for adapters that cannot set the header themselves.

DRF's ``DPoPAuthentication`` and ``dpop_required`` set the header directly; this middleware is the
fallback for code that only reaches the request (``django_dpop.http.set_pending_nonce``), e.g. an
authenticator used outside an ``APIView`` or a DOT view whose error path drops headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from .http import DPOP_NONCE_HEADER, pending_nonce


class DPoPNonceMiddleware:
    """Copy a parked nonce onto the response as exactly one ``DPoP-Nonce`` header (sync and async)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        return self.process(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        return self.process(request, await self.get_response(request))

    @staticmethod
    def process(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        nonce = pending_nonce(request)
        if nonce and DPOP_NONCE_HEADER not in response:
            response[DPOP_NONCE_HEADER] = nonce
        return response
