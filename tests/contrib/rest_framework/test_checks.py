"""``django_dpop_oauth2.W002``: ``DPoPAuthentication`` must come first in DRF's default classes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Warning, run_checks
from django.test.utils import override_settings

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.contrib.rest_framework.checks import DEFAULT_NOT_FIRST, check_default_authentication_classes


DPOP = "django_dpop.contrib.rest_framework.DPoPAuthentication"
DOT = "oauth2_provider.contrib.rest_framework.OAuth2Authentication"
SESSION = "rest_framework.authentication.SessionAuthentication"


class HostDPoPAuthentication(DPoPAuthentication):
    """A host's subclass counts as DPoPAuthentication."""


HOST = f"{__name__}.HostDPoPAuthentication"


def ids(classes: list[str]) -> list[str]:
    with override_settings(REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": classes}):
        return [message.id for message in check_default_authentication_classes()]


@pytest.mark.parametrize(
    "classes", [[DPOP], [DPOP, DOT, SESSION], [HOST, SESSION], [DOT, SESSION], [SESSION], []]
)
def test_first_or_absent_passes(classes):
    assert ids(classes) == []


@pytest.mark.parametrize("classes", [[DOT, DPOP], [SESSION, DPOP, DOT], [SESSION, HOST]])
def test_not_first_warns(classes):
    assert ids(classes) == [DEFAULT_NOT_FIRST]


def test_message_names_the_classes_and_the_fix():
    with override_settings(REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": [SESSION, DPOP]}):
        (message,) = check_default_authentication_classes()
    assert isinstance(message, Warning)
    assert "SessionAuthentication" in message.msg and "DPoPAuthentication" in message.msg
    assert "first" in message.hint


def test_drf_default_setting_passes():
    """No REST_FRAMEWORK setting at all: DRF's defaults (Session, Basic) hold no DPoP class."""
    with override_settings():
        from django.conf import settings

        if hasattr(settings, "REST_FRAMEWORK"):
            del settings.REST_FRAMEWORK
        assert check_default_authentication_classes() == []


def test_registered_by_the_app(settings: Any):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [DOT, DPOP]}
    assert DEFAULT_NOT_FIRST in [message.id for message in run_checks()]
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [DPOP, DOT]}
    assert DEFAULT_NOT_FIRST not in [message.id for message in run_checks()]
