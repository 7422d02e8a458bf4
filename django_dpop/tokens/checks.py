"""System checks of the JWT access-token settings (ids ``django_dpop.E020``-``E029``, ``W007``-``W009``).

The issuer entries are checked by the parser the validator itself uses
(:func:`~django_dpop.tokens.jwt.parse_issuer`), so the checks and the validator agree: an entry
reported here is ignored at request time (its tokens are trusted by no one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from ..conf import conf
from .jwt import ISSUER_OPTIONS, normalize_type, parse_algorithms, parse_issuer


class Codes:
    """The stable ids of the JWT checks; each id is used by exactly one rule."""

    ISSUERS_TYPE = "django_dpop.E020"
    ISSUER_ENTRY = "django_dpop.E021"
    ISSUER_HTTP = "django_dpop.E022"
    ALGORITHMS = "django_dpop.E023"
    AUDIENCE = "django_dpop.E024"
    ACCEPTED_TYPES = "django_dpop.E025"
    JWKS_NUMBERS = "django_dpop.E026"
    ALLOW_HTTP = "django_dpop.E027"
    ISSUER_DUPLICATE = "django_dpop.E028"
    ALLOW_HTTP_IN_PRODUCTION = "django_dpop.W007"
    ACCEPTS_PLAIN_JWT = "django_dpop.W008"
    REFETCH_AFTER_EXPIRY = "django_dpop.E029"
    VALIDATOR_NOT_LISTED = "django_dpop.W009"


_ISSUER_HINT = (
    "Each entry: {'issuer': 'https://as.example.com', and one of 'jwks_uri': 'https://...', "
    "'discovery': True, 'keys': [public JWKs]; optional 'audience', 'algorithms', 'user_field'}."
)
_ALGORITHMS_HINT = "Asymmetric JWS algorithms only, e.g. ['RS256', 'ES256', 'PS256', 'EdDSA'] (RFC 9068 §4)."


def check_jwt_settings(**kwargs: Any) -> list[CheckMessage]:
    """Return the errors and warnings of the ``DPOP_JWT_*`` / ``DPOP_JWKS_*`` settings."""
    messages: list[CheckMessage] = []
    messages += _check_allow_http()
    messages += _check_algorithms()
    messages += _check_types()
    messages += _check_numbers()
    messages += _check_issuers()
    messages += _check_validator_listed()
    return messages


def _check_validator_listed() -> list[CheckMessage]:
    if not conf.DPOP_JWT_ISSUERS:
        return []
    from .jwt import JWTTokenValidator

    entries = conf.DPOP_TOKEN_VALIDATORS
    for entry in entries if isinstance(entries, list | tuple) else ():
        try:
            target = import_string(entry) if isinstance(entry, str) else entry
        except ImportError:
            continue  # django_dpop.E017 reports it
        if isinstance(target, JWTTokenValidator) or (
            isinstance(target, type) and issubclass(target, JWTTokenValidator)
        ):
            return []
    return [
        Warning(
            "DPOP_JWT_ISSUERS is set but DPOP_TOKEN_VALIDATORS lists no JWTTokenValidator: JWT access "
            "tokens are refused (unless a view lists it in its own token_validators).",
            hint="Add 'django_dpop.tokens.jwt.JWTTokenValidator' to DPOP_TOKEN_VALIDATORS, or silence "
            "django_dpop.W009 when only some views use it.",
            id=Codes.VALIDATOR_NOT_LISTED,
        )
    ]


def _check_allow_http() -> list[CheckMessage]:
    value = conf.DPOP_JWKS_ALLOW_HTTP
    if not isinstance(value, bool):
        return [
            Error(
                f"DPOP_JWKS_ALLOW_HTTP must be True or False, not {value!r}.",
                hint="False (the default) fetches keys and metadata over HTTPS only.",
                id=Codes.ALLOW_HTTP,
            )
        ]
    if value and not settings.DEBUG:
        return [
            Warning(
                "DPOP_JWKS_ALLOW_HTTP is True with DEBUG off: signing keys fetched over plain HTTP "
                "can be replaced on the way, and with them every token.",
                hint="Use it for local development only; serve JWKS and metadata over HTTPS.",
                id=Codes.ALLOW_HTTP_IN_PRODUCTION,
            )
        ]
    return []


def _check_algorithms() -> list[CheckMessage]:
    try:
        parse_algorithms(conf.DPOP_JWT_ALGORITHMS, "DPOP_JWT_ALGORITHMS")
    except ValueError as exc:
        return [Error(f"{exc}.", hint=_ALGORITHMS_HINT, id=Codes.ALGORITHMS)]
    return []


def _check_types() -> list[CheckMessage]:
    value = conf.DPOP_JWT_ACCEPTED_TYPES
    if (
        isinstance(value, str)
        or not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(typ, str) for typ in value)
    ):
        return [
            Error(
                f"DPOP_JWT_ACCEPTED_TYPES must be a non-empty list of media types, not {value!r}.",
                hint="['at+jwt'] (RFC 9068 §4), the default; '' stands for a token without typ.",
                id=Codes.ACCEPTED_TYPES,
            )
        ]
    if any(normalize_type(typ) != "at+jwt" for typ in value):
        return [
            Warning(
                f"DPOP_JWT_ACCEPTED_TYPES {list(value)!r} accepts tokens not typed at+jwt: another JWT "
                "of the same issuer (an ID token, a logout token) could pass as an access token.",
                hint="RFC 9068 §4 asks for at+jwt; allow 'JWT' (or '' for no typ) only for an issuer "
                "that cannot set typ, and check that its other JWTs never carry this resource's aud.",
                id=Codes.ACCEPTS_PLAIN_JWT,
            )
        ]
    return []


_NUMBERS = (
    ("DPOP_JWKS_CACHE_SECONDS", True, "How long a fetched key set is fresh, e.g. 300."),
    ("DPOP_JWKS_REFETCH_INTERVAL", False, "At most one fetch per issuer this often, e.g. 30."),
    (
        "DPOP_JWKS_MAX_STALE",
        False,
        "How long past expiry a cached set serves while refreshes fail, e.g. 600.",
    ),
    ("DPOP_JWKS_TIMEOUT", True, "Seconds per fetch, e.g. 5."),
    ("DPOP_JWKS_MAX_SIZE", True, "Octets of a JWKS or metadata document, e.g. 131072."),
)


def _check_numbers() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name, positive, hint in _NUMBERS:
        value = getattr(conf, name)
        valid = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value > 0 if positive else value >= 0)
        )
        if name == "DPOP_JWKS_MAX_SIZE":
            valid = valid and isinstance(value, int)
        if not valid:
            kind = "a positive" if positive else "a non-negative"
            messages.append(
                Error(f"{name} must be {kind} number, not {value!r}.", hint=hint, id=Codes.JWKS_NUMBERS)
            )
    if messages:
        return messages
    if conf.DPOP_JWKS_REFETCH_INTERVAL > conf.DPOP_JWKS_CACHE_SECONDS:
        messages.append(
            Error(
                "DPOP_JWKS_REFETCH_INTERVAL is longer than DPOP_JWKS_CACHE_SECONDS: expired key sets "
                "would be served (stale) until the next fetch is allowed.",
                hint="Keep the refetch interval (e.g. 30) well under the cache lifetime (e.g. 300).",
                id=Codes.REFETCH_AFTER_EXPIRY,
            )
        )
    return messages


def _check_issuers() -> list[CheckMessage]:
    issuers = conf.DPOP_JWT_ISSUERS
    if not isinstance(issuers, list | tuple):
        return [
            Error(
                f"DPOP_JWT_ISSUERS must be a list of issuer entries, not {type(issuers).__name__}.",
                hint=_ISSUER_HINT,
                id=Codes.ISSUERS_TYPE,
            )
        ]
    messages: list[CheckMessage] = []
    seen: set[str] = set()
    audience = conf.DPOP_JWT_AUDIENCE
    for position, entry in enumerate(issuers):
        where = f"DPOP_JWT_ISSUERS[{position}]"
        if not isinstance(entry, Mapping):
            messages.append(Error(f"{where} is not a dict.", hint=_ISSUER_HINT, id=Codes.ISSUERS_TYPE))
            continue
        code = _entry_problem_code(entry, audience)
        try:
            config = parse_issuer(
                entry,
                audience=audience,
                algorithms=conf.DPOP_JWT_ALGORITHMS,
                allow_http=conf.DPOP_JWKS_ALLOW_HTTP is True,
            )
        except ValueError as exc:
            hint = {
                Codes.ISSUER_HTTP: "Use HTTPS, or set DPOP_JWKS_ALLOW_HTTP = True for local development.",
                Codes.ALGORITHMS: _ALGORITHMS_HINT,
                Codes.AUDIENCE: "Set DPOP_JWT_AUDIENCE to this resource server's identifier (RFC 9068 §4), "
                "e.g. 'https://api.example.com', or give the entry an 'audience'.",
            }.get(code, _ISSUER_HINT)
            messages.append(Error(f"{where}: {exc}; its tokens are refused.", hint=hint, id=code))
            continue
        if config.issuer in seen:
            messages.append(
                Error(
                    f"{where}: issuer {config.issuer!r} is listed twice.",
                    hint="One entry per issuer; several keys go into one 'keys' list or JWKS.",
                    id=Codes.ISSUER_DUPLICATE,
                )
            )
        seen.add(config.issuer)
    return messages


def _entry_problem_code(entry: Mapping[str, Any], audience: Any) -> str:
    """Which rule an invalid entry breaks (for its id), judged before parsing."""
    if set(entry) - ISSUER_OPTIONS or not isinstance(entry.get("issuer"), str):
        return Codes.ISSUER_ENTRY
    allow_http = conf.DPOP_JWKS_ALLOW_HTTP is True
    for url in (entry.get("jwks_uri"), entry.get("issuer") if entry.get("discovery") else None):
        if isinstance(url, str) and url.lower().startswith("http://") and not allow_http:
            return Codes.ISSUER_HTTP
    if "algorithms" in entry:
        try:
            parse_algorithms(entry["algorithms"], "algorithms")
        except ValueError:
            return Codes.ALGORITHMS
    if entry.get("audience", audience) in (None, "", [], ()):
        return Codes.AUDIENCE
    return Codes.ISSUER_ENTRY
