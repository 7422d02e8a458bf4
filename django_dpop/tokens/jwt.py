"""JWT access tokens (RFC 9068) verified locally, with their DPoP binding (RFC 9449 §6.1).

:class:`JWTTokenValidator` claims a token that is a compact JWS (RFC 7515 §7.1) whose ``iss`` is
one of ``DPOP_JWT_ISSUERS``; any other token is "not mine" (``None``), so another validator (DOT,
introspection) may claim it. A token of a trusted issuer is then valid, or refused with
:class:`~django_dpop.core.errors.InvalidToken`; when the issuer's keys cannot be had it is
refused with :class:`~django_dpop.core.errors.StoreUnavailable` (503), never accepted.

The checks, in order (RFC 9068 §4 unless said otherwise):

1. ``typ`` is ``at+jwt`` (or ``application/at+jwt``, RFC 7515 §4.1.9), or another type of
   ``DPOP_JWT_ACCEPTED_TYPES`` (where ``""`` stands for no ``typ`` at all);
2. ``alg`` is an asymmetric algorithm allowed for the issuer (never ``none`` nor HMAC, RFC 8725
   §3.1-3.2); ``crit`` is refused (RFC 7515 §4.1.11);
3. the key is the issuer's key named by ``kid`` that fits ``alg`` (RFC 7515 §4.1.4); keys the
   token carries (``jwk``, ``jku``, ``x5u``, ``x5c``) are never used (RFC 8725 §3.10);
4. the signature, verified by pyjwt's implementation of exactly that ``alg`` with that key;
5. ``exp`` (required), ``nbf`` and ``iat`` with ``DPOP_CLOCK_SKEW`` (RFC 7519 §4.1.4-4.1.6);
6. ``aud`` names this resource (RFC 9068 §4, RFC 8707);
7. ``cnf``: only ``jkt`` confirmation is supported (RFC 9449 §6.1, RFC 7800 §3.1); a token on
   the DPoP scheme must have it. The pipeline compares it with the proof key (RFC 9449 §7.1).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from binascii import a2b_base64
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from django.core.signals import setting_changed
from django.http import HttpRequest
from jwt.algorithms import get_default_algorithms

from ..conf import conf
from ..core.errors import InvalidToken
from ..core.policy import ASYMMETRIC_ALGORITHMS
from ..core.proof import STRICT_JSON
from .base import AccessTokenValidator, TokenClaims, ValidatedToken, scope_of
from .jwks import FetchError, FetchPolicy, JWKSCache, KeySet, check_url, jwks_cache


logger = logging.getLogger("django_dpop.jwt")

MAX_TOKEN_LENGTH = 16384
ISSUER_OPTIONS = frozenset(
    {"issuer", "jwks_uri", "discovery", "keys", "audience", "algorithms", "user_field"}
)
_ALGORITHMS = get_default_algorithms()
# RFC 7515 §2 base64url, decoded strictly (as the proof verifier does): "+", "/" and "=" are refused.
_FROM_BASE64URL = bytes.maketrans(b"-_+/=", b"+/***")
_PADDING = (b"", b"", b"==", b"=")


# -- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    """One trusted issuer, parsed from an entry of ``DPOP_JWT_ISSUERS``."""

    issuer: str
    source: tuple[str, str] | None  # ("jwks_uri", url) or ("discovery", issuer); None: static keys
    static_keys: KeySet | None
    audiences: frozenset[str]
    algorithms: frozenset[str]
    user_field: str | None = None


@dataclass(frozen=True, slots=True)
class JWTSettings:
    issuers: Mapping[str, IssuerConfig]
    accepted_types: frozenset[str]
    policy: FetchPolicy
    clock_skew: int = 0


def _strings(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, list | tuple | set | frozenset) or not all(
        isinstance(item, str) and item for item in value
    ):
        raise ValueError(f"{what} must be a string or a list of non-empty strings")
    return tuple(value)


def parse_algorithms(value: object, what: str) -> frozenset[str]:
    """The algorithms of ``value`` (a list of names), all asymmetric, or :class:`ValueError`."""
    algorithms = _strings(value, what)
    if not algorithms:
        raise ValueError(f"{what} is empty")
    for alg in algorithms:
        # RFC 8725 §3.1-3.2 / RFC 9068 §4: never "none", never a MAC keyed with a public key.
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ValueError(f"{what} contains {alg!r}, which is not an asymmetric JWS algorithm")
    return frozenset(algorithms)


def parse_issuer(entry: object, *, audience: object, algorithms: object, allow_http: bool) -> IssuerConfig:
    """Parse one ``DPOP_JWT_ISSUERS`` entry (the system checks use it too); :class:`ValueError`."""
    if not isinstance(entry, Mapping):
        raise ValueError("each DPOP_JWT_ISSUERS entry must be a dict")
    unknown = set(entry) - ISSUER_OPTIONS
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}")
    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise ValueError("'issuer' must be the issuer identifier (the exact iss of its tokens)")
    sources = [name for name in ("jwks_uri", "discovery", "keys") if entry.get(name) not in (None, False)]
    if len(sources) != 1:
        raise ValueError(f"issuer {issuer!r} needs exactly one of 'jwks_uri', 'discovery': True, 'keys'")
    source: tuple[str, str] | None = None
    static_keys: KeySet | None = None
    try:
        if sources == ["jwks_uri"]:
            source = ("jwks_uri", check_url(entry["jwks_uri"], allow_http=allow_http))
        elif sources == ["discovery"]:
            if entry["discovery"] is not True:
                raise ValueError(f"issuer {issuer!r}: 'discovery' must be True")
            source = ("discovery", check_url(issuer, allow_http=allow_http))
    except FetchError as exc:
        raise ValueError(f"issuer {issuer!r}: {exc}") from None
    if sources == ["keys"]:
        keys = entry["keys"]
        if isinstance(keys, Mapping):  # a whole JWK Set
            keys = keys.get("keys")
        if not isinstance(keys, list | tuple) or not keys:
            raise ValueError(f"issuer {issuer!r}: 'keys' must be a list of public JWKs or a JWK Set")
        try:
            static_keys = KeySet.from_keys(keys, strict=True)
        except ValueError as exc:
            raise ValueError(f"issuer {issuer!r}: a static key is unusable: {exc}") from None
    aud = entry.get("audience", audience)
    if aud is None:
        raise ValueError(f"issuer {issuer!r} has no audience (DPOP_JWT_AUDIENCE or 'audience')")
    audiences = frozenset(_strings(aud, f"audience of issuer {issuer!r}"))
    if not audiences:
        raise ValueError(f"issuer {issuer!r} has no audience (DPOP_JWT_AUDIENCE or 'audience')")
    algs = parse_algorithms(entry.get("algorithms", algorithms), f"algorithms of issuer {issuer!r}")
    user_field = entry.get("user_field")
    if user_field is not None and (not isinstance(user_field, str) or not user_field):
        raise ValueError(f"issuer {issuer!r}: 'user_field' must be a field name of the user model")
    return IssuerConfig(issuer, source, static_keys, audiences, algs, user_field)


def normalize_type(typ: str) -> str:
    """RFC 7515 §4.1.9: media types compare case-insensitively; ``application/`` may be left out."""
    typ = typ.lower()
    return typ[len("application/") :] if typ.startswith("application/") else typ


_settings_lock = threading.Lock()
_settings_cache: JWTSettings | None = None


def jwt_settings() -> JWTSettings:
    """The parsed JWT settings, parsed once and again whenever a ``DPOP_JWT_*`` / ``DPOP_JWKS_*``
    setting changes (Django's ``setting_changed``, sent by ``override_settings``).

    An invalid issuer entry is left out (its tokens are then "not mine") and logged; the system
    checks (``django_dpop.E020``...) report it at start-up.
    """
    global _settings_cache
    cached = _settings_cache
    if cached is not None:
        return cached
    with _settings_lock:
        parsed = _parse_settings(
            conf.DPOP_JWT_ISSUERS,
            conf.DPOP_JWT_AUDIENCE,
            conf.DPOP_JWT_ALGORITHMS,
            conf.DPOP_JWT_ACCEPTED_TYPES,
            conf.DPOP_JWKS_CACHE_SECONDS,
            conf.DPOP_JWKS_REFETCH_INTERVAL,
            conf.DPOP_JWKS_MAX_STALE,
            conf.DPOP_JWKS_TIMEOUT,
            conf.DPOP_JWKS_MAX_SIZE,
            conf.DPOP_JWKS_ALLOW_HTTP,
            conf.DPOP_CLOCK_SKEW,
        )
        _settings_cache = parsed
    return parsed


# Settings of other features the parsed JWT settings depend on.
_ALSO_READ = frozenset({"DPOP_CLOCK_SKEW", "DPOP_RESOURCE_IDENTIFIER"})


def reset_settings(*, setting: str = "", **kwargs: Any) -> None:
    """Forget the parsed settings (receiver of ``setting_changed``; call it after editing
    ``DPOP_JWT_ISSUERS`` in place)."""
    global _settings_cache
    if not setting or setting.startswith(("DPOP_JWT_", "DPOP_JWKS_")) or setting in _ALSO_READ:
        _settings_cache = None


setting_changed.connect(reset_settings, dispatch_uid="django_dpop.tokens.jwt.reset_settings")


def _parse_settings(
    issuers: Any,
    audience: Any,
    algorithms: Any,
    types: Any,
    cache_seconds: Any,
    refetch_interval: Any,
    max_stale: Any,
    timeout: Any,
    max_size: Any,
    allow_http: Any,
    clock_skew: Any,
) -> JWTSettings:
    allow_http = allow_http is True
    configs: dict[str, IssuerConfig] = {}
    for entry in issuers if isinstance(issuers, list | tuple) else ():
        try:
            config = parse_issuer(entry, audience=audience, algorithms=algorithms, allow_http=allow_http)
        except ValueError as exc:
            logger.error("DPOP_JWT_ISSUERS entry ignored: %s", exc)
            continue
        configs[config.issuer] = config
    # "" stands for a token without typ (checks E025 and W008 tell the rest).
    if isinstance(types, list | tuple) and types and all(isinstance(typ, str) for typ in types):
        accepted = frozenset(normalize_type(typ) for typ in types)
    else:
        accepted = frozenset({"at+jwt"})
    defaults = FetchPolicy()
    policy = FetchPolicy(
        cache_seconds=_number(cache_seconds, defaults.cache_seconds),
        refetch_interval=_number(refetch_interval, defaults.refetch_interval),
        max_stale=_number(max_stale, defaults.max_stale),
        timeout=_number(timeout, defaults.timeout) or defaults.timeout,
        max_size=int(_number(max_size, defaults.max_size)),
        allow_http=allow_http,
    )
    if not isinstance(clock_skew, int) or isinstance(clock_skew, bool) or clock_skew < 0:
        clock_skew = 0
    return JWTSettings(MappingProxyType(configs), accepted, policy, clock_skew)


def _number(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return value
    return default


# -- parsing -------------------------------------------------------------------------------------


class _NotAJWT(Exception):
    pass


# RFC 7515 §4 / RFC 7519 §4: duplicate member names refused (as for proofs), NaN/Infinity too.
_JSON = STRICT_JSON


def _b64url(segment: str) -> bytes:
    data = segment.encode("ascii")
    return a2b_base64(data.translate(_FROM_BASE64URL) + _PADDING[len(data) & 3], strict_mode=True)


def _json_object(segment: str) -> dict[str, Any]:
    """A base64url JSON object (RFC 7515 §7.2): strict base64url, UTF-8, plain JSON, else _NotAJWT."""
    try:
        value = _JSON.decode(_b64url(segment).decode("utf-8"))
    except (ValueError, RecursionError):  # binascii.Error, UnicodeError, JSONDecodeError
        raise _NotAJWT from None
    if not isinstance(value, dict):
        raise _NotAJWT
    return value


@dataclass(frozen=True, slots=True)
class _Header:
    alg: object
    kid: object
    typ: object
    crit: bool


@lru_cache(maxsize=256)
def _header(segment: str) -> _Header:
    # Cached by the base64url text: the tokens of one issuer key share one header.
    header = _json_object(segment)
    if "alg" not in header:
        raise _NotAJWT  # RFC 7515 §4.1.1: every JWS header has alg
    # No typ at all reads as "" (listed in DPOP_JWT_ACCEPTED_TYPES only by choice); a typ of
    # null, or of any other non-string, stays what it is and is refused.
    return _Header(header.get("alg"), header.get("kid"), header.get("typ", ""), "crit" in header)


def _is_number(value: object) -> bool:
    # RFC 7519 §2 NumericDate: a JSON number. An int of any size compares exactly with a float
    # (math.isfinite would raise OverflowError beyond 1e308: a 503 for a token of a trusted
    # issuer); a float must be finite.
    if type(value) is int:
        return True
    return type(value) is float and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class _Checked:
    """A token whose signature and time-independent claims passed (what a repeat skips)."""

    settings: JWTSettings  # the parsed settings it was checked under (identity)
    config: IssuerConfig
    kid: str | None
    alg: str
    key: Any  # the key object that verified the signature
    auth: TokenClaims
    jkt: str | None
    scopes: frozenset[str]
    exp: float
    nbf: float | None
    iat: float | None


class _VerifiedTokens:
    """Tokens that verified, with the key object that verified them (bounded LRU, thread-safe).

    A client sends one access token with many requests: its signature, header and claim types
    are checked once; a repeat reuses that work only under the same parsed settings and while
    the issuer's current key set still yields that very key object (a refreshed set builds new
    objects, so every token is verified again against it). The time claims (``exp``, ``nbf``,
    ``iat``), the scheme's binding rule and :meth:`JWTTokenValidator.check_claims` run on every
    request. Only successes are kept: a forged token is verified (and refused) each time.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._tokens: OrderedDict[str, _Checked] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> _Checked | None:
        with self._lock:
            checked = self._tokens.get(token)
            if checked is not None:
                self._tokens.move_to_end(token)
            return checked

    def add(self, token: str, checked: _Checked) -> None:
        with self._lock:
            self._tokens[token] = checked
            self._tokens.move_to_end(token)
            while len(self._tokens) > self.size:
                self._tokens.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


