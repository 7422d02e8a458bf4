"""Signing keys of trusted authorization servers, for JWT access tokens (RFC 9068 §4).

An issuer's keys come from one of three sources (``DPOP_JWT_ISSUERS``):

- ``jwks_uri``: a JWK Set (RFC 7517 §5) fetched over HTTPS;
- ``discovery``: the ``jwks_uri`` of the issuer's metadata, RFC 8414
  ``/.well-known/oauth-authorization-server`` first, OpenID Connect Discovery
  ``/.well-known/openid-configuration`` second; a document whose ``issuer`` is not exactly the
  configured one is never used (RFC 8414 §3.3, OpenID Connect Discovery §4.3);
- ``keys``: static public JWKs in the settings (no network at all).

Fetched key sets are cached per issuer (:class:`JWKSCache`, bounded in issuers and keys):

- fresh for ``DPOP_JWKS_CACHE_SECONDS`` after a successful fetch;
- a fetch (to refresh an expired set, or because a token names an unknown ``kid``) happens at
  most once per ``DPOP_JWKS_REFETCH_INTERVAL`` per issuer, failed or not: a burst of forged
  ``kid`` values or a dead endpoint never costs a fetch per request;
- when a refresh fails, the last good set keeps being used for at most ``DPOP_JWKS_MAX_STALE``
  seconds past its expiry; after that, or when no set was ever fetched, the issuer's tokens are
  refused with :class:`~django_dpop.core.errors.StoreUnavailable` (503), never accepted.

Fetching uses the stdlib (``urllib``): HTTPS only unless ``DPOP_JWKS_ALLOW_HTTP``, no
redirects, ``DPOP_JWKS_TIMEOUT`` seconds per attempt, at most ``DPOP_JWKS_MAX_SIZE`` octets.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ..core.errors import InvalidToken, StoreUnavailable
from ..core.jwk import PRIVATE_MEMBERS


logger = logging.getLogger("django_dpop.jwks")

# The JWS algorithms a key of each type (and curve) can verify (RFC 7518 §3.3-3.5, RFC 8037 §3.1).
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
_OKP_CURVES = frozenset({"Ed25519", "Ed448"})
MIN_RSA_BITS = 2048  # RFC 7518 §3.3
MAX_RSA_BITS = 8192
MAX_KEYS_PER_ISSUER = 32
MAX_ISSUERS = 64
# RFC 8414 §3 and OpenID Connect Discovery §4: where an issuer publishes its metadata.
RFC8414_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OPENID_WELL_KNOWN = "/.well-known/openid-configuration"


class FetchError(Exception):
    """A remote document could not be fetched or is not what it should be."""


@dataclass(frozen=True, slots=True)
class IssuerKey:
    """One verification key of an issuer: a ``cryptography`` public key and what it may verify."""

    kid: str | None
    kty: str
    algorithms: frozenset[str]
    key: Any = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class KeySet:
    """The usable keys of one JWK Set, indexed by ``kid``."""

    keys: tuple[IssuerKey, ...]
    by_kid: Mapping[str, tuple[IssuerKey, ...]]

    @classmethod
    def from_jwks(cls, jwks: object, *, max_keys: int = MAX_KEYS_PER_ISSUER) -> KeySet:
        """Build the set of a JWK Set document; keys this server cannot use are skipped.

        Raises :class:`ValueError` when ``jwks`` is no JWK Set (RFC 7517 §5: an object with a
        ``keys`` array) or has no usable key at all. At most ``max_keys`` keys are kept.
        """
        if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
            raise ValueError("not a JWK Set (RFC 7517 §5): no 'keys' array")
        return cls.from_keys(jwks["keys"], max_keys=max_keys)

    @classmethod
    def from_keys(
        cls, jwks: Iterable[object], *, max_keys: int = MAX_KEYS_PER_ISSUER, strict: bool = False
    ) -> KeySet:
        """The set of ``jwks``; an unusable key is skipped, or raises ValueError when ``strict``."""
        keys: list[IssuerKey] = []
        for jwk in jwks:
            if len(keys) >= max_keys:
                if strict:
                    raise ValueError(f"more than {max_keys} keys")
                logger.warning("JWK Set has more than %d usable keys; the others are ignored", max_keys)
                break
            try:
                keys.append(build_key(jwk))
            except ValueError as exc:
                if strict:
                    raise
                logger.info("JWK skipped: %s", exc)
        if not keys:
            raise ValueError("the JWK Set has no usable signature verification key")
        by_kid: dict[str, list[IssuerKey]] = {}
        for key in keys:
            if key.kid is not None:
                by_kid.setdefault(key.kid, []).append(key)
        return cls(tuple(keys), MappingProxyType({kid: tuple(found) for kid, found in by_kid.items()}))

    def find(self, kid: str | None, alg: str) -> IssuerKey | None:
        """The key for a token's ``kid`` that can verify ``alg``.

        Without a ``kid`` (RFC 7515 §4.1.4 makes it optional), only a set with exactly one key
        for ``alg`` answers: trying every key would multiply the cost of a forged token.
        """
        if kid is not None:
            candidates: Iterable[IssuerKey] = self.by_kid.get(kid, ())
        else:
            candidates = [key for key in self.keys if alg in key.algorithms]
            if len(candidates) != 1:
                return None
        for key in candidates:
            if alg in key.algorithms:
                return key
        return None


def build_key(jwk: object) -> IssuerKey:
    """Return the :class:`IssuerKey` of a public signature JWK, or raise :class:`ValueError`.

    Refused: anything but an RSA, EC or OKP public key (RFC 7517 §4.1; a symmetric ``oct`` key
    or private members never verify a token), a key for another use (``use``, RFC 7517 §4.2;
    ``key_ops``, §4.3), an RSA modulus under 2048 bits (RFC 7518 §3.3). A key's own ``alg``
    (RFC 7517 §4.4) restricts it to that algorithm.
    """
    if not isinstance(jwk, Mapping):
        raise ValueError("JWK is not a JSON object")
    kty = jwk.get("kty")
    if not PRIVATE_MEMBERS.isdisjoint(jwk):
        raise ValueError("JWK has private or symmetric key members")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise ValueError(f"JWK use is {use!r}, not 'sig'")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise ValueError("JWK key_ops does not allow 'verify'")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise ValueError("JWK kid is not a string")
    material = dict(jwk)
    try:
        if kty == "RSA":
            algorithms = _RSA_ALGORITHMS
            key = RSAAlgorithm.from_jwk(material)
            if not isinstance(key, RSAPublicKey):
                raise ValueError("not an RSA public key")
            if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
                raise ValueError(f"RSA key of {key.key_size} bits")
        elif kty == "EC":
            alg = _EC_ALGORITHMS.get(jwk.get("crv"))  # type: ignore[arg-type]
            if alg is None:
                raise ValueError("unsupported EC curve")
            algorithms = frozenset({alg})
            key = ECAlgorithm.from_jwk(material)
            if not isinstance(key, EllipticCurvePublicKey):
                raise ValueError("not an EC public key")
        elif kty == "OKP":
            if jwk.get("crv") not in _OKP_CURVES:
                raise ValueError("unsupported OKP curve")
            algorithms = frozenset({"EdDSA"})
            key = OKPAlgorithm.from_jwk(material)
            if not isinstance(key, Ed25519PublicKey | Ed448PublicKey):
                raise ValueError("not an EdDSA public key")
        else:
            raise ValueError(f"unsupported key type {kty!r}")
    except ValueError:
        raise
    except Exception as exc:  # pyjwt's InvalidKeyError, bad base64, a point not on the curve...
        raise ValueError(f"invalid {kty} key: {type(exc).__name__}") from None
    alg = jwk.get("alg")
    if alg is not None:
        if alg not in algorithms:
            raise ValueError(f"JWK alg {alg!r} does not fit its key type")
        algorithms = frozenset({alg})
    return IssuerKey(kid=kid, kty=kty, algorithms=algorithms, key=key)


# -- fetching ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How remote documents are fetched and cached (from the ``DPOP_JWKS_*`` settings)."""

    cache_seconds: float = 300
    refetch_interval: float = 30
    max_stale: float = 600
    timeout: float = 5
    max_size: int = 131072
    allow_http: bool = False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could leave HTTPS or the issuer's host: refused (answered as the 3xx status).
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 §6)")


