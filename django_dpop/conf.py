"""The ``DPOP_*`` settings, read live from ``django.conf.settings`` (so ``override_settings`` works).

Values are validated by the system checks in :mod:`django_dpop.checks`, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .core.policy import DEFAULT_ALGORITHMS, ProofPolicy


DOT_APP = "django_dpop.contrib.oauth2_provider"
DOT_TOKEN_VALIDATOR = "django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator"


# RFC 9068 §4: RS256 is the algorithm every resource server must support; the other asymmetric
# ones are common (Keycloak ES256/PS256, EdDSA). Never "none" nor a MAC.
DEFAULT_JWT_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


_MISSING = object()
# LazySettings keeps ``_wrapped`` in its instance dict, and clears that same dict (never replaces
# it) when ``override_settings`` swaps the settings object: reading it there skips LazyObject's
# Python-level ``__getattribute__`` on every settings read.
_LAZY_SETTINGS_DICT: dict[str, Any] = object.__getattribute__(django_settings, "__dict__")


class _SettingsSnapshot:
    """Django's settings as this module reads them: each name looked up once, then remembered.

    A protected request reads about ten ``DPOP_*`` settings, most of them unset (their defaults
    apply), and every read of an unset name walks Django's settings chain to an AttributeError.
    Here a value, or its absence, is remembered for as long as Django's settings object stays
    the same one: ``override_settings`` (and pytest-django's ``settings``, deletions included)
    swaps that object on enter and exit, and ``setting_changed`` forgets too. So reads stay live
    under overrides; only a value assigned to ``django.conf.settings`` at runtime outside them
    (which Django does not support either) is not seen.
    """

    __slots__ = ("_source", "_values")

    def __init__(self) -> None:
        self.forget()

    def __getattr__(self, name: str) -> Any:
        source = _LAZY_SETTINGS_DICT.get("_wrapped")
        if source is not self._source:
            self._values = {}
            self._source = source
        values = self._values
        try:
            value = values[name]
        except KeyError:
            value = values[name] = getattr(django_settings, name, _MISSING)
        if value is _MISSING:
            raise AttributeError(name)
        return value

    def memo(self, key: tuple[str, ...], build: Callable[[], Any]) -> Any:
        """``build()``, remembered as the settings are (until Django's settings object changes).

        For what is derived from settings on every request (the proof policy, the replay
        store): ``key`` is a tuple, so it never meets a setting's name.
        """
        source = _LAZY_SETTINGS_DICT.get("_wrapped")
        if source is not self._source:
            self._values = {}
            self._source = source
        values: dict[Any, Any] = self._values
        try:
            return values[key]
        except KeyError:
            value = values[key] = build()
            return value

    def forget(self) -> None:
        self._values: dict[Any, Any] = {}
        self._source: Any = None


settings = _SettingsSnapshot()


class Settings:
    """Shadow Django's settings with the defaults of django-dpop."""

    @property
    def DPOP_ALLOWED_ALGORITHMS(self) -> Sequence[str]:
        return getattr(settings, "DPOP_ALLOWED_ALGORITHMS", DEFAULT_ALGORITHMS)

    @property
    def DPOP_CLOCK_SKEW(self) -> int:
        return getattr(settings, "DPOP_CLOCK_SKEW", 60)

    @property
    def DPOP_PROOF_MAX_AGE(self) -> int:
        return getattr(settings, "DPOP_PROOF_MAX_AGE", 300)

    @property
    def DPOP_NONCE_REQUIRED(self) -> bool:
        return getattr(settings, "DPOP_NONCE_REQUIRED", False)

    @property
    def DPOP_NONCE_ON_EVERY_RESPONSE(self) -> bool:
        return getattr(settings, "DPOP_NONCE_ON_EVERY_RESPONSE", False)

    @property
    def DPOP_NONCE_LIFETIME(self) -> int:
        return getattr(settings, "DPOP_NONCE_LIFETIME", 300)

    @property
    def DPOP_REPLAY_STORE(self) -> str | None:
        return getattr(settings, "DPOP_REPLAY_STORE", "django_dpop.storage.DatabaseReplayStore")

    @property
    def DPOP_REPLAY_CACHE(self) -> str:
        return getattr(settings, "DPOP_REPLAY_CACHE", "default")

    @property
    def DPOP_NONCE_STORE(self) -> str:
        return getattr(settings, "DPOP_NONCE_STORE", "django_dpop.storage.DatabaseNonceStore")

    @property
    def DPOP_STORE_TIMEOUT(self) -> float:
        return getattr(settings, "DPOP_STORE_TIMEOUT", 2.0)

    @property
    def DPOP_HTU_BASE_URL(self) -> str | None:
        return getattr(settings, "DPOP_HTU_BASE_URL", None)

    @property
    def DPOP_MAX_PROOF_LENGTH(self) -> int:
        return getattr(settings, "DPOP_MAX_PROOF_LENGTH", 8192)

    @property
    def DPOP_ALLOW_BEARER_TOKENS(self) -> bool:
        return getattr(settings, "DPOP_ALLOW_BEARER_TOKENS", True)

    @property
    def DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS(self) -> bool:
        return getattr(settings, "DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS", False)

    @property
    def DPOP_JWT_ACCESS_TOKEN_AUDIENCE(self) -> str | Sequence[str] | None:
        # The default aud of the JWT access tokens DOT issues (contrib.oauth2_provider.jwt_tokens).
        return getattr(settings, "DPOP_JWT_ACCESS_TOKEN_AUDIENCE", None)

    @property
    def DPOP_TOKEN_VALIDATORS(self) -> Sequence[Any]:
        """Import paths (or classes, or instances) of the access-token validators, in order.

        Default: the DOT validator when the DOT helper app is installed, else none. The path is
        configuration: the base app does not import the contrib, the loader does on first use.
        """
        value = getattr(settings, "DPOP_TOKEN_VALIDATORS", None)
        if value is not None:
            return value
        return [DOT_TOKEN_VALIDATOR] if apps.is_installed(DOT_APP) else []

    @property
    def DPOP_RETRY_AFTER(self) -> int:
        return getattr(settings, "DPOP_RETRY_AFTER", 5)

    # -- JWT access tokens (RFC 9068), django_dpop.tokens.jwt -------------------------------------

    @property
    def DPOP_JWT_ISSUERS(self) -> Sequence[Any]:
        return getattr(settings, "DPOP_JWT_ISSUERS", ())

    @property
    def DPOP_JWT_AUDIENCE(self) -> str | Sequence[str] | None:
        # Default: this resource's identifier, shared with introspection and RFC 9728 metadata.
        return getattr(settings, "DPOP_JWT_AUDIENCE", None) or self.DPOP_RESOURCE_IDENTIFIER

    @property
    def DPOP_JWT_ALGORITHMS(self) -> Sequence[str]:
        return getattr(settings, "DPOP_JWT_ALGORITHMS", DEFAULT_JWT_ALGORITHMS)

    @property
    def DPOP_JWT_ACCEPTED_TYPES(self) -> Sequence[str]:
        return getattr(settings, "DPOP_JWT_ACCEPTED_TYPES", ("at+jwt",))

    @property
    def DPOP_JWKS_CACHE_SECONDS(self) -> float:
        return getattr(settings, "DPOP_JWKS_CACHE_SECONDS", 300)

    @property
    def DPOP_JWKS_REFETCH_INTERVAL(self) -> float:
        return getattr(settings, "DPOP_JWKS_REFETCH_INTERVAL", 30)

    @property
    def DPOP_JWKS_MAX_STALE(self) -> float:
        return getattr(settings, "DPOP_JWKS_MAX_STALE", 600)

    @property
    def DPOP_JWKS_TIMEOUT(self) -> float:
        return getattr(settings, "DPOP_JWKS_TIMEOUT", 5)

    @property
    def DPOP_JWKS_MAX_SIZE(self) -> int:
        return getattr(settings, "DPOP_JWKS_MAX_SIZE", 131072)

    @property
    def DPOP_JWKS_ALLOW_HTTP(self) -> bool:
        return getattr(settings, "DPOP_JWKS_ALLOW_HTTP", False)

    # -- RFC 7662 introspection (django_dpop.tokens.introspection) and RFC 9728 metadata ---------

    @property
    def DPOP_INTROSPECTION_URL(self) -> str | None:
        return getattr(settings, "DPOP_INTROSPECTION_URL", None)

    @property
    def DPOP_INTROSPECTION_AUTH_METHOD(self) -> str:
        return getattr(settings, "DPOP_INTROSPECTION_AUTH_METHOD", "client_secret_basic")

    @property
    def DPOP_INTROSPECTION_CLIENT_ID(self) -> str | None:
        return getattr(settings, "DPOP_INTROSPECTION_CLIENT_ID", None)

    @property
    def DPOP_INTROSPECTION_CLIENT_SECRET(self) -> str | None:
        return getattr(settings, "DPOP_INTROSPECTION_CLIENT_SECRET", None)

    @property
    def DPOP_INTROSPECTION_BEARER_TOKEN(self) -> str | None:
        return getattr(settings, "DPOP_INTROSPECTION_BEARER_TOKEN", None)

    @property
    def DPOP_INTROSPECTION_TIMEOUT(self) -> float:
        return getattr(settings, "DPOP_INTROSPECTION_TIMEOUT", 5)

    @property
    def DPOP_INTROSPECTION_CACHE_SECONDS(self) -> int:
        return getattr(settings, "DPOP_INTROSPECTION_CACHE_SECONDS", 60)

    @property
    def DPOP_INTROSPECTION_CACHE_SIZE(self) -> int:
        return getattr(settings, "DPOP_INTROSPECTION_CACHE_SIZE", 10_000)

    @property
    def DPOP_INTROSPECTION_ALLOW_HTTP(self) -> bool:
        return getattr(settings, "DPOP_INTROSPECTION_ALLOW_HTTP", False)

    @property
    def DPOP_RESOURCE_IDENTIFIER(self) -> str | None:
        return getattr(settings, "DPOP_RESOURCE_IDENTIFIER", None)

    @property
    def DPOP_RESOURCE_AUTHORIZATION_SERVERS(self) -> Sequence[str]:
        return getattr(settings, "DPOP_RESOURCE_AUTHORIZATION_SERVERS", ())

    @property
    def DPOP_RESOURCE_SCOPES_SUPPORTED(self) -> Sequence[str] | None:
        return getattr(settings, "DPOP_RESOURCE_SCOPES_SUPPORTED", None)

    @property
    def DPOP_RESOURCE_METADATA_URL(self) -> str | None:
        return getattr(settings, "DPOP_RESOURCE_METADATA_URL", None)


conf = Settings()


def proof_policy() -> ProofPolicy:
    """Return the :class:`ProofPolicy` of the current settings (built once per settings object)."""
    return settings.memo(("proof_policy",), _current_policy)


def _current_policy() -> ProofPolicy:
    return _policy(
        tuple(conf.DPOP_ALLOWED_ALGORITHMS),
        conf.DPOP_PROOF_MAX_AGE,
        conf.DPOP_CLOCK_SKEW,
        conf.DPOP_NONCE_REQUIRED,
        conf.DPOP_MAX_PROOF_LENGTH,
    )


@lru_cache(maxsize=32)
def _policy(algs: tuple[str, ...], max_age: int, skew: int, nonce: bool, max_length: int) -> ProofPolicy:
    return ProofPolicy(
        allowed_algorithms=algs,
        max_age=max_age,
        clock_skew=skew,
        nonce_required=nonce,
        max_proof_length=max_length,
    )


@lru_cache(maxsize=32)
def _load(path: str) -> Any:
    return import_string(path)


def replay_store() -> Any:
    """Return the instance of ``DPOP_REPLAY_STORE``, or None when replay detection is disabled.

    Built once per settings object (stores keep only their configuration); a class that cannot
    be imported or built raises every time (the caller refuses: fail closed).
    """
    return settings.memo(("replay_store",), _current_replay_store)


def _current_replay_store() -> Any:
    path = conf.DPOP_REPLAY_STORE
    return _load(path)() if path else None


def nonce_store() -> Any:
    """Return an instance of ``DPOP_NONCE_STORE``."""
    return _load(conf.DPOP_NONCE_STORE)()


_VALIDATORS: dict[Any, Any] = {}


def load_token_validator(entry: Any) -> Any:
    """Return the validator instance for one ``DPOP_TOKEN_VALIDATORS`` entry.

    An instance is used as is; an import path or a class is instantiated once (no arguments) and
    cached per entry. Raises ``ImportError`` or ``TypeError`` for an entry that is no
    ``AccessTokenValidator`` (system check ``django_dpop.E017`` reports it at startup).
    """
    from .tokens.base import AccessTokenValidator

    if isinstance(entry, AccessTokenValidator):
        return entry
    try:
        return _VALIDATORS[entry]
    except KeyError:
        pass
    target = import_string(entry) if isinstance(entry, str) else entry
    if not (isinstance(target, type) and issubclass(target, AccessTokenValidator)):
        if isinstance(target, AccessTokenValidator):  # a path naming an instance
            return target
        raise TypeError(f"{entry!r} is not an AccessTokenValidator subclass or instance")
    validator = _VALIDATORS[entry] = target()
    return validator


# The validators of DPOP_TOKEN_VALIDATORS, resolved once (the setting is looked up on every
# protected request otherwise); override_settings and pytest-django's ``settings`` send
# ``setting_changed``, which drops it, so the setting still reads live.
_RESOLVED: dict[str, tuple[Any, ...]] = {}
_RESOLVED_ENTRIES: dict[Any, tuple[Any, ...]] = {}


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    settings.forget()
    if setting in ("DPOP_TOKEN_VALIDATORS", "INSTALLED_APPS"):
        _RESOLVED.clear()
        _RESOLVED_ENTRIES.clear()


setting_changed.connect(_setting_changed)


def token_validators(entries: Sequence[Any] | None = None) -> Sequence[Any]:
    """The validator instances of ``entries`` (default: ``DPOP_TOKEN_VALIDATORS``), in order."""
    if entries is not None:
        # A class's ``token_validators`` (or a decorator's) is resolved once: what an entry
        # names never depends on settings (load_token_validator caches per entry anyway). Only
        # paths and classes are remembered: instances are used as they are, and a caller that
        # builds new ones per request must not grow this table.
        key = tuple(entries)
        try:
            return _RESOLVED_ENTRIES[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable entry: resolved each time
            return [load_token_validator(entry) for entry in entries]
        resolved = tuple(load_token_validator(entry) for entry in entries)
        if all(isinstance(entry, str | type) for entry in key):
            _RESOLVED_ENTRIES[key] = resolved
        return resolved
    try:
        return _RESOLVED["setting"]
    except KeyError:
        pass
    resolved = _RESOLVED["setting"] = tuple(
        load_token_validator(entry) for entry in conf.DPOP_TOKEN_VALIDATORS
    )
    return resolved
