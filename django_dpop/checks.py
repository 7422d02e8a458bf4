"""System checks of the ``DPOP_*`` settings (ids ``django_dpop.E001``...).

Settings are read live and never validated at import (:mod:`django_dpop.conf`); these checks run
at start-up (``manage.py check``, ``runserver``, ``migrate``) and refuse what would make DPoP
insecure or break it at request time. The proof-policy values are validated by
:class:`~django_dpop.core.policy.ProofPolicy` itself, so the checks and the verifier agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from .conf import conf
from .core.policy import ASYMMETRIC_ALGORITHMS, ProofPolicy


# A proof older than this is a long replay window; RFC 9449 §11.1 speaks of "minutes" at most.
MAX_AGE_WARNING = 600
# The skew widens the window at both ends (iat up to skew in the future, max_age + skew in the
# past): a larger one lets a client, or malware holding its key, pre-date proofs (RFC 9449 §11.2).
CLOCK_SKEW_WARNING = 300

_ALGORITHMS_HINT = (
    "Use asymmetric JWS algorithms only, e.g. ('ES256', 'Ed25519', 'PS256'); supported: {}.".format(
        ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
    )
)


class Codes:
    """The stable ids of every message; each id is used by exactly one rule."""

    ALGORITHMS_TYPE = "django_dpop.E001"
    ALGORITHM_FORBIDDEN = "django_dpop.E002"
    CLOCK_SKEW = "django_dpop.E003"
    MAX_AGE = "django_dpop.E004"
    NONCE_REQUIRED = "django_dpop.E005"
    NONCE_LIFETIME = "django_dpop.E006"
    REPLAY_STORE = "django_dpop.E007"
    REPLAY_CACHE_PER_PROCESS = "django_dpop.E008"
    REPLAY_CACHE_ALIAS = "django_dpop.E009"
    NONCE_STORE = "django_dpop.E010"
    HTU_BASE_URL = "django_dpop.E011"
    HTU_BASE_URL_PARTS = "django_dpop.E012"
    MAX_PROOF_LENGTH = "django_dpop.E013"
    ALLOW_BEARER_TOKENS = "django_dpop.E014"
    BIND_CONFIDENTIAL_REFRESH_TOKENS = "django_dpop.E015"
    MAX_AGE_LONG = "django_dpop.W001"
    REPLAY_DISABLED = "django_dpop.W002"
    NONCE_ROLLED_BACK = "django_dpop.W003"
    CLOCK_SKEW_LARGE = "django_dpop.W004"
    STORE_TIMEOUT = "django_dpop.E040"
    REPLAY_CACHE_NO_SOCKET_TIMEOUT = "django_dpop.W013"
    REPLAY_CACHE_EVICTS = "django_dpop.W014"
    REPLAY_CACHE_SNAPSHOTS = "django_dpop.W015"
    CORS_REQUEST_HEADERS = "django_dpop.W016"
    CORS_EXPOSE_HEADERS = "django_dpop.W017"
    NONCE_ON_EVERY_RESPONSE = "django_dpop.E050"


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    """Return the errors and warnings of the current ``DPOP_*`` settings."""
    messages: list[CheckMessage] = []
    for check in _CHECKS:
        messages.extend(check())
    return messages


def _policy_error(**values: Any) -> str | None:
    """Return why :class:`ProofPolicy` refuses ``values`` (the verifier's own rule), else None."""
    try:
        ProofPolicy(**values)
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def _check_algorithms() -> list[CheckMessage]:
    value = conf.DPOP_ALLOWED_ALGORITHMS
    if (
        isinstance(value, str | bytes)
        or not isinstance(value, Sequence)
        or not value
        or not all(isinstance(alg, str) for alg in value)
    ):
        return [
            Error(
                "DPOP_ALLOWED_ALGORITHMS must be a non-empty sequence of algorithm names.",
                hint=_ALGORITHMS_HINT,
                id=Codes.ALGORITHMS_TYPE,
            )
        ]
    # RFC 9449 §4.3 check 5: never "none", never a MAC (HS256...), nothing unknown.
    return [
        Error(
            f"DPOP_ALLOWED_ALGORITHMS contains {alg!r}: {reason}.",
            hint=_ALGORITHMS_HINT,
            id=Codes.ALGORITHM_FORBIDDEN,
        )
        for alg in dict.fromkeys(value)
        if (reason := _policy_error(allowed_algorithms=(alg,))) is not None
    ]


def _check_clock_skew() -> list[CheckMessage]:
    value = conf.DPOP_CLOCK_SKEW
    if _policy_error(clock_skew=value) is not None:
        return [
            Error(
                f"DPOP_CLOCK_SKEW must be a non-negative integer (seconds), not {value!r}.",
                hint="The tolerated clock difference with clients, e.g. 60.",
                id=Codes.CLOCK_SKEW,
            )
        ]
    if value > CLOCK_SKEW_WARNING:
        return [
            Warning(
                f"DPOP_CLOCK_SKEW is {value} s: a proof dated that far in the future is accepted, "
                "and stays usable for the whole window after it.",
                hint=f"RFC 9449 §11.1-11.2 asks for a short window: use at most {CLOCK_SKEW_WARNING}.",
                id=Codes.CLOCK_SKEW_LARGE,
            )
        ]
    return []


def _check_max_age() -> list[CheckMessage]:
    value = conf.DPOP_PROOF_MAX_AGE
    if _policy_error(max_age=value) is not None:
        return [
            Error(
                f"DPOP_PROOF_MAX_AGE must be a positive integer (seconds), not {value!r}.",
                hint="How long after its iat a proof is accepted, e.g. 300.",
                id=Codes.MAX_AGE,
            )
        ]
    if value > MAX_AGE_WARNING:
        return [
            Warning(
                f"DPOP_PROOF_MAX_AGE is {value} s: a stolen proof stays usable that long.",
                hint=f"RFC 9449 §11.1 suggests a window of seconds to minutes; use at most {MAX_AGE_WARNING}.",
                id=Codes.MAX_AGE_LONG,
            )
        ]
    return []


def _check_bool(name: str, code: str, hint: str) -> Callable[[], list[CheckMessage]]:
    def check() -> list[CheckMessage]:
        value = getattr(conf, name)
        if isinstance(value, bool):
            return []
        return [Error(f"{name} must be True or False, not {value!r}.", hint=hint, id=code)]

    return check


def _check_nonce_lifetime() -> list[CheckMessage]:
    value = conf.DPOP_NONCE_LIFETIME
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return []
    return [
        Error(
            f"DPOP_NONCE_LIFETIME must be a positive integer (seconds), not {value!r}.",
            hint="A nonce rotates every lifetime / 2 seconds and is accepted up to its lifetime, e.g. 300.",
            id=Codes.NONCE_LIFETIME,
        )
    ]


def _check_max_proof_length() -> list[CheckMessage]:
    value = conf.DPOP_MAX_PROOF_LENGTH
    if _policy_error(max_proof_length=value) is None and value > 0:
        return []
    return [
        Error(
            f"DPOP_MAX_PROOF_LENGTH must be a positive integer (characters), not {value!r}.",
            hint="Longer DPoP headers are refused before any parsing, e.g. 8192 (an RSA-4096 proof is ~2000).",
            id=Codes.MAX_PROOF_LENGTH,
        )
    ]


def _check_store_timeout() -> list[CheckMessage]:
    value = conf.DPOP_STORE_TIMEOUT
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return []
    return [
        Error(
            f"DPOP_STORE_TIMEOUT must be a positive number (seconds), not {value!r}.",
            hint="How long a replay, nonce or token query may wait (on a lock) before the request "
            "is refused with 503, e.g. 2.",
            id=Codes.STORE_TIMEOUT,
        )
    ]


def _import_store(name: str, method: str) -> tuple[type | None, str | None]:
    """Import the store class setting ``name``; return (class, None) or (None, why not)."""
    path = getattr(conf, name)
    if not isinstance(path, str) or not path:
        return None, f"{name} must be a dotted import path, not {path!r}."
    try:
        store = import_string(path)
    except ImportError as exc:
        return None, f"{name} {path!r} cannot be imported: {exc}."
    if not isinstance(store, type) or not callable(getattr(store, method, None)):
        return None, f"{name} {path!r} is not a class with a {method}() method."
    return store, None


def _check_replay_store() -> list[CheckMessage]:
    if conf.DPOP_REPLAY_STORE is None:
        return [
            Warning(
                "DPOP_REPLAY_STORE is None: replay detection is disabled, a captured proof can be "
                "replayed within its window.",
                hint="RFC 9449 §11.1: use 'django_dpop.storage.DatabaseReplayStore' (the default) or "
                "'django_dpop.storage.CacheReplayStore' with a shared cache.",
                id=Codes.REPLAY_DISABLED,
            )
        ]
    store, problem = _import_store("DPOP_REPLAY_STORE", "check_and_add")
    if store is None:
        return [
            Error(
                problem,
                hint="'django_dpop.storage.DatabaseReplayStore', 'django_dpop.storage.CacheReplayStore', "
                "None to disable (not recommended), or a class implementing "
                "django_dpop.core.stores.ReplayStore.",
                id=Codes.REPLAY_STORE,
            )
        ]
    from .storage import CacheReplayStore

    return _check_replay_cache() if issubclass(store, CacheReplayStore) else []


def _check_replay_cache() -> list[CheckMessage]:
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.filebased import FileBasedCache
    from django.core.cache.backends.locmem import LocMemCache

    alias = conf.DPOP_REPLAY_CACHE
    if not isinstance(alias, str) or alias not in settings.CACHES:
        return [
            Error(
                f"DPOP_REPLAY_CACHE {alias!r} is not a cache alias in CACHES.",
                hint=f"Name one of {sorted(settings.CACHES)}, a shared cache such as Redis.",
                id=Codes.REPLAY_CACHE_ALIAS,
            )
        ]
    try:
        backend = import_string(settings.CACHES[alias]["BACKEND"])
    except (ImportError, KeyError):
        return []  # Django's own cache checks and first use report a broken backend
    # Per-process caches let a replay through another worker (LocMem), accept every replay
    # (Dummy), or have a non-atomic add (FileBased): none of them can detect replays.
    if isinstance(backend, type) and issubclass(backend, LocMemCache | DummyCache | FileBasedCache):
        return [
            Error(
                f"DPOP_REPLAY_STORE is CacheReplayStore but cache {alias!r} uses {backend.__name__}, "
                "which is not shared between processes or has no atomic add().",
                hint="Point DPOP_REPLAY_CACHE at a Redis or Memcached cache, or use "
                "'django_dpop.storage.DatabaseReplayStore'.",
                id=Codes.REPLAY_CACHE_PER_PROCESS,
            )
        ]
    return _check_replay_cache_timeouts(alias, backend)


# Redis clients wait without bound unless told otherwise: Django's RedisCache passes OPTIONS to
# redis-py (lower case), django-redis has its own upper-case names.
_SOCKET_TIMEOUT_OPTIONS = (
    ("socket_timeout", "socket_connect_timeout"),
    ("SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT"),
)


def _check_replay_cache_timeouts(alias: str, backend: Any) -> list[CheckMessage]:
    name = f"{getattr(backend, '__module__', '')}.{getattr(backend, '__name__', '')}"
    if "redis" not in name.lower():
        return []
    options = settings.CACHES[alias].get("OPTIONS") or {}
    if any(all(options.get(key) for key in keys) for keys in _SOCKET_TIMEOUT_OPTIONS):
        return []
    return [
        Warning(
            f"The DPoP replay cache {alias!r} has no socket timeouts: a Redis that hangs (or a "
            "lost connection) makes every DPoP request wait until the web server kills it.",
            hint="Set OPTIONS {'socket_timeout': 2, 'socket_connect_timeout': 2} (django-redis: "
            "SOCKET_TIMEOUT, SOCKET_CONNECT_TIMEOUT); a timed-out call is refused with 503.",
            id=Codes.REPLAY_CACHE_NO_SOCKET_TIMEOUT,
        )
    ]


def check_replay_cache_server(**kwargs: Any) -> list[CheckMessage]:
    """Deployment check (``manage.py check --deploy``): ask the replay Redis how it keeps data.

    Connects to the server, so it runs only with ``--deploy``; a server that refuses ``INFO`` or
    ``CONFIG GET`` (some managed services) is not reported.
    """
    from .storage import CacheReplayStore

    store, problem = _import_store("DPOP_REPLAY_STORE", "check_and_add")
    if store is None or not issubclass(store, CacheReplayStore) or _check_replay_cache():
        return []
    try:
        from django.core.cache import caches
        from django.core.cache.backends.redis import RedisCache

        cache = caches[conf.DPOP_REPLAY_CACHE]
        if isinstance(cache, RedisCache):
            client = cache._cache.get_client(write=True)
        elif callable(getattr(getattr(cache, "client", None), "get_client", None)):  # django-redis
            client = cache.client.get_client(write=True)
        else:
            return []
        memory = client.info("memory")
        persistence = client.info("persistence")
    except Exception:  # unreachable, or INFO refused: nothing to say
        return []
    messages: list[CheckMessage] = []
    policy = memory.get("maxmemory_policy", "noeviction")
    if policy != "noeviction":
        messages.append(
            Warning(
                f"The DPoP replay Redis has maxmemory-policy {policy!r}: when full it evicts "
                "remembered proofs, which can then be replayed (the store cannot tell).",
                hint="Use maxmemory-policy noeviction on the replay Redis (a full Redis then "
                "refuses writes: 503, fail closed), or a Redis of its own.",
                id=Codes.REPLAY_CACHE_EVICTS,
            )
        )
    if not persistence.get("aof_enabled"):
        try:
            save = client.config_get("save").get("save", "")
        except Exception:
            save = ""
        if save:
            messages.append(
                Warning(
                    f"The DPoP replay Redis persists by RDB snapshots only (save {save!r}): a "
                    "restart restores an older snapshot with the store's state marker, so proofs "
                    "accepted since that snapshot can be replayed undetected.",
                    hint="Use appendonly yes (appendfsync always, or everysec: at most one "
                    "second lost), or no persistence at all (save '', appendonly no): a restart "
                    "then empties the store, which it detects and refuses old proofs.",
                    id=Codes.REPLAY_CACHE_SNAPSHOTS,
                )
            )
    return messages


def _check_nonce_store() -> list[CheckMessage]:
    store, problem = _import_store("DPOP_NONCE_STORE", "check")
    if store is not None and callable(getattr(store, "issue", None)):
        return _check_nonce_transactions(store)
    return [
        Error(
            problem or f"DPOP_NONCE_STORE {conf.DPOP_NONCE_STORE!r} is not a class with an issue() method.",
            hint="'django_dpop.storage.DatabaseNonceStore' (the default), "
            "'django_dpop.storage.SignedNonceStore', or a class implementing "
            "django_dpop.core.stores.NonceStore.",
            id=Codes.NONCE_STORE,
        )
    ]


def _check_nonce_transactions(store: type) -> list[CheckMessage]:
    from django.db import connections, router

    from .models import ServerNonce
    from .storage import DatabaseNonceStore

    if conf.DPOP_NONCE_REQUIRED is not True or not issubclass(store, DatabaseNonceStore):
        return []
    alias = router.db_for_write(ServerNonce)
    connection = connections[alias]
    # The nonce minted while refusing a request (use_dpop_nonce) is written in the request's
    # transaction, which a refusal rolls back (DRF's exception handler does): the client's retry
    # is refused again. The store commits it on a second connection, but not on SQLite, where
    # that connection would wait for the first one's lock.
    if connection.vendor != "sqlite" or not connection.settings_dict.get("ATOMIC_REQUESTS"):
        return []
    return [
        Warning(
            f"DatabaseNonceStore writes to the SQLite database {alias!r}, which has ATOMIC_REQUESTS: "
            "a nonce minted while refusing a request is rolled back with it, so clients never get "
            "a nonce that works.",
            hint="Use 'django_dpop.storage.SignedNonceStore', route django_dpop's models to a "
            "database alias without ATOMIC_REQUESTS, or use PostgreSQL.",
            id=Codes.NONCE_ROLLED_BACK,
        )
    ]


def _check_htu_base_url() -> list[CheckMessage]:
    value = conf.DPOP_HTU_BASE_URL
    if value is None or value == "":
        return []
    hint = "The public origin clients use, optionally with a mount path: e.g. 'https://api.example.com'."
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        valid = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
        if valid:
            parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        valid = False
    if not valid or parts is None:
        return [
            Error(
                f"DPOP_HTU_BASE_URL must be an absolute http(s) URL, not {value!r}.",
                hint=hint,
                id=Codes.HTU_BASE_URL,
            )
        ]
    if parts.query or parts.fragment or "?" in value or "#" in value or "@" in parts.netloc:
        return [
            Error(
                f"DPOP_HTU_BASE_URL {value!r} has a query, fragment or user information.",
                hint=hint + " RFC 9449 §4.2: htu has no query and no fragment.",
                id=Codes.HTU_BASE_URL_PARTS,
            )
        ]
    return []


#: django-cors-headers' CORS_ALLOW_HEADERS default (corsheaders.defaults.default_headers), used when
#: the package is not importable; the check never needs it installed.
CORS_DEFAULT_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "user-agent",
    "x-csrftoken",
    "x-requested-with",
)
#: Request headers a browser client must be allowed to send cross-origin (RFC 9449 §4.1, §7.1).
CORS_REQUIRED_REQUEST_HEADERS = ("authorization", "dpop")
#: Response headers it must be able to read to follow use_dpop_nonce (RFC 9449 §8, §9).
CORS_REQUIRED_EXPOSE_HEADERS = ("DPoP-Nonce", "WWW-Authenticate")


