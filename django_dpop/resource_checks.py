"""System checks of the resource-server settings: RFC 7662 introspection and RFC 9728 metadata.

Ids ``django_dpop.E030``-``E034`` and ``W010``-``W011``. The introspection checks run when
``DPOP_INTROSPECTION_URL`` is set or the introspection validator is listed in
``DPOP_TOKEN_VALIDATORS``; the metadata checks whenever their settings are set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error, Warning

from .conf import conf
from .core.resource_metadata import resource_identifier_error
from .tokens.introspection import AUTH_METHODS, BEARER, IntrospectionTokenValidator


VALIDATOR_PATH = "django_dpop.tokens.introspection.IntrospectionTokenValidator"


class Codes:
    INTROSPECTION_URL = "django_dpop.E030"
    INTROSPECTION_CREDENTIALS = "django_dpop.E031"
    INTROSPECTION_VALUES = "django_dpop.E032"
    RESOURCE_IDENTIFIER = "django_dpop.E033"
    RESOURCE_METADATA = "django_dpop.E034"
    INTROSPECTION_HTTP = "django_dpop.W010"
    INTROSPECTION_NO_AUDIENCE = "django_dpop.W011"


def check_resource_settings(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for check in _CHECKS:
        messages.extend(check())
    return messages


def _introspection_used() -> bool:
    """True when the settings configure an introspection validator.

    That is: ``DPOP_INTROSPECTION_URL`` is set, or an entry of ``DPOP_TOKEN_VALIDATORS`` is the
    validator's path or class (or a subclass), which read the settings. An instance built with
    its own arguments is checked by whoever built it.
    """
    entries = conf.DPOP_TOKEN_VALIDATORS
    if isinstance(entries, list | tuple):
        for entry in entries:
            if entry == VALIDATOR_PATH:
                return True
            if isinstance(entry, type) and issubclass(entry, IntrospectionTokenValidator):
                return True
    return bool(conf.DPOP_INTROSPECTION_URL)


def _url_error(value: Any, *, allow_http: bool) -> str | None:
    if not isinstance(value, str) or not value:
        return "it must be an absolute URL"
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        return f"it is no URL ({exc})"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "it must be an absolute https URL"
    if parts.scheme == "http" and not allow_http:
        return "it must use https (RFC 7662 §4); DPOP_INTROSPECTION_ALLOW_HTTP = True allows http"
    if parts.fragment or parts.username is not None:
        return "it must have no fragment and no user information"
    return None


def _check_introspection_url() -> list[CheckMessage]:
    if not _introspection_used():
        return []
    value = conf.DPOP_INTROSPECTION_URL
    allow_http = conf.DPOP_INTROSPECTION_ALLOW_HTTP is True
    if (reason := _url_error(value, allow_http=allow_http)) is not None:
        return [
            Error(
                f"DPOP_INTROSPECTION_URL is {value!r}: {reason}.",
                hint="The RFC 7662 introspection endpoint of the authorization server, "
                "e.g. 'https://as.example.com/o/introspect/'.",
                id=Codes.INTROSPECTION_URL,
            )
        ]
    if urlsplit(value).scheme == "http":
        return [
            Warning(
                "DPOP_INTROSPECTION_URL uses http: access tokens and the client secret travel in clear.",
                hint="Use https outside local development (RFC 7662 §4).",
                id=Codes.INTROSPECTION_HTTP,
            )
        ]
    return []


def _check_introspection_credentials() -> list[CheckMessage]:
    if not _introspection_used():
        return []
    method = conf.DPOP_INTROSPECTION_AUTH_METHOD
    if method not in AUTH_METHODS:
        return [
            Error(
                f"DPOP_INTROSPECTION_AUTH_METHOD is {method!r}.",
                hint=f"One of {', '.join(AUTH_METHODS)}.",
                id=Codes.INTROSPECTION_CREDENTIALS,
            )
        ]
    if method == BEARER:
        missing = [] if _text(conf.DPOP_INTROSPECTION_BEARER_TOKEN) else ["DPOP_INTROSPECTION_BEARER_TOKEN"]
    else:
        missing = [
            name
            for name in ("DPOP_INTROSPECTION_CLIENT_ID", "DPOP_INTROSPECTION_CLIENT_SECRET")
            if not _text(getattr(conf, name))
        ]
    if missing:
        return [
            Error(
                f"DPOP_INTROSPECTION_AUTH_METHOD {method!r} needs {' and '.join(missing)}.",
                hint="RFC 7662 §2.1: the resource server authenticates to the introspection endpoint.",
                id=Codes.INTROSPECTION_CREDENTIALS,
            )
        ]
    return []


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _check_introspection_values() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    timeout = conf.DPOP_INTROSPECTION_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        messages.append(
            Error(
                f"DPOP_INTROSPECTION_TIMEOUT is {timeout!r}.",
                hint="Seconds, more than 0 and at most 60, e.g. 5.",
                id=Codes.INTROSPECTION_VALUES,
            )
        )
    for name in ("DPOP_INTROSPECTION_CACHE_SECONDS", "DPOP_INTROSPECTION_CACHE_SIZE"):
        value = getattr(conf, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            messages.append(
                Error(
                    f"{name} is {value!r}.",
                    hint="A non-negative integer (0 disables the cache).",
                    id=Codes.INTROSPECTION_VALUES,
                )
            )
    if not isinstance(conf.DPOP_INTROSPECTION_ALLOW_HTTP, bool):
        messages.append(
            Error(
                "DPOP_INTROSPECTION_ALLOW_HTTP must be True or False.",
                hint="True only for local development against an http authorization server.",
                id=Codes.INTROSPECTION_VALUES,
            )
        )
    return messages


def _check_no_audience() -> list[CheckMessage]:
    if not _introspection_used() or conf.DPOP_RESOURCE_IDENTIFIER:
        return []
    return [
        Warning(
            "Introspected tokens are accepted whatever their audience (DPOP_RESOURCE_IDENTIFIER is not set).",
            hint="Set DPOP_RESOURCE_IDENTIFIER to this resource's identifier (RFC 8707, RFC 9728 §2): "
            "a token the authorization server issued for another resource is then refused.",
            id=Codes.INTROSPECTION_NO_AUDIENCE,
        )
    ]


def _check_resource_identifier() -> list[CheckMessage]:
    value = conf.DPOP_RESOURCE_IDENTIFIER
    if value is None:
        return []
    if (reason := resource_identifier_error(value)) is not None:
        return [
            Error(
                f"DPOP_RESOURCE_IDENTIFIER is {value!r}: {reason}.",
                hint="An https URL without fragment (RFC 9728 §1.2, RFC 8707 §2), e.g. 'https://api.example.com'.",
                id=Codes.RESOURCE_IDENTIFIER,
            )
        ]
    return []


def _check_resource_metadata() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    servers = conf.DPOP_RESOURCE_AUTHORIZATION_SERVERS
    if (
        isinstance(servers, str)
        or not isinstance(servers, Sequence)
        or any(resource_identifier_error(server) is not None for server in servers)
    ):
        messages.append(
            Error(
                f"DPOP_RESOURCE_AUTHORIZATION_SERVERS is {servers!r}.",
                hint="A list of issuer identifiers (https URLs, RFC 8414 §2), e.g. ['https://as.example.com'].",
                id=Codes.RESOURCE_METADATA,
            )
        )
    scopes = conf.DPOP_RESOURCE_SCOPES_SUPPORTED
    if scopes is not None and (
        isinstance(scopes, str)
        or not isinstance(scopes, Sequence)
        or not all(isinstance(scope, str) for scope in scopes)
    ):
        messages.append(
            Error(
                f"DPOP_RESOURCE_SCOPES_SUPPORTED is {scopes!r}.",
                hint="None, or a list of scope names, e.g. ['read', 'write'].",
                id=Codes.RESOURCE_METADATA,
            )
        )
    url = conf.DPOP_RESOURCE_METADATA_URL
    if url is not None and resource_identifier_error(url) is not None:
        messages.append(
            Error(
                f"DPOP_RESOURCE_METADATA_URL is {url!r}.",
                hint="The absolute https URL of this resource's metadata document (RFC 9728 §3.1), "
                "e.g. 'https://api.example.com/.well-known/oauth-protected-resource'.",
                id=Codes.RESOURCE_METADATA,
            )
        )
    return messages


_CHECKS: tuple[Callable[[], list[CheckMessage]], ...] = (
    _check_introspection_url,
    _check_introspection_credentials,
    _check_introspection_values,
    _check_no_audience,
    _check_resource_identifier,
    _check_resource_metadata,
)
