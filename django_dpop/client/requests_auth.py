"""DPoP for requests: ``requests.get(url, auth=DPoPRequestsAuth(key, access_token))``."""

from __future__ import annotations

import logging
from typing import Any


try:
    import requests
    from requests.auth import AuthBase
    from requests.utils import rewind_body
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "django_dpop.client.DPoPRequestsAuth needs requests: pip install 'django-dpop[requests]'"
    ) from exc

from .nonces import NONCE_HEADER
from .signer import RequestSigner


logger = logging.getLogger("django_dpop.client")


class DPoPRequestsAuth(RequestSigner, AuthBase):
    """A :class:`requests.auth.AuthBase` with the behaviour of :class:`~.httpx_auth.DPoPAuth`.

    Signs a new proof per request, caches ``DPoP-Nonce`` per server, and retries a
    ``use_dpop_nonce`` answer exactly once from a response hook with a copy of the request and a
    new proof, the way :meth:`requests.auth.HTTPDigestAuth.handle_401` resends. Request bodies
    that are streams or generators cannot be resent: pass bytes, str, dict or a file seekable
    from its start. Redirects are not re-signed (a proof names one URL): call DPoP APIs with
    ``allow_redirects=False`` or with their final URL.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.sign(_method(request), _url(request), request.headers)
        request._dpop_signed = True  # type: ignore[attr-defined]
        request.register_hook("response", self._handle_response)
        return request

    def _handle_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        url = _url(request)
        self.learn(url, response.headers.get(NONCE_HEADER), response.headers.get("Date"))
        body = response.content if response.status_code == 400 else None
        if (
            getattr(request, "_dpop_retry", False)  # exactly one retry, never a loop
            # A redirect hop is a copy requests made (copies keep hooks, not attributes): signing
            # it would send ``Authorization: DPoP <token>`` to wherever the redirect points.
            or not getattr(request, "_dpop_signed", False)
            or not self.should_retry(url, response.status_code, response.headers, body)
            or not _replayable(request)
        ):
            return response
        # Consume and release the first answer before reusing the connection (as handle_401 does).
        _ = response.content
        response.close()
        retry = request.copy()
        retry._dpop_retry = True  # type: ignore[attr-defined]
        if getattr(retry, "_body_position", None) is not None:
            rewind_body(retry)  # a file body: send it again from where it started
        # The retry must carry exactly one, new proof (new jti and the new nonce).
        self.sign(_method(retry), url, retry.headers)
        # Cookies the first answer set go with the retry, as requests does for digest auth.
        requests.cookies.extract_cookies_to_jar(retry._cookies, request, response.raw)  # type: ignore[attr-defined]
        retry.prepare_cookies(retry._cookies)  # type: ignore[attr-defined]
        second = response.connection.send(retry, **kwargs)  # type: ignore[attr-defined]
        second.history.append(response)
        second.request = retry
        self.learn(url, second.headers.get(NONCE_HEADER), second.headers.get("Date"))
        return second


def _method(request: requests.PreparedRequest) -> str:
    return request.method or "GET"


def _url(request: requests.PreparedRequest) -> str:
    return request.url or ""


def _replayable(request: requests.PreparedRequest) -> bool:
    """A body can be sent twice if it is bytes or str, or a file requests knows how to rewind."""
    body = request.body
    if body is None or isinstance(body, bytes | str) or getattr(request, "_body_position", None) is not None:
        return True
    logger.warning("DPoP: the request body is a one-shot stream; not retrying with a new nonce")
    return False


__all__ = ["DPoPRequestsAuth"]