def _cors_headers_installed() -> bool:
    from django.apps import apps

    middleware = getattr(settings, "MIDDLEWARE", None) or ()
    return apps.is_installed("corsheaders") or "corsheaders.middleware.CorsMiddleware" in middleware


def _cors_header_names(name: str, default: Sequence[str]) -> set[str] | None:
    """The lower-cased names of setting ``name``; None when it is not a sequence of names."""
    value = getattr(settings, name, default)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset):
        return None  # django-cors-headers' own checks report a malformed value
    return {item.lower() for item in value if isinstance(item, str)}


def _cors_missing(names: set[str], required: Sequence[str], wildcard_covers: Sequence[str]) -> list[str]:
    """Required headers not listed; a ``*`` covers ``wildcard_covers`` only (Fetch: no credentials)."""
    wildcard = "*" in names and getattr(settings, "CORS_ALLOW_CREDENTIALS", False) is not True
    return [
        header
        for header in required
        if header.lower() not in names and not (wildcard and header in wildcard_covers)
    ]


def _check_cors() -> list[CheckMessage]:
    """Browser clients on another origin need django-cors-headers to pass DPoP both ways."""
    if not _cors_headers_installed():
        return []
    try:
        from corsheaders.defaults import default_headers as cors_default_headers
    except ImportError:
        cors_default_headers = CORS_DEFAULT_ALLOW_HEADERS
    messages: list[CheckMessage] = []
    allowed = _cors_header_names("CORS_ALLOW_HEADERS", cors_default_headers)
    # The Fetch standard's "*" never covers Authorization.
    if allowed is not None and (missing := _cors_missing(allowed, CORS_REQUIRED_REQUEST_HEADERS, ("dpop",))):
        messages.append(
            Warning(
                f"django-cors-headers is installed but CORS_ALLOW_HEADERS does not allow {', '.join(missing)}: "
                "browsers on another origin cannot send DPoP proofs or DPoP tokens.",
                hint='Add them: CORS_ALLOW_HEADERS = (*corsheaders.defaults.default_headers, "dpop") '
                "(RFC 9449 §4.1, §7.1).",
                id=Codes.CORS_REQUEST_HEADERS,
            )
        )
    exposed = _cors_header_names("CORS_EXPOSE_HEADERS", ())
    if exposed is not None and (
        missing := _cors_missing(exposed, CORS_REQUIRED_EXPOSE_HEADERS, CORS_REQUIRED_EXPOSE_HEADERS)
    ):
        messages.append(
            Warning(
                f"django-cors-headers is installed but CORS_EXPOSE_HEADERS does not expose {', '.join(missing)}: "
                "browser clients on another origin cannot read the server's nonce or challenge, so they "
                "can never follow use_dpop_nonce.",
                hint='CORS_EXPOSE_HEADERS = ["DPoP-Nonce", "WWW-Authenticate"] (RFC 9449 §8, §9).',
                id=Codes.CORS_EXPOSE_HEADERS,
            )
        )
    return messages


_CHECKS: tuple[Callable[[], list[CheckMessage]], ...] = (
    _check_algorithms,
    _check_clock_skew,
    _check_max_age,
    _check_bool(
        "DPOP_NONCE_REQUIRED",
        Codes.NONCE_REQUIRED,
        "True makes every proof carry a server nonce (RFC 9449 §8, §9).",
    ),
    _check_nonce_lifetime,
    _check_max_proof_length,
    _check_store_timeout,
    _check_replay_store,
    _check_nonce_store,
    _check_htu_base_url,
    _check_bool(
        "DPOP_ALLOW_BEARER_TOKENS",
        Codes.ALLOW_BEARER_TOKENS,
        "False refuses Bearer tokens at DPoP-protected resources.",
    ),
    _check_bool(
        "DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS",
        Codes.BIND_CONFIDENTIAL_REFRESH_TOKENS,
        "True binds refresh tokens of confidential clients to the DPoP key too (RFC 9449 §5).",
    ),
    _check_cors,
    _check_bool(
        "DPOP_NONCE_ON_EVERY_RESPONSE",
        Codes.NONCE_ON_EVERY_RESPONSE,
        "True sends the current DPoP-Nonce on every response to a request with a proof (RFC 9449 §8.2).",
    ),
)
