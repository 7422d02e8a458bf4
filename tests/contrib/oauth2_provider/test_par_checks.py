"""System checks of the PAR settings and endpoint (django_dpop_oauth2.E010-E012, W006)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings

from django_dpop.contrib.oauth2_provider.checks import check_par


def _ids(**provider: Any) -> list[str]:
    return [message.id for message in check_par()]


def _provider(settings: Any, **values: Any) -> None:
    settings.OAUTH2_PROVIDER = {**django_settings.OAUTH2_PROVIDER, **values}


def test_defaults_pass() -> None:
    assert check_par() == []


@pytest.mark.parametrize("value", [0, 600, -1, "60", 1.5, True, None])
def test_lifetime_out_of_range(settings: Any, value: Any) -> None:
    _provider(settings, PAR_REQUEST_URI_LIFETIME_SECONDS=value)
    assert _ids() == ["django_dpop_oauth2.E010"]


@pytest.mark.parametrize("value", [1, 60, 599])
def test_lifetime_in_range(settings: Any, value: int) -> None:
    _provider(settings, PAR_REQUEST_URI_LIFETIME_SECONDS=value)
    assert _ids() == []


@pytest.mark.parametrize("name", ["PAR_ENABLED", "REQUIRE_PUSHED_AUTHORIZATION_REQUESTS"])
def test_flags_must_be_booleans(settings: Any, name: str) -> None:
    _provider(settings, **{name: "yes"})
    assert "django_dpop_oauth2.E011" in _ids()


def test_required_without_endpoint(settings: Any) -> None:
    _provider(settings, REQUIRE_PUSHED_AUTHORIZATION_REQUESTS=True)
    assert _ids() == []
    _provider(settings, REQUIRE_PUSHED_AUTHORIZATION_REQUESTS=True, PAR_ENABLED=False)
    assert _ids() == ["django_dpop_oauth2.E012"]
    settings.ROOT_URLCONF = "tests.contrib.oauth2_provider.dot_only_urls"
    _provider(settings, REQUIRE_PUSHED_AUTHORIZATION_REQUESTS=True)
    assert _ids() == ["django_dpop_oauth2.E012"]


def test_dot_own_par_view_is_flagged(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.contrib.oauth2_provider.par_shadow_urls"
    assert _ids() == ["django_dpop_oauth2.W006"]