_verified = _VerifiedTokens()


# -- the validator -------------------------------------------------------------------------------


class JWTTokenValidator(AccessTokenValidator):
    """RFC 9068 JWT access tokens of the issuers in ``DPOP_JWT_ISSUERS``, verified locally.

    ``request.auth`` is a :class:`~django_dpop.tokens.base.TokenClaims` (every claim, ``scope``,
    ``source="jwt"``); ``request.user`` is what :meth:`get_user` returns. Subclass to map users
    your way, or to add claim checks (:meth:`check_claims`).
    """

    #: The key cache (shared by every instance; a subclass may give its own).
    cache: JWKSCache = jwks_cache

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> ValidatedToken | None:
        # RFC 7515 §7.1 compact serialization: three base64url parts (a JWE has five).
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            return None
        settings = jwt_settings()
        checked = _verified.get(token)
        if (
            checked is None
            or checked.settings is not settings
            or (self._key(checked.config, checked.kid, checked.alg, settings) is not checked.key)
        ):
            checked = self._verify(token, settings)
            if checked is None:
                return None
            _verified.add(token, checked)
        return self._result(checked, request, scheme, settings)

    def _verify(self, token: str, settings: JWTSettings) -> _Checked | None:
        header_segment, payload_segment, signature_segment = token.split(".")
        try:
            header = _header(header_segment)
            claims = _json_object(payload_segment)
        except _NotAJWT:
            return None
        iss = claims.get("iss")
        config = settings.issuers.get(iss) if isinstance(iss, str) else None
        if config is None:
            return None  # not an issuer of ours: another validator may know the token
        alg = self._check_header(header, config, settings)
        kid = header.kid
        key = self._key(config, kid, alg, settings)  # type: ignore[arg-type]
        # The signature, with the algorithm pinned to the allowlisted header alg and the key
        # chosen for it (RFC 8725 §3.1: a public key never becomes an HMAC secret).
        try:
            signature = _b64url(signature_segment)
            valid = _ALGORITHMS[alg].verify(
                f"{header_segment}.{payload_segment}".encode("ascii"), key, signature
            )
        except Exception:
            valid = False
        if valid is not True:
            raise InvalidToken("access token signature is invalid")
        jkt, scope = self._check_claims(claims, config)
        return _Checked(
            settings=settings,
            config=config,
            kid=kid,  # type: ignore[arg-type]
            alg=alg,
            key=key,
            auth=TokenClaims(claims=MappingProxyType(claims), scope=scope, source="jwt"),
            jkt=jkt,
            scopes=frozenset(scope.split()),
            exp=claims["exp"],
            nbf=claims.get("nbf"),
            iat=claims.get("iat"),
        )

    def _result(
        self, checked: _Checked, request: HttpRequest, scheme: str, settings: JWTSettings
    ) -> ValidatedToken:
        now = time.time()
        skew = settings.clock_skew
        # RFC 7519 §4.1.4: refused at or after exp.
        if now >= checked.exp + skew:
            raise InvalidToken("access token expired")
        # RFC 7519 §4.1.5: not before nbf.
        if checked.nbf is not None and now + skew < checked.nbf:
            raise InvalidToken("access token not yet valid (nbf)")
        # RFC 7519 §4.1.6: a token issued in the future is refused.
        if checked.iat is not None and checked.iat > now + skew:
            raise InvalidToken("access token issued in the future (iat)")
        if checked.jkt is None and scheme == "dpop":
            # RFC 9449 §7.1: a token presented with the DPoP scheme must be DPoP-bound.
            raise InvalidToken("access token is not DPoP-bound (no cnf.jkt)")
        claims = checked.auth.claims
        self.check_claims(claims, request=request, scheme=scheme)
        return ValidatedToken(
            auth=checked.auth, user=self.get_user(claims), jkt=checked.jkt, scopes=checked.scopes
        )

    # -- hooks -------------------------------------------------------------------------------------

    def get_user(self, claims: Mapping[str, Any]) -> Any:
        """The user of ``request.user`` for a valid token; ``None`` for none (AnonymousUser).

        Default: ``None``, unless the issuer's entry has ``user_field``: then the active user
        whose ``user_field`` equals ``sub`` (``sub`` is unique per issuer only, RFC 9068 §2.2,
        so map one issuer per field). An unknown or inactive user is ``None``, the token stays
        valid (a client-credentials token has no user either).
        """
        config = jwt_settings().issuers.get(claims.get("iss"))  # type: ignore[arg-type]
        sub = claims.get("sub")
        if config is None or config.user_field is None or not isinstance(sub, str):
            return None
        from django.contrib.auth import get_user_model

        model = get_user_model()
        try:
            user = model._default_manager.get(**{config.user_field: sub})
        except (model.DoesNotExist, model.MultipleObjectsReturned):
            return None
        return user if getattr(user, "is_active", True) else None

    def check_claims(self, claims: Mapping[str, Any], *, request: HttpRequest, scheme: str) -> None:
        """Extra checks of a subclass (raise :class:`InvalidToken`); the default has none."""

    # -- checks ------------------------------------------------------------------------------------

    def _check_header(self, header: _Header, config: IssuerConfig, settings: JWTSettings) -> str:
        typ = header.typ  # "" for no typ (accepted only when listed)
        # RFC 9068 §4: the resource server MUST verify typ is at+jwt (application/at+jwt), so a
        # signed ID token or another JWT of the same issuer never passes as an access token.
        if not isinstance(typ, str) or normalize_type(typ) not in settings.accepted_types:
            raise InvalidToken("access token typ is not at+jwt (RFC 9068 §4)")
        alg = header.alg
        # RFC 9068 §4 / RFC 8725 §3.1: only the issuer's allowlisted asymmetric algorithms.
        if not isinstance(alg, str) or alg not in config.algorithms or alg not in ASYMMETRIC_ALGORITHMS:
            raise InvalidToken("access token alg is not allowed")
        if header.crit:
            raise InvalidToken("access token has unsupported crit header parameters (RFC 7515 §4.1.11)")
        kid = header.kid
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("access token kid is not a string (RFC 7515 §4.1.4)")
        return alg

    def _key(self, config: IssuerConfig, kid: Any, alg: str, settings: JWTSettings) -> Any:
        if config.static_keys is not None:
            found = config.static_keys.find(kid, alg)
            if found is None:
                raise InvalidToken("no signing key of the issuer matches the token's kid and alg")
            return found.key
        assert config.source is not None
        return self.cache.get_key(config.source, kid, alg, settings.policy).key

    def _check_claims(self, claims: dict[str, Any], config: IssuerConfig) -> tuple[str | None, str]:
        """The checks that do not depend on the time or the request; returns (jkt, scope)."""
        # RFC 9068 §2.2 / §4: exp is required; exp, nbf, iat are NumericDates (RFC 7519 §2).
        if not _is_number(claims.get("exp")):
            raise InvalidToken("access token has no valid exp")
        if "nbf" in claims and not _is_number(claims["nbf"]):
            raise InvalidToken("access token not yet valid (nbf is not a number)")
        if "iat" in claims and not _is_number(claims["iat"]):
            raise InvalidToken("access token issued in the future (iat is not a number)")
        aud = claims.get("aud")
        # RFC 9068 §4: aud MUST contain an identifier this resource server expects for itself
        # (RFC 7519 §4.1.3: a string or an array of strings).
        audiences = (aud,) if isinstance(aud, str) else aud
        if not isinstance(audiences, list | tuple) or not any(
            isinstance(item, str) and item in config.audiences for item in audiences
        ):
            raise InvalidToken("access token is not for this resource (aud)")
        for name in ("sub", "client_id", "azp", "jti"):
            value = claims.get(name)
            if value is not None and not isinstance(value, str):
                raise InvalidToken(f"access token {name} is not a string (RFC 9068 §2.2)")
        # RFC 9068 §2.2.3: scope is the space-separated string of RFC 8693 §4.2 (the array and
        # scp forms of other servers are read too: scope_of).
        scope = scope_of(claims)
        if scope is None:
            raise InvalidToken("access token scope is malformed (RFC 9068 §2.2.3)")
        jkt: str | None = None
        cnf = claims.get("cnf")
        if cnf is not None:
            # RFC 9449 §6.1: the binding is cnf.jkt. Another confirmation method (an RFC 8705
            # certificate thumbprint...) cannot be checked here: refused rather than ignored.
            jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
            if not isinstance(jkt, str) or not jkt:
                raise InvalidToken("access token cnf has no jkt (RFC 9449 §6.1)")
        return jkt, scope
