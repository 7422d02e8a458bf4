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


def test_the_policy_and_the_replay_store_are_built_once_per_settings_object(settings: Any) -> None:
    from django_dpop.conf import replay_store
    from django_dpop.storage import CacheReplayStore, DatabaseReplayStore

    settings.DPOP_REPLAY_STORE = "django_dpop.storage.DatabaseReplayStore"
    assert proof_policy() is proof_policy()
    store = replay_store()
    assert isinstance(store, DatabaseReplayStore) and replay_store() is store
    with override_settings(DPOP_REPLAY_STORE="django_dpop.storage.CacheReplayStore", DPOP_PROOF_MAX_AGE=30):
        assert isinstance(replay_store(), CacheReplayStore)
        assert proof_policy().max_age == 30
    again = replay_store()  # built anew for the settings object restored on exit, then kept
    assert isinstance(again, DatabaseReplayStore) and replay_store() is again
    assert proof_policy().max_age == 300
    settings.DPOP_REPLAY_STORE = None
    assert replay_store() is None


def test_a_replay_store_that_cannot_be_built_raises_every_time(settings: Any) -> None:
    import pytest

    from django_dpop.conf import replay_store

    settings.DPOP_REPLAY_STORE = "django_dpop.storage.NoSuchStore"
    for _ in range(2):  # a failure is never remembered as a store
        with pytest.raises(ImportError):
            replay_store()


def test_the_snapshot_reads_the_settings_object_lazysettings_holds(settings: Any) -> None:
    """``LazySettings`` clears its own dict on a swap, never replaces it: the snapshot's view."""
    from django.conf import settings as django_settings

    from django_dpop import conf as conf_module

    own = object.__getattribute__(django_settings, "__dict__")
    assert conf_module._LAZY_SETTINGS_DICT is own
    with override_settings(DPOP_CLOCK_SKEW=3):
        assert object.__getattribute__(django_settings, "__dict__") is own
        assert own["_wrapped"] is django_settings._wrapped
        assert conf.DPOP_CLOCK_SKEW == 3
    assert own["_wrapped"] is django_settings._wrapped
    assert conf.DPOP_CLOCK_SKEW == 60


def test_explicit_validators_are_resolved_once_per_entries(settings: Any) -> None:
    from django_dpop.conf import token_validators
    from django_dpop.tokens.jwt import JWTTokenValidator

    entries = ["django_dpop.tokens.jwt.JWTTokenValidator"]
    first = token_validators(entries)
    assert token_validators(list(entries)) is first  # a list equal to it: the same resolution
    assert [type(v) for v in first] == [JWTTokenValidator]

    class Unhashable(JWTTokenValidator):
        __hash__ = None  # type: ignore[assignment]

    validator = Unhashable()
    assert list(token_validators([validator])) == [validator]  # resolved each time, still right


def test_validator_instances_made_per_call_are_not_remembered() -> None:
    from django_dpop import conf as conf_module
    from django_dpop.tokens.jwt import JWTTokenValidator

    before = len(conf_module._RESOLVED_ENTRIES)
    for _ in range(50):  # a caller that builds its validators per request
        validator = JWTTokenValidator()
        assert list(conf_module.token_validators([validator])) == [validator]
    assert len(conf_module._RESOLVED_ENTRIES) == before
