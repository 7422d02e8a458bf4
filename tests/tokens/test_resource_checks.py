"""System checks E030-E034, W010-W011: each refusal beside a value of the same kind that passes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Error, Warning, run_checks
from django.test.utils import override_settings

from django_dpop.resource_checks import VALIDATOR_PATH, Codes, check_resource_settings


GOOD = {
    "DPOP_INTROSPECTION_URL": "https://as.example.com/o/introspect/",
    "DPOP_INTROSPECTION_CLIENT_ID": "rs",
    "DPOP_INTROSPECTION_CLIENT_SECRET": "secret",
    "DPOP_RESOURCE_IDENTIFIER": "https://api.example.com",
}


def ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return [message.id for message in check_resource_settings()]


def test_defaults_and_a_good_configuration_pass() -> None:
    assert ids() == []
    assert ids(**GOOD) == []
    assert ids(**GOOD, DPOP_TOKEN_VALIDATORS=[VALIDATOR_PATH]) == []


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        Codes.INTROSPECTION_URL,
        {"DPOP_TOKEN_VALIDATORS": [VALIDATOR_PATH], "DPOP_INTROSPECTION_URL": None},
        {},
    ),
    (
        Codes.INTROSPECTION_URL,
        {"DPOP_INTROSPECTION_URL": "http://as.example.com/introspect"},
        {"DPOP_INTROSPECTION_URL": "https://as.example.com/introspect"},
    ),
    (Codes.INTROSPECTION_URL, {"DPOP_INTROSPECTION_URL": "/o/introspect/"}, {}),
    (Codes.INTROSPECTION_URL, {"DPOP_INTROSPECTION_URL": "https://u:p@as.example.com/i"}, {}),
    (
        Codes.INTROSPECTION_HTTP,
        {
            "DPOP_INTROSPECTION_URL": "http://127.0.0.1:8000/o/introspect/",
            "DPOP_INTROSPECTION_ALLOW_HTTP": True,
        },
        {
            "DPOP_INTROSPECTION_URL": "https://127.0.0.1:8000/o/introspect/",
            "DPOP_INTROSPECTION_ALLOW_HTTP": True,
        },
    ),
    (
        Codes.INTROSPECTION_CREDENTIALS,
        {"DPOP_INTROSPECTION_AUTH_METHOD": "private_key_jwt"},
        {"DPOP_INTROSPECTION_AUTH_METHOD": "client_secret_post"},
    ),
    (Codes.INTROSPECTION_CREDENTIALS, {"DPOP_INTROSPECTION_CLIENT_SECRET": ""}, {}),
    (Codes.INTROSPECTION_CREDENTIALS, {"DPOP_INTROSPECTION_CLIENT_ID": None}, {}),
    (
        Codes.INTROSPECTION_CREDENTIALS,
        {"DPOP_INTROSPECTION_AUTH_METHOD": "bearer", "DPOP_INTROSPECTION_BEARER_TOKEN": ""},
        {"DPOP_INTROSPECTION_AUTH_METHOD": "bearer", "DPOP_INTROSPECTION_BEARER_TOKEN": "t"},
    ),
    (
        Codes.INTROSPECTION_CREDENTIALS,
        {"DPOP_INTROSPECTION_AUTH_METHOD": "bearer"},
        {"DPOP_INTROSPECTION_AUTH_METHOD": "bearer", "DPOP_INTROSPECTION_BEARER_TOKEN": "t"},
    ),
    (Codes.INTROSPECTION_VALUES, {"DPOP_INTROSPECTION_TIMEOUT": 0}, {"DPOP_INTROSPECTION_TIMEOUT": 0.5}),
    (Codes.INTROSPECTION_VALUES, {"DPOP_INTROSPECTION_TIMEOUT": "5"}, {"DPOP_INTROSPECTION_TIMEOUT": 60}),
    (
        Codes.INTROSPECTION_VALUES,
        {"DPOP_INTROSPECTION_CACHE_SECONDS": -1},
        {"DPOP_INTROSPECTION_CACHE_SECONDS": 0},
    ),
    (
        Codes.INTROSPECTION_VALUES,
        {"DPOP_INTROSPECTION_CACHE_SIZE": 1.5},
        {"DPOP_INTROSPECTION_CACHE_SIZE": 1},
    ),
    (
        Codes.INTROSPECTION_VALUES,
        {"DPOP_INTROSPECTION_ALLOW_HTTP": "yes"},
        {"DPOP_INTROSPECTION_ALLOW_HTTP": False},
    ),
    (Codes.INTROSPECTION_NO_AUDIENCE, {"DPOP_RESOURCE_IDENTIFIER": None}, {}),
    (
        Codes.RESOURCE_IDENTIFIER,
        {"DPOP_RESOURCE_IDENTIFIER": "http://api.example.com"},
        {"DPOP_RESOURCE_IDENTIFIER": "https://api.example.com/v1"},
    ),
    (Codes.RESOURCE_IDENTIFIER, {"DPOP_RESOURCE_IDENTIFIER": "https://api.example.com/#x"}, {}),
    (
        Codes.RESOURCE_METADATA,
        {"DPOP_RESOURCE_AUTHORIZATION_SERVERS": "https://as.example.com"},
        {"DPOP_RESOURCE_AUTHORIZATION_SERVERS": ["https://as.example.com"]},
    ),
    (Codes.RESOURCE_METADATA, {"DPOP_RESOURCE_AUTHORIZATION_SERVERS": ["as.example.com"]}, {}),
    (
        Codes.RESOURCE_METADATA,
        {"DPOP_RESOURCE_SCOPES_SUPPORTED": "read write"},
        {"DPOP_RESOURCE_SCOPES_SUPPORTED": ["read", "write"]},
    ),
    (
        Codes.RESOURCE_METADATA,
        {"DPOP_RESOURCE_METADATA_URL": "/.well-known/oauth-protected-resource"},
        {"DPOP_RESOURCE_METADATA_URL": "https://api.example.com/.well-known/oauth-protected-resource"},
    ),
]


@pytest.mark.parametrize(("code", "bad", "good"), CASES)
def test_each_check(code: str, bad: dict[str, Any], good: dict[str, Any]) -> None:
    assert code in ids(**{**GOOD, **bad})
    assert code not in ids(**{**GOOD, **good})


def test_registered_with_django() -> None:
    with override_settings(DPOP_INTROSPECTION_URL="ftp://as.example.com/"):
        assert Codes.INTROSPECTION_URL in [message.id for message in run_checks()]


def test_every_message_has_a_hint_and_the_right_level() -> None:
    for code, bad, _ in CASES:
        with override_settings(**{**GOOD, **bad}):
            messages = [message for message in check_resource_settings() if message.id == code]
        assert messages, code
        for message in messages:
            assert message.hint
            assert isinstance(message, Warning if ".W" in code else Error)


def test_validator_listed_as_class_or_instance_counts() -> None:
    from django_dpop.tokens.introspection import IntrospectionTokenValidator

    class Mine(IntrospectionTokenValidator):
        pass

    for entry in (VALIDATOR_PATH, IntrospectionTokenValidator, Mine):
        assert Codes.INTROSPECTION_URL in ids(DPOP_TOKEN_VALIDATORS=[entry], DPOP_INTROSPECTION_URL=None)
    # An instance carries its own configuration: the settings are not required for it.
    instance = Mine(url="https://as.example.com/i", client_id="rs", client_secret="s")
    assert ids(DPOP_TOKEN_VALIDATORS=[instance], DPOP_INTROSPECTION_URL=None) == []
    assert ids(DPOP_TOKEN_VALIDATORS=["django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator"]) == []
