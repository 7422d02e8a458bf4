"""The DPOP_* settings are remembered between reads, yet follow every override (setting_changed)."""

from __future__ import annotations

from typing import Any

from django.test.utils import override_settings

from django_dpop.conf import conf, proof_policy


def test_overrides_are_seen_on_enter_and_on_exit(settings: Any) -> None:
    assert conf.DPOP_CLOCK_SKEW == 60  # unset: the default, remembered as missing
    with override_settings(DPOP_CLOCK_SKEW=7):
        assert conf.DPOP_CLOCK_SKEW == 7
        assert proof_policy().clock_skew == 7
        with override_settings(DPOP_CLOCK_SKEW=9):
            assert conf.DPOP_CLOCK_SKEW == 9
        assert conf.DPOP_CLOCK_SKEW == 7
    assert conf.DPOP_CLOCK_SKEW == 60
    settings.DPOP_CLOCK_SKEW = 11  # pytest-django's fixture
    assert conf.DPOP_CLOCK_SKEW == 11
    assert proof_policy().clock_skew == 11
    del settings.DPOP_CLOCK_SKEW
    assert conf.DPOP_CLOCK_SKEW == 60


def test_a_set_value_is_remembered_and_replaced_by_an_override(settings: Any) -> None:
    settings.DPOP_PROOF_MAX_AGE = 120
    assert conf.DPOP_PROOF_MAX_AGE == 120
    assert conf.DPOP_PROOF_MAX_AGE == 120
    with override_settings(DPOP_PROOF_MAX_AGE=30):
        assert conf.DPOP_PROOF_MAX_AGE == 30
    assert conf.DPOP_PROOF_MAX_AGE == 120
