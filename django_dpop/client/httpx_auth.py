"""DPoP for httpx: ``httpx.Client(auth=DPoPAuth(key))`` and the same for ``httpx.AsyncClient``."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator


try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("django_dpop.client.DPoPAuth needs httpx: pip install 'django-dpop[httpx]'") from exc

from .nonces import NONCE_HEADER
from .signer import RequestSigner


class DPoPAuth(RequestSigner, httpx.Auth):
    """An :class:`httpx.Auth` that signs a new DPoP proof for every request (RFC 9449 §4).

    ``DPoPAuth(key)`` is for the token endpoint (proof only, §5); ``DPoPAuth(key, access_token)``
    or ``auth.for_token_response(response.json())`` for resources (proof with ``ath`` and
    ``Authorization: DPoP``, §7). Each response's ``DPoP-Nonce`` is cached per server; a
    ``use_dpop_nonce`` answer (400 JSON at a token endpoint, 401 challenge at a resource) is
    retried exactly once with a new proof carrying the new nonce (§8, §9).

    ``correct_clock_skew=True`` stamps proofs in each server's time, measured from its ``Date``
    header (:class:`~.clock.ServerClock`), for hosts whose clock is off by more than a few seconds.

    Works with sync and async clients alike: it does no I/O except reading a 400 body, the
    only place a token endpoint's ``use_dpop_nonce`` can be seen. Request bodies are buffered so
    the retry can resend them. Redirects are not re-signed: a proof names one URL, so keep
    ``follow_redirects=False`` (httpx's default) for DPoP requests.
    """

    requires_request_body = True  # the retry resends the body

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = str(request.url)
        self.sign(request.method, url, request.headers)
        response = yield request
        self.learn(url, response.headers.get(NONCE_HEADER), response.headers.get("Date"))
        if not self.should_retry(url, response.status_code, response.headers.get_list, _body(response)):
            return
        # A new proof (new jti, the new nonce); the retry's answer is final, whatever it says.
        self.sign(request.method, url, request.headers)
        response = yield request
        self.learn(url, response.headers.get(NONCE_HEADER), response.headers.get("Date"))

    # httpx's default flows read every response body when ``requires_response_body`` is set; a
    # use_dpop_nonce body only matters on a 400, so read just those and leave others streaming.

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if response.status_code == 400:
                response.read()
            try:
                request = flow.send(response)
            except StopIteration:
                break

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if response.status_code == 400:
                await response.aread()
            try:
                request = flow.send(response)
            except StopIteration:
                break


def _body(response: httpx.Response) -> bytes | None:
    try:
        return response.content
    except httpx.ResponseNotRead:
        return None


__all__ = ["DPoPAuth"]