def check_url(url: object, *, allow_http: bool) -> str:
    """Return ``url`` if this server may fetch it (HTTPS, or HTTP when allowed), else raise."""
    if not isinstance(url, str):
        raise FetchError("the URL is not a string")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise FetchError(f"{url!r} is not a valid URL") from None
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise FetchError(f"{url!r} is not an https URL (DPOP_JWKS_ALLOW_HTTP is off)")
    if not parts.hostname or parts.username is not None or parts.fragment:
        raise FetchError(f"{url!r} has no host, or has user information or a fragment")
    return url


def fetch_json(url: str, policy: FetchPolicy) -> Any:
    """GET ``url`` and return its JSON; :class:`FetchError` on any failure (fail closed).

    The whole exchange is bounded: ``policy.timeout`` for the connection and for each read, the
    body read in chunks until ``policy.timeout`` seconds have passed in all, at most
    ``policy.max_size`` octets.
    """
    check_url(url, allow_http=policy.allow_http)
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "django-dpop"})
    deadline = time.monotonic() + policy.timeout
    try:
        with _OPENER.open(request, timeout=policy.timeout) as response:
            if response.status != 200:
                raise FetchError(f"{url} answered {response.status}")
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > policy.max_size:
                raise FetchError(f"{url} answered more than {policy.max_size} octets")
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"{url} took more than {policy.timeout} s")
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > policy.max_size:
                    raise FetchError(f"{url} answered more than {policy.max_size} octets")
                chunks.append(chunk)
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url} answered {exc.code}") from None
    except Exception as exc:  # URLError, TimeoutError, OSError, http.client.HTTPException...
        raise FetchError(f"{url} could not be fetched: {type(exc).__name__}: {exc}") from None
    try:
        return json.loads(b"".join(chunks).decode("utf-8"), parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise FetchError(f"{url} did not answer JSON") from None


def metadata_urls(issuer: str) -> tuple[str, str]:
    """The RFC 8414 §3.1 metadata URL of ``issuer`` (well-known suffix inserted before the
    path), then the OpenID Connect Discovery §4 one (suffix appended to the issuer)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = urlunsplit((parts.scheme, parts.netloc, RFC8414_WELL_KNOWN + path, "", ""))
    return rfc8414, issuer.rstrip("/") + OPENID_WELL_KNOWN


def discover_jwks_uri(issuer: str, policy: FetchPolicy, fetch: Callable[[str, FetchPolicy], Any]) -> str:
    """Return the ``jwks_uri`` of ``issuer``'s metadata (RFC 8414 §3, OpenID Discovery §4)."""
    problems: list[str] = []
    for url in metadata_urls(issuer):
        try:
            metadata = fetch(url, policy)
            if not isinstance(metadata, Mapping):
                raise FetchError(f"{url} is not a JSON object")
            # RFC 8414 §3.3 / OpenID Connect Discovery §4.3: the issuer must be identical to the
            # one the metadata was looked up for, else the document MUST NOT be used.
            if metadata.get("issuer") != issuer:
                raise FetchError(f"{url} names issuer {metadata.get('issuer')!r}, not {issuer!r}")
            return check_url(metadata.get("jwks_uri"), allow_http=policy.allow_http)
        except FetchError as exc:
            problems.append(str(exc))
    raise FetchError("; ".join(problems))


class _Entry:
    """The cached keys of one issuer source, and when to fetch again."""

    __slots__ = ("lock", "keys", "fresh_until", "stale_until", "next_attempt", "jwks_uri", "error")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: KeySet | None = None
        self.fresh_until = 0.0
        self.stale_until = 0.0
        self.next_attempt = float("-inf")
        self.jwks_uri: str | None = None
        self.error = ""

    def usable(self, now: float) -> KeySet | None:
        return self.keys if self.keys is not None and now < self.stale_until else None


class JWKSCache:
    """Fetched key sets per issuer source: bounded, time-limited, rate-limited, thread-safe.

    ``source`` identifies what to fetch: ``("jwks_uri", url)`` or ``("discovery", issuer)``.
    ``clock`` (monotonic seconds) and ``fetch`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        max_issuers: int = MAX_ISSUERS,
        max_keys: int = MAX_KEYS_PER_ISSUER,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str, FetchPolicy], Any] = fetch_json,
    ) -> None:
        self.max_issuers = max_issuers
        self.max_keys = max_keys
        self.clock = clock
        self.fetch = fetch
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _entry(self, source: tuple[str, str]) -> _Entry:
        with self._lock:
            entry = self._entries.get(source)
            if entry is None:
                entry = self._entries[source] = _Entry()
                while len(self._entries) > self.max_issuers:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(source)
            return entry

    def get_key(self, source: tuple[str, str], kid: str | None, alg: str, policy: FetchPolicy) -> IssuerKey:
        """The key of ``source`` for a token's ``kid`` and ``alg``.

        Raises :class:`StoreUnavailable` when no usable key set can be had (never fetched, or
        stale past ``max_stale`` and the endpoint fails), :class:`InvalidToken` when the set
        has no such key even after the one refetch the rate limit allows.
        """
        entry = self._entry(source)
        now = self.clock()
        keys = entry.usable(now)
        if keys is None or now >= entry.fresh_until:
            # No set, or an expired one: refresh. Threads that still have a usable set do not
            # wait for another thread's fetch; those without one do.
            self._refresh(entry, source, policy, wait=keys is None)
            keys = entry.usable(self.clock())
            if keys is None:
                raise StoreUnavailable(f"signing keys of the issuer unavailable: {entry.error}")
        key = keys.find(kid, alg)
        if key is None and kid is not None:
            # An unknown kid may be a key the issuer just rotated in (RFC 7517 §5: sets change):
            # one refetch, rate-limited per issuer, so that forged kids cost no fetch each.
            self._refresh(entry, source, policy, wait=True)
            keys = entry.usable(self.clock())
            key = keys.find(kid, alg) if keys is not None else None
        if key is None:
            raise InvalidToken("no signing key of the issuer matches the token's kid and alg")
        return key

    def _refresh(self, entry: _Entry, source: tuple[str, str], policy: FetchPolicy, *, wait: bool) -> None:
        if not entry.lock.acquire(blocking=wait):
            return
        try:
            now = self.clock()
            if now < entry.next_attempt:
                return  # fetched (or failed) less than refetch_interval ago, maybe by another thread
            entry.next_attempt = now + policy.refetch_interval
            try:
                keys = self._load(entry, source, policy)
            except FetchError as exc:
                entry.error = str(exc)
                logger.warning("JWKS refresh failed for %s: %s", source[1], exc)
                return
            now = self.clock()
            entry.keys = keys
            entry.fresh_until = now + policy.cache_seconds
            entry.stale_until = entry.fresh_until + policy.max_stale
            entry.error = ""
        finally:
            entry.lock.release()

    def _load(self, entry: _Entry, source: tuple[str, str], policy: FetchPolicy) -> KeySet:
        kind, where = source
        if kind == "discovery":
            if entry.jwks_uri is None or self.clock() >= entry.fresh_until:
                entry.jwks_uri = discover_jwks_uri(where, policy, self.fetch)
            url = entry.jwks_uri
        else:
            url = where
        document = self.fetch(url, policy)
        try:
            return KeySet.from_jwks(document, max_keys=self.max_keys)
        except ValueError as exc:
            raise FetchError(f"{url}: {exc}") from None


jwks_cache = JWKSCache()
