"""System checks of a miswired install (``django_dpop.E045``, ``E046``, ``django_dpop_oauth2.E004``-``E006``, ``W003``).

Each case through ``call_command("check")`` or ``run_checks`` with the settings a host would
have; one case in a fresh interpreter, where the helper's modules cannot even be imported
without their app (as in a real project) and only the check says why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test.utils import override_settings

from django_dpop.contrib.oauth2_provider.backends import DPoPOAuthLibCore
from django_dpop.contrib.oauth2_provider.installation import check_installed_apps
from django_dpop.contrib.oauth2_provider.tokens import DOTTokenValidator
from django_dpop.contrib.oauth2_provider.validators import DPoPOAuth2Validator


HELPER = "django_dpop.contrib.oauth2_provider"
BACKEND = "django_dpop.contrib.oauth2_provider.backends.DPoPOAuthLibCore"
VALIDATOR = "django_dpop.contrib.oauth2_provider.validators.DPoPOAuth2Validator"
DRF_DPOP = "django_dpop.contrib.rest_framework.DPoPAuthentication"
DOT_TOKENS = "django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator"
OTHER_TOKENS = "tests.seam.validators.EnvironmentValidator"
MINE = {
    "django_dpop.E045",
    "django_dpop.E046",
    "django_dpop_oauth2.E004",
    "django_dpop_oauth2.E005",
    "django_dpop_oauth2.E006",
    "django_dpop_oauth2.W003",
}
STOCK = {
    "OAUTH2_BACKEND_CLASS": "oauth2_provider.oauth2_backends.OAuthLibCore",
    "OAUTH2_VALIDATOR_CLASS": "oauth2_provider.oauth2_validators.OAuth2Validator",
}


class HostBackend(DPoPOAuthLibCore):
    pass


class HostValidator(DPoPOAuth2Validator):
    pass


class HostTokenValidator(DOTTokenValidator):
    pass


class ElsewhereRouter:
    """The DPoP bindings on another database than DOT's tokens."""

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "other" if model._meta.app_label == "django_dpop_oauth2" else None


def _apps(*, without: str) -> list[str]:
    return [app for app in settings.INSTALLED_APPS if app != without]


def _check_fails(**overrides: Any) -> str:
    """``manage.py check`` under ``overrides``: it must fail; its message."""
    with override_settings(**overrides), pytest.raises(SystemCheckError) as caught:
        call_command("check")
    return str(caught.value)


def _ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return [message.id for message in run_checks(include_deployment_checks=False)]


def _ours(ids: list[str]) -> list[str]:
    return sorted(i for i in ids if i in MINE)


# -- the DOT helper's app missing: checked from the base app (django_dpop.E045, E046) ----------------


@pytest.mark.parametrize(
    "dot",
    [
        {"OAUTH2_BACKEND_CLASS": BACKEND, "OAUTH2_VALIDATOR_CLASS": STOCK["OAUTH2_VALIDATOR_CLASS"]},
        {"OAUTH2_BACKEND_CLASS": STOCK["OAUTH2_BACKEND_CLASS"], "OAUTH2_VALIDATOR_CLASS": VALIDATOR},
        {"OAUTH2_BACKEND_CLASS": f"{__name__}.HostBackend", **{"OAUTH2_VALIDATOR_CLASS": VALIDATOR}},
        {"OAUTH2_BACKEND_CLASS": HostBackend, "OAUTH2_VALIDATOR_CLASS": HostValidator},
    ],
    ids=["backend", "validator", "host-subclass-path", "classes"],
)
def test_dot_classes_without_the_helper_app(dot: dict[str, Any]) -> None:
    message = _check_fails(INSTALLED_APPS=_apps(without=HELPER), OAUTH2_PROVIDER=dot)
    assert "django_dpop.E045" in message
    assert HELPER in message


def test_stock_dot_classes_without_the_helper_app_pass() -> None:
    assert _ours(_ids(INSTALLED_APPS=_apps(without=HELPER), OAUTH2_PROVIDER=STOCK)) == []


@pytest.mark.parametrize(
    "validators",
    [[DOT_TOKENS], [OTHER_TOKENS, DOT_TOKENS], [f"{__name__}.HostTokenValidator"], [HostTokenValidator]],
    ids=["path", "second", "host-subclass-path", "class"],
)
def test_dot_token_validator_without_the_helper_app(validators: list[Any]) -> None:
    message = _check_fails(
        INSTALLED_APPS=_apps(without=HELPER), OAUTH2_PROVIDER=STOCK, DPOP_TOKEN_VALIDATORS=validators
    )
    assert "django_dpop.E046" in message


def test_drf_without_the_helper_app_and_other_validators_passes() -> None:
    """DPoPAuthentication needs no DOT since the validator seam: only a DOT validator would."""
    ids = _ids(
        INSTALLED_APPS=_apps(without=HELPER),
        OAUTH2_PROVIDER=STOCK,
        REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": [DRF_DPOP]},
        DPOP_TOKEN_VALIDATORS=[OTHER_TOKENS],
    )
    assert _ours(ids) == []


def test_the_helper_installed_passes() -> None:
    ids = _ids(
        REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": [DRF_DPOP]}, DPOP_TOKEN_VALIDATORS=[DOT_TOKENS]
    )
    assert _ours(ids) == []


def test_in_a_fresh_interpreter() -> None:
    """A real project: the helper's modules fail to import without their app; the check says why."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_without_dot_helper",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "django_dpop.E045" in result.stderr
    assert "django_dpop.E046" in result.stderr
    assert "Traceback" not in result.stderr


# -- the base app or DOT missing: checked from the helper's app (django_dpop_oauth2.E004, E005) --------


def test_helper_without_the_base_app() -> None:
    message = _check_fails(INSTALLED_APPS=_apps(without="django_dpop"))
    assert "django_dpop_oauth2.E004" in message


def test_helper_without_dot() -> None:
    # Only this check: the suite's process has registered checks that import DOT (a real
    # project without DOT never gets that far, its ready() registers none of them).
    with override_settings(INSTALLED_APPS=_apps(without="oauth2_provider")):
        assert [m.id for m in check_installed_apps()] == ["django_dpop_oauth2.E005"]


# -- bindings on another database, no sessions (django_dpop_oauth2.E006, W003) --------------------------


def test_bindings_routed_elsewhere() -> None:
    ids = _ids(DATABASE_ROUTERS=[f"{__name__}.ElsewhereRouter"])
    assert ids.count("django_dpop_oauth2.E006") == 4


def test_no_session_middleware_warns() -> None:
    middleware = [m for m in settings.MIDDLEWARE if "sessions" not in m]
    assert "django_dpop_oauth2.W003" in _ids(MIDDLEWARE=middleware)


def test_no_session_middleware_without_the_dpop_authorization_view_passes() -> None:
    middleware = [m for m in settings.MIDDLEWARE if "sessions" not in m]
    ids = _ids(MIDDLEWARE=middleware, ROOT_URLCONF="tests.contrib.oauth2_provider.dot_only_urls")
    assert "django_dpop_oauth2.W003" not in ids
