"""The admin inline for ``dpop_bound_access_tokens`` and the system checks of the DOT app."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from oauth2_provider.oauth2_validators import OAuth2Validator

from django_dpop.contrib.oauth2_provider.backends import DPoPOAuthLibCoreMixin
from django_dpop.contrib.oauth2_provider.checks import check_oauth2_classes, check_urls
from django_dpop.contrib.oauth2_provider.compat import OAuthLibCore
from django_dpop.contrib.oauth2_provider.models import ApplicationPolicy
from django_dpop.contrib.oauth2_provider.validators import DPoPValidatorMixin
from tests.contrib.oauth2_provider.flows import App


@pytest.fixture
def admin_client(db: Any) -> Client:
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def admin_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.contrib.oauth2_provider.admin_urls"


def test_inline_renders_and_saves(admin_client: Client, admin_urls: None, app_factory: Any) -> None:
    app: App = app_factory("client-credentials")
    url = f"/admin/oauth2_provider/application/{app.application.pk}/change/"
    response = admin_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "dpop_policy-0-dpop_bound_access_tokens" in page

    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["algorithm"] = data.get("algorithm", "")
    data.update(
        {
            "dpop_policy-TOTAL_FORMS": "1",
            "dpop_policy-INITIAL_FORMS": "0",
            "dpop_policy-MIN_NUM_FORMS": "0",
            "dpop_policy-MAX_NUM_FORMS": "1",
            "dpop_policy-0-dpop_bound_access_tokens": "on",
            "dpop_policy-0-application": str(app.application.pk),
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert ApplicationPolicy.objects.get(application=app.application).dpop_bound_access_tokens is True


class PlainBackend(OAuthLibCore):
    pass


class LateMixinBackend(OAuthLibCore, DPoPOAuthLibCoreMixin):
    pass


class HostValidator(DPoPValidatorMixin, OAuth2Validator):
    """A host's own validator with the mixin first: accepted."""


def _ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


def test_checks_pass_with_our_classes() -> None:
    assert check_oauth2_classes() == []


@pytest.mark.parametrize(
    ("backend", "validator", "ids"),
    [
        (f"{__name__}.PlainBackend", f"{__name__}.HostValidator", ["django_dpop_oauth2.E001"]),
        (f"{__name__}.LateMixinBackend", f"{__name__}.HostValidator", ["django_dpop_oauth2.E001"]),
        (
            "django_dpop.contrib.oauth2_provider.backends.DPoPOAuthLibCore",
            "oauth2_provider.oauth2_validators.OAuth2Validator",
            ["django_dpop_oauth2.E002"],
        ),
    ],
)
def test_checks_refuse_classes_without_the_mixins(
    dot_settings: Any, backend: str, validator: str, ids: list[str]
) -> None:
    dot_settings(OAUTH2_BACKEND_CLASS=backend, OAUTH2_VALIDATOR_CLASS=validator)
    assert _ids(check_oauth2_classes()) == ids


def test_url_check(settings: Any) -> None:
    assert check_urls() == []
    settings.ROOT_URLCONF = "tests.contrib.oauth2_provider.dot_only_urls"
    assert set(_ids(check_urls())) == {"django_dpop_oauth2.W001"}
