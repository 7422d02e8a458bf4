"""System checks of the validator seam: django_dpop.E016-E019, each beside a value that passes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Error, run_checks
from django.test.utils import override_settings

from django_dpop.conf import DOT_TOKEN_VALIDATOR, conf
from django_dpop.token_checks import Codes, check_token_validators
from tests.seam.validators import StaticValidator


def ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return [message.id for message in check_token_validators()]


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (Codes.NO_VALIDATORS, {"DPOP_TOKEN_VALIDATORS": []}, {"DPOP_TOKEN_VALIDATORS": [DOT_TOKEN_VALIDATOR]}),
    (
        Codes.BAD_VALIDATOR,
        {"DPOP_TOKEN_VALIDATORS": ["tests.seam.validators.Missing"]},
        {"DPOP_TOKEN_VALIDATORS": ["tests.seam.validators.StaticValidator"]},
    ),
    (
        Codes.BAD_VALIDATOR,
        {"DPOP_TOKEN_VALIDATORS": ["tests.seam.validators.claims_token"]},  # imports, but no validator
        {"DPOP_TOKEN_VALIDATORS": [StaticValidator]},
    ),
    (
        Codes.BAD_VALIDATOR,
        {"DPOP_TOKEN_VALIDATORS": [object()]},
        {"DPOP_TOKEN_VALIDATORS": [StaticValidator()]},
    ),
    (
        Codes.VALIDATORS_TYPE,
        {"DPOP_TOKEN_VALIDATORS": DOT_TOKEN_VALIDATOR},  # a string, not a list of one
        {"DPOP_TOKEN_VALIDATORS": (DOT_TOKEN_VALIDATOR,)},
    ),
    (Codes.RETRY_AFTER, {"DPOP_RETRY_AFTER": "5"}, {"DPOP_RETRY_AFTER": 0}),
    (Codes.RETRY_AFTER, {"DPOP_RETRY_AFTER": -1}, {"DPOP_RETRY_AFTER": 120}),
    (Codes.RETRY_AFTER, {"DPOP_RETRY_AFTER": True}, {"DPOP_RETRY_AFTER": 5}),
]


@pytest.mark.parametrize(
    ("code", "bad", "good"), CASES, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]
)
def test_each_check_refuses_the_bad_value_and_passes_the_good_one(code, bad, good):
    with override_settings(**bad):
        messages = [message for message in check_token_validators() if message.id == code]
    assert messages
    assert all(isinstance(message, Error) and message.hint for message in messages)
    assert ids(**good) == []


def test_every_code_is_tested():
    codes = {value for name, value in vars(Codes).items() if not name.startswith("_")}
    assert {code for code, _, _ in CASES} == codes


def test_default_is_the_dot_validator_when_the_dot_helper_is_installed(settings):
    del settings.DPOP_TOKEN_VALIDATORS  # not set: the default
    assert conf.DPOP_TOKEN_VALIDATORS == [DOT_TOKEN_VALIDATOR]
    assert check_token_validators() == []


def test_default_is_empty_without_the_dot_helper(settings):
    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS if not app.startswith("django_dpop.contrib")
    ]
    assert conf.DPOP_TOKEN_VALIDATORS == []
    (message,) = check_token_validators()
    assert message.id == Codes.NO_VALIDATORS and "default" in message.msg


def test_checks_are_registered():
    with override_settings(DPOP_TOKEN_VALIDATORS=[]):
        assert Codes.NO_VALIDATORS in [message.id for message in run_checks(tags=["security"])]


def test_drf_class_is_dots_when_dot_is_installed():
    from oauth2_provider.contrib.rest_framework import OAuth2Authentication

    from django_dpop.contrib.rest_framework import DPoPAuthentication
    from django_dpop.contrib.rest_framework.checks import NOT_DOT_AUTHENTICATION, check_dot_base

    assert issubclass(DPoPAuthentication, OAuth2Authentication)
    assert check_dot_base() == []
    assert NOT_DOT_AUTHENTICATION not in [message.id for message in run_checks(tags=["security"])]


def test_drf_class_imported_too_early_warns(monkeypatch):
    from rest_framework.authentication import BaseAuthentication

    from django_dpop.contrib.rest_framework import authentication
    from django_dpop.contrib.rest_framework.checks import NOT_DOT_AUTHENTICATION, check_dot_base

    class Early(BaseAuthentication):  # what _base_class() gives before the registry is ready
        pass

    monkeypatch.setattr(authentication, "DPoPAuthentication", Early)
    (message,) = check_dot_base()
    assert message.id == NOT_DOT_AUTHENTICATION and message.hint
    assert NOT_DOT_AUTHENTICATION in [message.id for message in run_checks(tags=["security"])]
