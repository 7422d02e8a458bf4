"""Client-side DPoP proofs (RFC 9449 §4.2) and the headers that carry them (§4.1, §7.1)."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from django_dpop.core import DPoPError, compute_ath, normalize_htu
from django_dpop.core.htu import DEFAULT_PORTS
from django_dpop.core.nonces import is_nonce_syntax

from .errors import InvalidProofInput
from .keys import DPoPKey


# RFC 9110 §5.6.2: a method is a token.
_METHOD = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# RFC 9449 §7.1: the DPoP scheme carries a token68 (RFC 9110 §11.2).
_TOKEN68 = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
# RFC 9449 §4.2: jti needs at least 96 bits of randomness; 16 bytes give 128.
JTI_BYTES = 16


def proof_htu(url: str) -> str:
    """Return the ``htu`` for a request to ``url``: without query and fragment (RFC 9449 §4.2).

    User information is dropped (it must never travel inside a proof), scheme and host are
    lower-cased and a default port is removed (RFC 3986 §6.2.2.1, §6.2.3); the path is kept
    byte for byte, since path case and a trailing slash are significant to the server.
    """
    if not isinstance(url, str):
        raise InvalidProofInput("the URL must be a string")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise InvalidProofInput("the URL is not a valid absolute http(s) URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not host:
        raise InvalidProofInput("the URL is not a valid absolute http(s) URL")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    authority = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    htu = f"{scheme}://{authority}{parts.path or '/'}"
    try:
        # The server compares with the core's normalization: refuse what it would refuse.
        normalize_htu(htu)
    except DPoPError:
        raise InvalidProofInput("the URL is not a valid absolute http(s) URL") from None
    return htu


def check_access_token(access_token: object) -> str:
    """Return ``access_token`` if it can travel as ``Authorization: DPoP <token68>`` (RFC 9449 §7.1)."""
    if not isinstance(access_token, str) or not access_token or not _TOKEN68.match(access_token):
        # Never echo the token: it is a credential.
        raise InvalidProofInput("the access token is empty or not a token68 string (RFC 9449 §7.1)")
    return access_token


def create_proof(
    key: DPoPKey,
    method: str,
    url: str,
    access_token: str | None = None,
    nonce: str | None = None,
    *,
    iat: int | None = None,
) -> str:
    """Sign a fresh DPoP proof JWT for ``method url`` with ``key`` (RFC 9449 §4.2).

    The header holds ``typ: dpop+jwt``, the key's ``alg`` and its public JWK only. The claims are
    a new random ``jti`` (128 bits), ``htm``, ``htu`` (:func:`proof_htu`), ``iat``, ``ath`` when
    ``access_token`` is given (a request to a protected resource, §7) and ``nonce`` when the
    server supplied one (§8, §9). ``iat`` overrides the clock, e.g. to correct a known skew.
    """
    if not isinstance(key, DPoPKey):
        raise InvalidProofInput("key must be a DPoPKey")
    if not isinstance(method, str) or not _METHOD.match(method):
        raise InvalidProofInput("the HTTP method is not a valid method token")
    claims: dict[str, Any] = {
        "jti": secrets.token_urlsafe(JTI_BYTES),
        # RFC 9449 §4.3 check 8 compares case-sensitively (RFC 9110 §9.1); HTTP libraries send
        # upper case, so normalize a caller's "get" the same way the library will send it.
        "htm": method.upper(),
        "htu": proof_htu(url),
        "iat": int(time.time()) if iat is None else _check_iat(iat),
    }
    if access_token is not None:
        claims["ath"] = compute_ath(check_access_token(access_token))
    if nonce is not None:
        if not is_nonce_syntax(nonce):
            raise InvalidProofInput("the nonce is not a valid DPoP nonce (RFC 9449 §8.1)")
        claims["nonce"] = nonce
    return key.sign_proof(claims)


def _check_iat(iat: object) -> int:
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise InvalidProofInput("iat must be a number of seconds since the epoch")
    return int(iat)


def dpop_headers(
    key: DPoPKey,
    method: str,
    url: str,
    access_token: str | None = None,
    nonce: str | None = None,
    *,
    iat: int | None = None,
) -> dict[str, str]:
    """Return the request headers: ``DPoP`` (RFC 9449 §4.1), plus ``Authorization: DPoP <token>``
    (§7.1) when an access token is given."""
    headers = {"DPoP": create_proof(key, method, url, access_token, nonce, iat=iat)}
    if access_token is not None:
        headers["Authorization"] = f"DPoP {access_token}"
    return headers


__all__ = ["JTI_BYTES", "check_access_token", "compute_ath", "create_proof", "dpop_headers", "proof_htu"]
