"""``htu`` normalization and comparison (RFC 9449 §4.3 check 9, RFC 3986 §6.2.2-6.2.3)."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from .errors import InvalidDPoPProof


DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


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


@lru_cache(maxsize=2048)
def normalize_htu(url: str) -> str:
    """Return ``url`` normalized for comparison, without query and fragment.

    RFC 3986 §6.2.2 (case of scheme and host, percent-encoding, dot segments) and §6.2.3
    (default port, empty path is ``/``). Path case and trailing slashes stay significant.
    Anything that is not an absolute ``http``/``https`` URI raises :class:`InvalidDPoPProof`.
    """
    if not isinstance(url, str) or not url or len(url) > 4096 or _BAD_CHARS.search(url):
        raise InvalidDPoPProof("htu is not a valid URI")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise InvalidDPoPProof("htu is not a valid URI") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not host:
        raise InvalidDPoPProof("htu is not an absolute http(s) URI")
    if parts.username is not None or parts.password is not None:
        raise InvalidDPoPProof("htu must not contain user information")
    host = _PERCENT.sub(_normalize_percent, host).lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    authority = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _PERCENT.sub(_normalize_percent, parts.path) if "%" in parts.path else parts.path
    path = _remove_dot_segments(path) if path else "/"
    return f"{scheme}://{authority}{path}"


def htu_matches(proof_htu: str, request_url: str) -> bool:
    """RFC 9449 §4.3 check 9: the proof's ``htu`` names the request URI, query and fragment ignored."""
    return normalize_htu(proof_htu) == normalize_htu(request_url)
