"""What the DPoP checks need from a Django request: the proof header and the expected ``htu``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.utils.encoding import iri_to_uri

from .conf import conf


DPOP_HEADER = "HTTP_DPOP"
DPOP_NONCE_HEADER = "DPoP-Nonce"
# Where an adapter parks a nonce for the response (RFC 9449 §8, §9) when it cannot set the header
# itself; DPoPNonceMiddleware copies it. On the HttpRequest, never on DRF's Request wrapper,
# whose attribute writes stay on the wrapper (rest_framework/request.py ``__getattr__``).
_PENDING_NONCE = "_dpop_pending_nonce"


def get_proof(request: HttpRequest) -> str | None:
    """Return the raw ``DPoP`` header (repeated lines arrive comma-joined and are refused later)."""
    return request.META.get(DPOP_HEADER)


def expected_htu(request: HttpRequest) -> str:
    """Return the URI a proof for this request must name in ``htu`` (RFC 9449 §4.3 check 9).

    With ``DPOP_HTU_BASE_URL`` (the public origin, optionally with the public mount path) it is
    that base plus the request path: the base's own path, when it has one, stands in for the
    script prefix. Otherwise Django's own view of the request, which honours
    ``SECURE_PROXY_SSL_HEADER``, ``USE_X_FORWARDED_HOST`` and ``FORCE_SCRIPT_NAME`` and so trusts
    no forwarded header that Django was not told to trust.
    """
    base = conf.DPOP_HTU_BASE_URL
    if base:
        base = base.rstrip("/")
        # iri_to_uri, as build_absolute_uri does: Django's paths are decoded, htu is a URI.
        if urlsplit(base).path:
            return base + iri_to_uri(request.path_info)
        return base + iri_to_uri(request.path)
    return request_uri(request)


def request_uri(request: HttpRequest) -> str:
    """This server's own URI of ``request``, without the query: ``scheme://host`` then the path.

    The scheme and host are Django's (``request.scheme`` honours ``SECURE_PROXY_SSL_HEADER``;
    ``get_host()`` honours ``USE_X_FORWARDED_HOST`` and refuses hosts not in ``ALLOWED_HOSTS``),
    the path is appended as it is. Not ``request.build_absolute_uri(request.path)``: that reads
    a path beginning with ``//`` as a network-path reference (RFC 3986 §4.2), so a request for
    ``//other.example/api/`` would name ``http://other.example/api/``: another origin, whose
    proofs (RFC 9449 §4.3 check 9) this server must never accept.
    """
    return f"{request.scheme}://{request.get_host()}{iri_to_uri(request.path)}"


def set_pending_nonce(request: Any, nonce: str) -> None:
    """Park ``nonce`` on the underlying :class:`HttpRequest` for the response's ``DPoP-Nonce``."""
    setattr(getattr(request, "_request", request), _PENDING_NONCE, nonce)


def pending_nonce(request: Any) -> str | None:
    """Return the nonce an adapter parked for this request's response, if any."""
    return getattr(getattr(request, "_request", request), _PENDING_NONCE, None)
