"""System checks of the access-token validator seam (ids ``django_dpop.E016``-``E019``).

``DPOP_TOKEN_VALIDATORS`` is read live and loaded on first use (:func:`django_dpop.conf.token_validators`);
a bad entry would refuse every protected request with 503 (fail closed), so these checks say so
at start-up instead.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

from .conf import conf, load_token_validator


class Codes:
    NO_VALIDATORS = "django_dpop.E016"
    BAD_VALIDATOR = "django_dpop.E017"
    VALIDATORS_TYPE = "django_dpop.E018"
    RETRY_AFTER = "django_dpop.E019"


def check_token_validators(**kwargs: Any) -> list[CheckMessage]:
    return _check_validators() + _check_retry_after()


def _check_validators() -> list[CheckMessage]:
    entries = conf.DPOP_TOKEN_VALIDATORS
    if isinstance(entries, str | bytes) or not isinstance(entries, list | tuple):
        return [
            Error(
                f"DPOP_TOKEN_VALIDATORS must be a list or tuple, not {type(entries).__name__}.",
                hint="List import paths, e.g. ['django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator'].",
                id=Codes.VALIDATORS_TYPE,
            )
        ]
    if not entries:
        explicit = "" if hasattr(settings, "DPOP_TOKEN_VALIDATORS") else " (the default without DOT)"
        return [
            Error(
                f"DPOP_TOKEN_VALIDATORS is empty{explicit}: DPoPAuthentication, dpop_required and "
                "DPoPRequiredMixin refuse every access token.",
                hint="Add 'django_dpop.contrib.oauth2_provider' to INSTALLED_APPS for DOT's tokens, "
                "or list your validators in DPOP_TOKEN_VALIDATORS. Silence this check if this "
                "project protects no resource.",
                id=Codes.NO_VALIDATORS,
            )
        ]
    errors: list[CheckMessage] = []
    for entry in entries:
        try:
            load_token_validator(entry)
        except Exception as exc:  # ImportError, TypeError, the class's own __init__ failing
            errors.append(
                Error(
                    f"DPOP_TOKEN_VALIDATORS entry {entry!r} cannot be used: {exc}",
                    hint="Each entry is the import path of an AccessTokenValidator subclass "
                    "(django_dpop.tokens.AccessTokenValidator), such a class or an instance.",
                    id=Codes.BAD_VALIDATOR,
                )
            )
    return errors


def _check_retry_after() -> list[CheckMessage]:
    value = conf.DPOP_RETRY_AFTER
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return []
    return [
        Error(
            f"DPOP_RETRY_AFTER must be a non-negative integer (seconds), not {value!r}.",
            hint="Retry-After takes delay-seconds (RFC 9110 §10.2.3), e.g. 5.",
            id=Codes.RETRY_AFTER,
        )
    ]
