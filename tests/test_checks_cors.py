"""Checks django_dpop.W016-W017: django-cors-headers must let DPoP through, both ways.

They read the ``CORS_*`` settings only (django-cors-headers need not be installed); each refusal
beside a configuration of the same kind that passes.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Warning, run_checks
from django.test.utils import override_settings

from django_dpop.checks import Codes, check_settings


GOOD = {
    "CORS_ALLOW_HEADERS": ["accept", "authorization", "content-type", "dpop"],
    "CORS_EXPOSE_HEADERS": ["DPoP-Nonce", "WWW-Authenticate"],
}
WITHOUT_CORS_HEADERS = {
    "INSTALLED_APPS": [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "rest_framework",
        "oauth2_provider",
        "django_dpop",
    ],
    "MIDDLEWARE": [],
}


def cors_ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return [
            m.id for m in check_settings() if m.id in (Codes.CORS_REQUEST_HEADERS, Codes.CORS_EXPOSE_HEADERS)
        ]


def test_the_test_settings_pass() -> None:
    assert cors_ids() == []


def test_a_good_configuration_passes() -> None:
    assert cors_ids(**GOOD) == []


@pytest.mark.parametrize(
    ("allow", "missing"),
    [
        (["accept", "authorization", "content-type"], "dpop"),  # django-cors-headers' defaults
        (["accept", "content-type", "dpop"], "authorization"),
        (["*"], "authorization"),  # the Fetch standard's wildcard never covers Authorization
    ],
)
def test_w016_request_headers(allow: list[str], missing: str) -> None:
    with override_settings(CORS_ALLOW_HEADERS=allow, CORS_EXPOSE_HEADERS=GOOD["CORS_EXPOSE_HEADERS"]):
        messages = [m for m in check_settings() if m.id == Codes.CORS_REQUEST_HEADERS]
    assert len(messages) == 1
    assert isinstance(messages[0], Warning)
    assert missing in messages[0].msg and messages[0].hint


def test_w016_default_allow_headers_lack_dpop(settings: Any) -> None:
    del settings.CORS_ALLOW_HEADERS  # django-cors-headers' default list
    assert cors_ids() == [Codes.CORS_REQUEST_HEADERS]


@pytest.mark.parametrize(
    "allow",
    [
        ["Authorization", "DPoP"],  # header names are case-insensitive
        ("accept", "authorization", "dpop"),
        ["*", "authorization"],  # "*" covers dpop without credentials
    ],
)
def test_w016_passes(allow: Any) -> None:
    assert cors_ids(CORS_ALLOW_HEADERS=allow) == []


def test_w016_wildcard_with_credentials_covers_nothing() -> None:
    assert cors_ids(CORS_ALLOW_HEADERS=["*", "authorization"], CORS_ALLOW_CREDENTIALS=True) == [
        Codes.CORS_REQUEST_HEADERS
    ]


@pytest.mark.parametrize(
    ("expose", "missing"),
    [
        ([], "DPoP-Nonce"),
        (["WWW-Authenticate"], "DPoP-Nonce"),
        (["DPoP-Nonce"], "WWW-Authenticate"),
    ],
)
def test_w017_expose_headers(expose: list[str], missing: str) -> None:
    with override_settings(CORS_EXPOSE_HEADERS=expose):
        messages = [m for m in check_settings() if m.id == Codes.CORS_EXPOSE_HEADERS]
    assert len(messages) == 1
    assert isinstance(messages[0], Warning)
    assert missing in messages[0].msg and messages[0].hint


def test_w017_default_exposes_nothing(settings: Any) -> None:
    del settings.CORS_EXPOSE_HEADERS
    assert cors_ids() == [Codes.CORS_EXPOSE_HEADERS]


@pytest.mark.parametrize(
    "expose", [["dpop-nonce", "www-authenticate"], ["*"], ("DPoP-Nonce", "WWW-Authenticate", "X")]
)
def test_w017_passes(expose: Any) -> None:
    assert cors_ids(CORS_EXPOSE_HEADERS=expose) == []


def test_w017_wildcard_with_credentials_exposes_nothing() -> None:
    assert cors_ids(CORS_EXPOSE_HEADERS=["*"], CORS_ALLOW_CREDENTIALS=True) == [Codes.CORS_EXPOSE_HEADERS]


def test_both_at_once() -> None:
    assert cors_ids(CORS_ALLOW_HEADERS=["authorization"], CORS_EXPOSE_HEADERS=[]) == [
        Codes.CORS_REQUEST_HEADERS,
        Codes.CORS_EXPOSE_HEADERS,
    ]


def test_silent_without_django_cors_headers() -> None:
    """Neither the app nor the middleware: no CORS in play, nothing to say, whatever CORS_* hold."""
    assert cors_ids(**WITHOUT_CORS_HEADERS, CORS_ALLOW_HEADERS=[], CORS_EXPOSE_HEADERS=[]) == []


def test_the_middleware_alone_counts_as_installed() -> None:
    overrides = {**WITHOUT_CORS_HEADERS, "MIDDLEWARE": ["corsheaders.middleware.CorsMiddleware"]}
    assert cors_ids(**overrides, CORS_EXPOSE_HEADERS=[]) == [Codes.CORS_EXPOSE_HEADERS]


def test_a_malformed_value_is_left_to_django_cors_headers() -> None:
    assert cors_ids(CORS_ALLOW_HEADERS="dpop", CORS_EXPOSE_HEADERS=None) == []


def test_registered_with_djangos_checks() -> None:
    with override_settings(CORS_EXPOSE_HEADERS=[]):
        assert Codes.CORS_EXPOSE_HEADERS in {m.id for m in run_checks()}


def test_the_check_does_not_need_django_cors_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the package not importable, django-cors-headers' documented defaults are assumed."""
    import sys

    monkeypatch.setitem(sys.modules, "corsheaders.defaults", None)  # import raises ImportError
    overrides = {**WITHOUT_CORS_HEADERS, "MIDDLEWARE": ["corsheaders.middleware.CorsMiddleware"]}
    with override_settings(**overrides):
        from django.conf import settings

        del settings.CORS_ALLOW_HEADERS
        assert [m.id for m in check_settings() if m.id.startswith("django_dpop.W01")] == [
            Codes.CORS_REQUEST_HEADERS
        ]
