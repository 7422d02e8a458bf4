"""Server nonces on the client side (RFC 9449 §8, §9): a per-server cache and ``use_dpop_nonce``.

A server hands out a nonce in the ``DPoP-Nonce`` header of any response, and asks for one with
``use_dpop_nonce``: a 400 JSON error at a token endpoint (§8) or a 401 ``WWW-Authenticate: DPoP``
challenge at a resource (§9). The cache keeps the newest nonce per server and role, so the next
proof carries it and costs no extra round trip.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from django_dpop.core.htu import DEFAULT_PORTS
from django_dpop.core.nonces import is_nonce_syntax


NONCE_HEADER = "DPoP-Nonce"
USE_DPOP_NONCE = "use_dpop_nonce"
# Roles: a nonce of an authorization server is no good at a resource server (RFC 9449 §9), and
# one origin can host both (django-dpop issues nonces per purpose), so they are cached apart.
TOKEN_ENDPOINT = "token"
RESOURCE = "resource"
# A use_dpop_nonce error body is tiny; never parse a large body looking for one.
MAX_ERROR_BODY = 65536

Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin:
    """Return the origin (scheme, host, port) of ``url`` (RFC 6454 §4), the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme, 0)


class NonceCache:
    """The newest nonce per (origin, role); bounded (least recently used go first) and thread-safe.

    One cache can be shared by several auth objects (``DPoPAuth(..., nonce_cache=cache)``), e.g.
    by the one that calls the token endpoint and the one that calls the API.
    """

    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._nonces: OrderedDict[tuple[Origin, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str, role: str) -> str | None:
        """Return the nonce to put in the next proof for ``url``, if the server gave one."""
        key = (origin_of(url), role)
        with self._lock:
            nonce = self._nonces.get(key)
            if nonce is not None:
                self._nonces.move_to_end(key)
            return nonce

    def update(self, url: str, role: str, nonce: str | None) -> str | None:
        """Remember ``nonce`` (a ``DPoP-Nonce`` value) for ``url``; return it if it was valid.

        Values that are not RFC 9449 §8.1 ``NQCHAR`` strings are ignored: a proof must never
        carry them, and a misbehaving server must not break the client.
        """
        if not is_nonce_syntax(nonce):
            return None
        assert nonce is not None  # narrowed by is_nonce_syntax
        key = (origin_of(url), role)
        with self._lock:
            self._nonces[key] = nonce
            self._nonces.move_to_end(key)
            while len(self._nonces) > self._max_entries:
                self._nonces.popitem(last=False)
        return nonce

    def clear(self) -> None:
        with self._lock:
            self._nonces.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._nonces)

    def __repr__(self) -> str:
        return f"<NonceCache entries={len(self)} max_entries={self._max_entries}>"


# RFC 9110 §11: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_ITEM = re.compile(
    rf"\s*(?:(?P<name>{_TOKEN})\s*=\s*(?P<value>{_QUOTED}|{_TOKEN})"  # auth-param
    rf"|(?P<scheme>{_TOKEN})(?:\s+(?P<pname>{_TOKEN})\s*=\s*(?P<pvalue>{_QUOTED}|{_TOKEN})"  # scheme + param
    rf"|\s+(?P<token68>[A-Za-z0-9\-._~+/]+=*))?)\s*(?:,|$)"  # or scheme + token68, or a bare scheme
)


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """Parse a ``WWW-Authenticate`` value into ``[(scheme lower-cased, {param lower-cased: value})]``.

    Several challenges may share one header line (RFC 9110 §11.6.1). Parsing stops at the first
    malformed part; what came before is kept.
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    position = 0
    while position < len(header):
        match = _ITEM.match(header, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        if match.group("scheme"):
            params: dict[str, str] = {}
            if match.group("pname"):
                params[match.group("pname").lower()] = _unquote(match.group("pvalue"))
            challenges.append((match.group("scheme").lower(), params))
        elif match.group("name") and challenges:
            challenges[-1][1].setdefault(match.group("name").lower(), _unquote(match.group("value")))
    return challenges


def is_use_dpop_nonce(
    status_code: int, headers: Mapping[str, str] | Callable[[str], list[str]], body: bytes | None
) -> bool:
    """Return True if a response asks for a (new) server nonce.

    RFC 9449 §8: an authorization server answers 400 with the JSON error ``use_dpop_nonce``.
    RFC 9449 §9: a resource server answers 401 with ``WWW-Authenticate: DPoP error="use_dpop_nonce"``.
    ``headers`` is a mapping, or a function returning every value of a header name.
    """
    if status_code == 400 and body:
        if len(body) > MAX_ERROR_BODY:
            return False
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return False
        return isinstance(data, dict) and data.get("error") == USE_DPOP_NONCE
    if status_code == 401:
        values = headers("WWW-Authenticate") if callable(headers) else [headers.get("WWW-Authenticate") or ""]
        return any(
            scheme == "dpop" and params.get("error") == USE_DPOP_NONCE
            for value in values
            for scheme, params in parse_challenges(value)
        )
    return False


__all__ = [
    "NONCE_HEADER",
    "RESOURCE",
    "TOKEN_ENDPOINT",
    "USE_DPOP_NONCE",
    "NonceCache",
    "is_use_dpop_nonce",
    "origin_of",
    "parse_challenges",
]
