"""``htu`` normalization and comparison (RFC 9449 §4.3 check 9, RFC 3986 §6.2.2-6.2.3)."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, urlsplit

from .errors import InvalidDPoPProof


DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 4096
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
# RFC 3986 §3.3: what a path may hold (pchar and "/"), "%" included; anything else is encoded.
_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")
_PATH_SAFE = "/!$&'()*+,;=:@%~"


def _normalize_percent(match: re.Match[str]) -> str:
    # RFC 3986 §6.2.2.1-6.2.2.2: upper-case hex digits; decode octets of unreserved characters.
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4, applied as §6.2.2.3 asks.
    output: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    result = "/" + "/".join(output)
    if path.endswith(("/.", "/..")) and not result.endswith("/"):
        result += "/"
    return result


def normalize_htu(url: str) -> str:
    """Return ``url`` normalized for comparison, without query and fragment.

    RFC 3986 §6.2.2 (case of scheme and host, percent-encoding, dot segments) and §6.2.3
    (default port, empty path is ``/``). Path case and trailing slashes stay significant.
    Characters a URI path cannot hold (non-ASCII, ``"``, ``<``...) are percent-encoded as UTF-8
    first (RFC 3987 §3.1), as an HTTP client and Django's ``iri_to_uri`` do before sending.
    Anything that is not an absolute ``http``/``https`` URI with an ASCII authority and no user
    information raises :class:`InvalidDPoPProof`; so does any value that is not a string.
    """
    if not isinstance(url, str):
        raise InvalidDPoPProof("htu is not a valid URI", reason="htu")
    return _normalize(url)


@lru_cache(maxsize=2048)
def _normalize(url: str) -> str:
    # Cached: a resource server sees the same few URLs over and over.
    if not url or len(url) > MAX_URL_LENGTH or _BAD_CHARS.search(url):
        raise InvalidDPoPProof("htu is not a valid URI", reason="htu")
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if not netloc.isascii():  # Python's int() would read non-ASCII digits in a port
            raise InvalidDPoPProof("htu host is not ASCII", reason="htu")
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise InvalidDPoPProof("htu is not a valid URI", reason="htu") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not host:
        raise InvalidDPoPProof("htu is not an absolute http(s) URI", reason="htu")
    if parts.username is not None or parts.password is not None:
        raise InvalidDPoPProof("htu must not contain user information", reason="htu")
    if "%" in host:
        host = _PERCENT.sub(_normalize_percent, host).lower()
    if netloc.startswith("["):  # an IP literal (RFC 3986 §3.2.2) keeps its brackets
        host = f"[{host}]"
    authority = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = parts.path
    if not _PATH.fullmatch(path):
        try:
            path = quote(path, safe=_PATH_SAFE, encoding="utf-8", errors="strict")
        except UnicodeEncodeError:  # a lone surrogate
            raise InvalidDPoPProof("htu is not a valid URI", reason="htu") from None
    if "%" in path:
        path = _PERCENT.sub(_normalize_percent, path)
    path = _remove_dot_segments(path) if path else "/"
    return f"{scheme}://{authority}{path}"


def htu_matches(proof_htu: str, request_url: str) -> bool:
    """RFC 9449 §4.3 check 9: the proof's ``htu`` names the request URI, query and fragment ignored.

    Raises :class:`InvalidDPoPProof` if either value is not an absolute http(s) URI.
    """
    return normalize_htu(proof_htu) == normalize_htu(request_url)
