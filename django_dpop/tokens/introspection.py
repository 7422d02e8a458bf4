"""RFC 7662 token introspection at any authorization server, as an access-token validator.

The resource server POSTs the token to ``DPOP_INTROSPECTION_URL`` (§2.1), authenticated as a
client, and accepts it only when the answer says ``"active": true`` (§2.2) and passes the checks
below, each citing its section. What it reports to the pipeline:

- ``jkt``: ``cnf.jkt`` of the answer (RFC 9449 §6.2); the pipeline compares it with the proof's
  key and refuses a bound token presented as Bearer (RFC 9449 §7.1, §7.2);
- ``auth``: a :class:`~django_dpop.tokens.TokenClaims` holding every member of the answer
  (``client_id``, ``sub``, ``scope``, ``username``...), ``source="introspection"``;
- ``user``: :meth:`IntrospectionTokenValidator.get_user` (None unless a subclass maps ``sub``).

Active answers are cached in memory until the token's ``exp`` or ``DPOP_INTROSPECTION_CACHE_SECONDS``,
whichever comes first, keyed by the SHA-256 of the token (the token itself is never kept),
bounded (LRU, ``DPOP_INTROSPECTION_CACHE_SIZE``) and thread-safe. Inactive answers are not cached:
they are never accepted anyway, and caching them would let a client flood the bounded cache with
random tokens and evict the active entries (and would keep refusing, for the cache period, a
token introspected a moment before the authorization server committed it).

Any failure to get an answer (no connection, timeout, redirect, a status other than 200, a body
over the size limit, no JSON, JSON that is no object, no boolean ``active``) raises
:class:`IntrospectionUnavailable`, a :class:`~django_dpop.core.errors.StoreUnavailable`: the
request is refused with 503, never accepted, and the cause is logged (never the token).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http.client
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

from django.http import HttpRequest

from ..conf import conf
from ..core.errors import InvalidToken, StoreUnavailable
from ..resource import BEARER_SCHEME, DPOP_SCHEME, InvalidBearerToken
from .base import AccessTokenValidator, TokenClaims, ValidatedToken, scope_of


logger = logging.getLogger("django_dpop.introspection")

CLIENT_SECRET_BASIC = "client_secret_basic"
CLIENT_SECRET_POST = "client_secret_post"
BEARER = "bearer"
AUTH_METHODS = (CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, BEARER)
# An introspection answer is a few hundred bytes; anything this large is not one.
MAX_RESPONSE_BYTES = 64 * 1024
_CHUNK = 8192
# RFC 7638 SHA-256 thumbprint, base64url without padding (RFC 9449 §6.1).
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")


class IntrospectionUnavailable(StoreUnavailable):
    """The introspection endpoint gave no usable answer: refuse with 503 (fail closed)."""

    default_description = "The token introspection endpoint is unavailable"


def cache_key(url: str, token: str) -> tuple[str, str]:
    """The cache key of ``token`` introspected at ``url``: the token only as its SHA-256."""
    return url, hashlib.sha256(token.encode("utf-8")).hexdigest()


class IntrospectionCache:
    """A bounded, thread-safe LRU of active introspection answers with per-entry deadlines."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], now: float) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            deadline, answer = entry
            if now >= deadline:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return answer

    def put(self, key: tuple[str, str], answer: dict[str, Any], deadline: float, maxsize: int) -> None:
        with self._lock:
            self._entries[key] = (deadline, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > maxsize:
                self._entries.popitem(last=False)

    def keys(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


#: The cache of every :class:`IntrospectionTokenValidator` of this process (one per worker).
cache = IntrospectionCache()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would resend the token and the credentials elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are no JSON (RFC 8259 §6); an "exp": NaN would never expire.
    raise ValueError(f"{name} is not JSON")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class IntrospectionTokenValidator(AccessTokenValidator):
    """Validate access tokens by RFC 7662 introspection (settings ``DPOP_INTROSPECTION_*``).

    Every setting can be given to the constructor instead, e.g. for two authorization servers.
    """

    source = "introspection"
    max_response_bytes = MAX_RESPONSE_BYTES

    def __init__(
        self,
        *,
        url: str | None = None,
        auth_method: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        bearer_token: str | None = None,
        timeout: float | None = None,
        audience: str | None = None,
        allow_http: bool | None = None,
    ) -> None:
        self._url = url
        self._auth_method = auth_method
        self._client_id = client_id
        self._client_secret = client_secret
        self._bearer_token = bearer_token
        self._timeout = timeout
        self._audience = audience
        self._allow_http = allow_http

    # -- configuration, read live unless given -------------------------------------------------

    @property
    def url(self) -> str | None:
        return self._url if self._url is not None else conf.DPOP_INTROSPECTION_URL

    @property
    def auth_method(self) -> str:
        return self._auth_method or conf.DPOP_INTROSPECTION_AUTH_METHOD

    @property
    def audience(self) -> str | None:
        return self._audience if self._audience is not None else conf.DPOP_RESOURCE_IDENTIFIER

    @property
    def timeout(self) -> float:
        return self._timeout if self._timeout is not None else conf.DPOP_INTROSPECTION_TIMEOUT

    @property
    def allow_http(self) -> bool:
        return self._allow_http if self._allow_http is not None else conf.DPOP_INTROSPECTION_ALLOW_HTTP

    # -- the validator contract -------------------------------------------------------------------

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> ValidatedToken | None:
        """Introspect ``token`` (or reuse a cached answer) and check it for ``scheme``.

        None when no introspection URL is configured (this validator is then disabled).
        """
        url = self.url
        if not url:
            return None
        now = time.time()
        answer = self.introspect(url, token, now=now)
        return self.check(answer, scheme=scheme, now=now)

    def get_user(self, claims: Mapping[str, Any]) -> Any:
        """The Django user of the answer; None (no mapping of ``sub``): override to map one."""
        return None

    # -- introspection and its cache --------------------------------------------------------------

    def introspect(self, url: str, token: str, *, now: float) -> dict[str, Any]:
        """Return the introspection answer for ``token``: from the cache, or from the server."""
        key = cache_key(url, token)
        cached = cache.get(key, now)
        if cached is not None:
            return cached
        answer = self.request(url, token)
        if answer["active"] is True:
            self._store(key, answer, now)
        return answer

    def _store(self, key: tuple[str, str], answer: dict[str, Any], now: float) -> None:
        seconds = conf.DPOP_INTROSPECTION_CACHE_SECONDS
        size = conf.DPOP_INTROSPECTION_CACHE_SIZE
        if seconds <= 0 or size <= 0:
            return
        deadline = now + seconds
        exp = answer.get("exp")
        if _number(exp):
            # Until the token expires, never longer: an expired token is introspected again.
            deadline = min(deadline, exp)  # exact for integers of any size (no float overflow)
        if deadline > now:
            cache.put(key, answer, deadline, size)

    def request(self, url: str, token: str) -> dict[str, Any]:
        """POST the token to the introspection endpoint (RFC 7662 §2.1); return its JSON object."""
        if urlsplit(url).scheme != "https" and not (urlsplit(url).scheme == "http" and self.allow_http):
            # RFC 7662 §4: the endpoint MUST be protected by TLS (the token and credentials travel).
            raise self._failure(url, "the introspection URL is not https (DPOP_INTROSPECTION_ALLOW_HTTP)")
        fields = {"token": token, "token_type_hint": "access_token"}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        method = self.auth_method
        if method == CLIENT_SECRET_BASIC:
            headers["Authorization"] = self._basic_credentials()
        elif method == CLIENT_SECRET_POST:
            # RFC 6749 §2.3.1: the credentials as form parameters, NOT RECOMMENDED but allowed.
            fields["client_id"] = self._client_id or conf.DPOP_INTROSPECTION_CLIENT_ID or ""
            fields["client_secret"] = self._client_secret or conf.DPOP_INTROSPECTION_CLIENT_SECRET or ""
        elif method == BEARER:
            bearer = self._bearer_token or conf.DPOP_INTROSPECTION_BEARER_TOKEN or ""
            headers["Authorization"] = f"Bearer {bearer}"
        else:
            raise self._failure(url, f"unknown DPOP_INTROSPECTION_AUTH_METHOD {method!r}")
        request = urllib.request.Request(url, data=urlencode(fields).encode("ascii"), headers=headers)
        deadline = time.monotonic() + self.timeout
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                if response.status != 200:
                    raise self._failure(url, f"HTTP status {response.status}")
                body = self._read(response, deadline)
        except urllib.error.HTTPError as exc:
            raise self._failure(url, f"HTTP status {exc.code}") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise self._failure(url, f"{type(exc).__name__}: {exc}") from exc
        try:
            answer = json.loads(body, parse_constant=_refuse_constant)
        except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, NaN and Infinity alike
            raise self._failure(url, "the answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise self._failure(url, "the answer is not a JSON object")
        # RFC 7662 §2.2: "active" is REQUIRED and a boolean; an answer without one is broken.
        if not isinstance(answer.get("active"), bool):
            raise self._failure(url, "the answer has no boolean 'active' member")
        return answer

    def _basic_credentials(self) -> str:
        """RFC 6749 §2.3.1: HTTP Basic over the form-urlencoded (Appendix B) id and secret."""
        client_id = quote_plus(self._client_id or conf.DPOP_INTROSPECTION_CLIENT_ID or "")
        secret = quote_plus(self._client_secret or conf.DPOP_INTROSPECTION_CLIENT_SECRET or "")
        return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode("ascii")).decode("ascii")

    def _read(self, response: Any, deadline: float) -> bytes:
        """Read at most ``max_response_bytes``, within the timeout as a whole (not per read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_response_bytes:
                raise ValueError(f"the answer exceeds {self.max_response_bytes} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError("the answer took longer than the timeout")
            chunks.append(chunk)

    @staticmethod
    def _failure(url: str, cause: str) -> IntrospectionUnavailable:
        # The URL and the cause only: never the token, never the credentials.
        logger.warning("Token introspection at %s failed: %s", url, cause)
        return IntrospectionUnavailable()

    # -- the checks of an answer ------------------------------------------------------------------

    def check(self, answer: Mapping[str, Any], *, scheme: str, now: float) -> ValidatedToken:
        """Check an introspection answer for a token presented with ``scheme``.

        A refusal of a Bearer token is an :class:`InvalidBearerToken` (its error goes on the
        ``Bearer`` challenge), except the downgrade of a DPoP token (on the ``DPoP`` challenge, as
        the pipeline does for a bound token).
        """
        refuse = InvalidBearerToken if scheme == BEARER_SCHEME else InvalidToken
        # RFC 7662 §2.2: only "active": true (the JSON boolean) is an active token.
        if answer.get("active") is not True:
            raise refuse("The access token is not active")
        token_type = answer.get("token_type")
        if token_type is not None:
            if not isinstance(token_type, str):
                raise refuse("The access token has a malformed token_type")
            # RFC 6749 §7.1: token types compare case-insensitively.
            if scheme == DPOP_SCHEME and token_type.lower() != "dpop":
                # RFC 9449 §6.2: a DPoP-bound token is introspected with token_type "DPoP".
                raise refuse("The access token is not a DPoP token")
            if scheme != DPOP_SCHEME and token_type.lower() == "dpop":
                # RFC 9449 §7.2: a DPoP token presented as Bearer is a downgrade.
                raise InvalidToken("DPoP-bound access token presented as Bearer")
        jkt = self._jkt(answer, refuse)
        skew = conf.DPOP_CLOCK_SKEW
        exp = answer.get("exp")
        if exp is not None:
            # RFC 7662 §2.2 exp (RFC 7519 §4.1.4: not accepted on or after it).
            if not _number(exp):
                raise refuse("The access token has a malformed exp")
            if now >= exp + skew:
                raise refuse("The access token is expired")
        nbf = answer.get("nbf")
        if nbf is not None:
            # RFC 7662 §2.2 nbf (RFC 7519 §4.1.5: not accepted before it).
            if not _number(nbf):
                raise refuse("The access token has a malformed nbf")
            if now + skew < nbf:
                raise refuse("The access token is not valid yet")
        audience = self.audience
        if audience:
            # RFC 7662 §2.2 aud, RFC 8707 §2: a token for another resource is refused here.
            # A token without aud is valid at every resource of its server: refused as well.
            aud = answer.get("aud")
            audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            if audience not in audiences:
                raise refuse("The access token is not valid for this resource")
        # RFC 7662 §2.2: a space-separated string (other servers' array and scp forms: scope_of).
        scope = scope_of(answer)
        if scope is None:
            raise refuse("The access token has a malformed scope")
        # A copy per request: a view changing request.auth.claims never changes the cache.
        claims: Mapping[str, Any] = MappingProxyType(copy.deepcopy(dict(answer)))
        return ValidatedToken(
            auth=TokenClaims(claims=claims, scope=scope, source=self.source),
            user=self.get_user(claims),
            jkt=jkt,
            scopes=frozenset(scope.split()),
        )

    @staticmethod
    def _jkt(answer: Mapping[str, Any], refuse: type[InvalidToken] = InvalidToken) -> str | None:
        """``cnf.jkt`` (RFC 9449 §6.2), None for a token without ``cnf``.

        A ``cnf`` this server cannot read as a DPoP binding (another confirmation method, such as
        an RFC 8705 certificate thumbprint, or a malformed ``jkt``) is refused: reporting None
        would turn a bound token into a Bearer token.
        """
        if "cnf" not in answer:
            return None
        cnf = answer["cnf"]
        jkt = cnf.get("jkt") if isinstance(cnf, Mapping) else None
        if not isinstance(jkt, str) or _JKT.fullmatch(jkt) is None:
            raise refuse("The access token is bound by a confirmation this server does not check")
        return jkt
