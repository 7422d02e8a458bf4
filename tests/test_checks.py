"""System checks of the ``DPOP_*`` settings: one refusal per id beside a value that passes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Error, Warning, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test.utils import override_settings

from django_dpop.checks import Codes, check_settings
from django_dpop.conf import Settings
from tests.tokens.test_resource_checks import CASES as RESOURCE_CASES


LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
REDIS_NO_TIMEOUTS = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:6379/0",
}
REDIS = {**REDIS_NO_TIMEOUTS, "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2}}
CACHE_STORE = "django_dpop.storage.CacheReplayStore"


def ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return [message.id for message in check_settings()]


def test_default_settings_pass() -> None:
    assert check_settings() == []


# (id, settings that must raise it, settings of the same kind that must not)
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (Codes.ALGORITHMS_TYPE, {"DPOP_ALLOWED_ALGORITHMS": "ES256"}, {"DPOP_ALLOWED_ALGORITHMS": ["ES256"]}),
    (Codes.ALGORITHMS_TYPE, {"DPOP_ALLOWED_ALGORITHMS": []}, {"DPOP_ALLOWED_ALGORITHMS": ("EdDSA",)}),
    (
        Codes.ALGORITHMS_TYPE,
        {"DPOP_ALLOWED_ALGORITHMS": None},
        {"DPOP_ALLOWED_ALGORITHMS": ("PS256", "ES384")},
    ),
    (Codes.ALGORITHMS_TYPE, {"DPOP_ALLOWED_ALGORITHMS": [256]}, {"DPOP_ALLOWED_ALGORITHMS": ["RS256"]}),
    (Codes.ALGORITHMS_TYPE, {"DPOP_ALLOWED_ALGORITHMS": [["ES256"]]}, {"DPOP_ALLOWED_ALGORITHMS": ["ES512"]}),
    (Codes.ALGORITHMS_TYPE, {"DPOP_ALLOWED_ALGORITHMS": {"ES256"}}, {"DPOP_ALLOWED_ALGORITHMS": ["ES256"]}),
    (
        Codes.ALGORITHM_FORBIDDEN,
        {"DPOP_ALLOWED_ALGORITHMS": ["ES256", "none"]},
        {"DPOP_ALLOWED_ALGORITHMS": ["ES256"]},
    ),
    (
        Codes.ALGORITHM_FORBIDDEN,
        {"DPOP_ALLOWED_ALGORITHMS": ["HS256"]},
        {"DPOP_ALLOWED_ALGORITHMS": ["PS256"]},
    ),
    (
        Codes.ALGORITHM_FORBIDDEN,
        {"DPOP_ALLOWED_ALGORITHMS": ["HS512", "ES256"]},
        {"DPOP_ALLOWED_ALGORITHMS": ["ES256K"]},
    ),
    (
        Codes.ALGORITHM_FORBIDDEN,
        {"DPOP_ALLOWED_ALGORITHMS": ["es256"]},
        {"DPOP_ALLOWED_ALGORITHMS": ["ES256"]},
    ),
    (Codes.ALGORITHM_FORBIDDEN, {"DPOP_ALLOWED_ALGORITHMS": ["XYZ"]}, {"DPOP_ALLOWED_ALGORITHMS": ["RS512"]}),
    # RFC 9864 §2.2: the fully-specified EdDSA names, spelled exactly.
    (
        Codes.ALGORITHM_FORBIDDEN,
        {"DPOP_ALLOWED_ALGORITHMS": ["ed25519"]},
        {"DPOP_ALLOWED_ALGORITHMS": ["Ed25519", "Ed448"]},
    ),
    (
        Codes.ALGORITHM_FORBIDDEN,
        {"DPOP_ALLOWED_ALGORITHMS": ["Ed25519", "X25519"]},
        {"DPOP_ALLOWED_ALGORITHMS": ["Ed448"]},
    ),
    (
        Codes.NONCE_ON_EVERY_RESPONSE,
        {"DPOP_NONCE_ON_EVERY_RESPONSE": 1},
        {"DPOP_NONCE_ON_EVERY_RESPONSE": True},
    ),
    (Codes.NONCE_ON_EVERY_RESPONSE, {"DPOP_NONCE_ON_EVERY_RESPONSE": "yes"}, {}),
    (Codes.CLOCK_SKEW, {"DPOP_CLOCK_SKEW": -1}, {"DPOP_CLOCK_SKEW": 0}),
    (Codes.CLOCK_SKEW, {"DPOP_CLOCK_SKEW": "60"}, {"DPOP_CLOCK_SKEW": 60}),
    (Codes.CLOCK_SKEW, {"DPOP_CLOCK_SKEW": 1.5}, {"DPOP_CLOCK_SKEW": 5}),
    (Codes.CLOCK_SKEW, {"DPOP_CLOCK_SKEW": True}, {"DPOP_CLOCK_SKEW": 1}),
    (Codes.CLOCK_SKEW_LARGE, {"DPOP_CLOCK_SKEW": 301}, {"DPOP_CLOCK_SKEW": 300}),
    (Codes.MAX_AGE, {"DPOP_PROOF_MAX_AGE": 0}, {"DPOP_PROOF_MAX_AGE": 1}),
    (Codes.MAX_AGE, {"DPOP_PROOF_MAX_AGE": -300}, {"DPOP_PROOF_MAX_AGE": 300}),
    (Codes.MAX_AGE, {"DPOP_PROOF_MAX_AGE": None}, {"DPOP_PROOF_MAX_AGE": 120}),
    (Codes.MAX_AGE_LONG, {"DPOP_PROOF_MAX_AGE": 601}, {"DPOP_PROOF_MAX_AGE": 600}),
    (Codes.NONCE_REQUIRED, {"DPOP_NONCE_REQUIRED": "yes"}, {"DPOP_NONCE_REQUIRED": True}),
    (Codes.NONCE_REQUIRED, {"DPOP_NONCE_REQUIRED": 1}, {"DPOP_NONCE_REQUIRED": False}),
    (Codes.NONCE_LIFETIME, {"DPOP_NONCE_LIFETIME": 0}, {"DPOP_NONCE_LIFETIME": 1}),
    (Codes.NONCE_LIFETIME, {"DPOP_NONCE_LIFETIME": -5}, {"DPOP_NONCE_LIFETIME": 600}),
    (Codes.NONCE_LIFETIME, {"DPOP_NONCE_LIFETIME": "300"}, {"DPOP_NONCE_LIFETIME": 300}),
    (Codes.NONCE_LIFETIME, {"DPOP_NONCE_LIFETIME": False}, {"DPOP_NONCE_LIFETIME": 30}),
    (Codes.MAX_PROOF_LENGTH, {"DPOP_MAX_PROOF_LENGTH": 0}, {"DPOP_MAX_PROOF_LENGTH": 4096}),
    (Codes.MAX_PROOF_LENGTH, {"DPOP_MAX_PROOF_LENGTH": "8k"}, {"DPOP_MAX_PROOF_LENGTH": 8192}),
    (
        Codes.REPLAY_STORE,
        {"DPOP_REPLAY_STORE": "no.such.Store"},
        {"DPOP_REPLAY_STORE": CACHE_STORE, "CACHES": {"default": REDIS}},
    ),
    (Codes.REPLAY_STORE, {"DPOP_REPLAY_STORE": "django_dpop.storage.Missing"}, {}),
    (Codes.REPLAY_STORE, {"DPOP_REPLAY_STORE": "django_dpop.storage.DatabaseNonceStore"}, {}),
    (Codes.REPLAY_STORE, {"DPOP_REPLAY_STORE": "django_dpop.storage.clock"}, {}),
    (Codes.REPLAY_STORE, {"DPOP_REPLAY_STORE": ""}, {}),
    (Codes.REPLAY_STORE, {"DPOP_REPLAY_STORE": 42}, {}),
    (
        Codes.REPLAY_DISABLED,
        {"DPOP_REPLAY_STORE": None},
        {"DPOP_REPLAY_STORE": "django_dpop.storage.DatabaseReplayStore"},
    ),
    (
        Codes.REPLAY_CACHE_PER_PROCESS,
        {"DPOP_REPLAY_STORE": CACHE_STORE},
        {"DPOP_REPLAY_STORE": CACHE_STORE, "CACHES": {"default": REDIS}},
    ),
    (
        Codes.REPLAY_CACHE_PER_PROCESS,
        {
            "DPOP_REPLAY_STORE": CACHE_STORE,
            "CACHES": {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
        },
        {
            "DPOP_REPLAY_STORE": CACHE_STORE,
            "DPOP_REPLAY_CACHE": "shared",
            "CACHES": {"default": LOCMEM, "shared": REDIS},
        },
    ),
    (
        Codes.REPLAY_CACHE_PER_PROCESS,
        {
            "DPOP_REPLAY_STORE": CACHE_STORE,
            "CACHES": {
                "default": {
                    "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                    "LOCATION": "/tmp/x",
                }
            },
        },
        {
            "DPOP_REPLAY_STORE": CACHE_STORE,
            "CACHES": {
                "default": {
                    "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                    "LOCATION": "127.0.0.1:11211",
                }
            },
        },
    ),
    (
        Codes.REPLAY_CACHE_ALIAS,
        {"DPOP_REPLAY_STORE": CACHE_STORE, "DPOP_REPLAY_CACHE": "nowhere", "CACHES": {"default": REDIS}},
        {"DPOP_REPLAY_STORE": CACHE_STORE, "CACHES": {"default": REDIS}},
    ),
    (
        Codes.REPLAY_CACHE_ALIAS,
        {"DPOP_REPLAY_STORE": CACHE_STORE, "DPOP_REPLAY_CACHE": None, "CACHES": {"default": REDIS}},
        {"DPOP_REPLAY_STORE": CACHE_STORE, "DPOP_REPLAY_CACHE": "default", "CACHES": {"default": REDIS}},
    ),
    (
        Codes.NONCE_STORE,
        {"DPOP_NONCE_STORE": "no.such.Store"},
        {"DPOP_NONCE_STORE": "django_dpop.storage.SignedNonceStore"},
    ),
    (
        Codes.NONCE_STORE,
        {"DPOP_NONCE_STORE": "django_dpop.storage.DatabaseReplayStore"},
        {"DPOP_NONCE_STORE": "django_dpop.storage.DatabaseNonceStore"},
    ),
    (Codes.NONCE_STORE, {"DPOP_NONCE_STORE": None}, {}),
    (
        Codes.HTU_BASE_URL,
        {"DPOP_HTU_BASE_URL": "api.example.com"},
        {"DPOP_HTU_BASE_URL": "https://api.example.com"},
    ),
    (Codes.HTU_BASE_URL, {"DPOP_HTU_BASE_URL": "/api"}, {"DPOP_HTU_BASE_URL": "https://example.com/api"}),
    (
        Codes.HTU_BASE_URL,
        {"DPOP_HTU_BASE_URL": "ftp://example.com"},
        {"DPOP_HTU_BASE_URL": "http://127.0.0.1:8000"},
    ),
    (Codes.HTU_BASE_URL, {"DPOP_HTU_BASE_URL": "https://"}, {"DPOP_HTU_BASE_URL": "https://example.com/"}),
    (
        Codes.HTU_BASE_URL,
        {"DPOP_HTU_BASE_URL": "https://example.com:99999"},
        {"DPOP_HTU_BASE_URL": "https://example.com:8443"},
    ),
    (Codes.HTU_BASE_URL, {"DPOP_HTU_BASE_URL": 42}, {"DPOP_HTU_BASE_URL": None}),
    (
        Codes.HTU_BASE_URL_PARTS,
        {"DPOP_HTU_BASE_URL": "https://example.com/?x=1"},
        {"DPOP_HTU_BASE_URL": "https://example.com/x"},
    ),
    (
        Codes.HTU_BASE_URL_PARTS,
        {"DPOP_HTU_BASE_URL": "https://example.com#top"},
        {"DPOP_HTU_BASE_URL": "https://example.com"},
    ),
    (Codes.HTU_BASE_URL_PARTS, {"DPOP_HTU_BASE_URL": "https://example.com?"}, {"DPOP_HTU_BASE_URL": ""}),
    (
        Codes.HTU_BASE_URL_PARTS,
        {"DPOP_HTU_BASE_URL": "https://user:pw@example.com"},
        {"DPOP_HTU_BASE_URL": "https://example.com"},
    ),
    (Codes.ALLOW_BEARER_TOKENS, {"DPOP_ALLOW_BEARER_TOKENS": "False"}, {"DPOP_ALLOW_BEARER_TOKENS": False}),
    (Codes.STORE_TIMEOUT, {"DPOP_STORE_TIMEOUT": 0}, {"DPOP_STORE_TIMEOUT": 0.5}),
    (Codes.STORE_TIMEOUT, {"DPOP_STORE_TIMEOUT": "2"}, {"DPOP_STORE_TIMEOUT": 2}),
    (Codes.STORE_TIMEOUT, {"DPOP_STORE_TIMEOUT": float("inf")}, {"DPOP_STORE_TIMEOUT": 30}),
    (Codes.STORE_TIMEOUT, {"DPOP_STORE_TIMEOUT": True}, {}),
    (
        Codes.REPLAY_CACHE_NO_SOCKET_TIMEOUT,
        {
            "DPOP_REPLAY_STORE": CACHE_STORE,
            "DPOP_REPLAY_CACHE": "redis",
            "CACHES": {"default": LOCMEM, "redis": REDIS_NO_TIMEOUTS},
        },
        {
            "DPOP_REPLAY_STORE": CACHE_STORE,
            "DPOP_REPLAY_CACHE": "redis",
            "CACHES": {
                "default": LOCMEM,
                "redis": {**REDIS, "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2}},
            },
        },
    ),
    (
        Codes.REPLAY_CACHE_NO_SOCKET_TIMEOUT,
        {
            "DPOP_REPLAY_STORE": CACHE_STORE,
            "DPOP_REPLAY_CACHE": "redis",
            "CACHES": {"default": LOCMEM, "redis": {**REDIS_NO_TIMEOUTS, "OPTIONS": {"socket_timeout": 2}}},
        },
        {
            "DPOP_REPLAY_STORE": CACHE_STORE,
            "DPOP_REPLAY_CACHE": "redis",
            "CACHES": {
                "default": LOCMEM,
                "redis": {
                    "BACKEND": "django_redis.cache.RedisCache",
                    "LOCATION": "redis://127.0.0.1:6379/0",
                    "OPTIONS": {"SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 2},
                },
            },
        },
    ),
    (
        Codes.BIND_CONFIDENTIAL_REFRESH_TOKENS,
        {"DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS": None},
        {"DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS": True},
    ),
    # More CORS cases (django-cors-headers absent, wildcards) in tests/test_checks_cors.py.
    (
        Codes.CORS_REQUEST_HEADERS,
        {"CORS_ALLOW_HEADERS": ["authorization"]},
        {"CORS_ALLOW_HEADERS": ["dpop", "authorization"]},
    ),
    (
        Codes.CORS_EXPOSE_HEADERS,
        {"CORS_EXPOSE_HEADERS": ["WWW-Authenticate"]},
        {"CORS_EXPOSE_HEADERS": ["DPoP-Nonce", "www-authenticate"]},
    ),
]


@pytest.mark.parametrize(
    ("code", "bad", "good"), CASES, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]
)
def test_each_check_refuses_the_bad_value_and_passes_the_good_one(
    code: str, bad: dict[str, Any], good: dict[str, Any]
) -> None:
    assert code in ids(**bad)
    assert ids(**good) == []


def test_every_code_is_unique_and_tested() -> None:
    codes = [value for name, value in vars(Codes).items() if not name.startswith("_")]
    assert len(codes) == len(set(codes))
    assert all(code.startswith(("django_dpop.E", "django_dpop.W")) for code in codes)
    # The deployment checks that ask the Redis server: tests/test_store_faults_redis.py.
    server_checks = {Codes.REPLAY_CACHE_EVICTS, Codes.REPLAY_CACHE_SNAPSHOTS}
    assert {code for code, _, _ in CASES} | {Codes.NONCE_ROLLED_BACK} | server_checks == set(codes)


def test_every_setting_has_a_tested_check() -> None:
    # A DPOP_* setting added to conf.py without a check (and a case here) fails this test.
    settings_names = {name for name in vars(Settings) if name.startswith("DPOP_")}
    from tests.contrib.oauth2_provider.test_jwt_access_tokens import TESTED_SETTINGS as DOT_JWT_SETTINGS
    from tests.seam.test_checks import CASES as TOKEN_CASES  # django_dpop.token_checks
    from tests.tokens.test_jwt_checks import TESTED_SETTINGS as JWT_SETTINGS

    tested = (
        {name for _, bad, _ in CASES + TOKEN_CASES for name in bad if name.startswith("DPOP_")}
        | JWT_SETTINGS
        | DOT_JWT_SETTINGS
    )
    # The resource-server settings (introspection, RFC 9728): django_dpop.resource_checks.
    tested |= {name for _, bad, _ in RESOURCE_CASES for name in bad if name.startswith("DPOP_")}
    assert settings_names == tested


def test_every_message_has_a_hint_and_the_right_level() -> None:
    for code, bad, _ in CASES:
        with override_settings(**bad):
            messages = [message for message in check_settings() if message.id == code]
        assert messages, code
        for message in messages:
            assert message.hint
            assert isinstance(message, Warning if ".W" in code else Error)
            assert not isinstance(message, Error) or ".E" in code


def test_one_error_per_forbidden_algorithm() -> None:
    with override_settings(DPOP_ALLOWED_ALGORITHMS=["none", "ES256", "HS256", "HS256"]):
        messages = check_settings()
    assert [message.id for message in messages] == [Codes.ALGORITHM_FORBIDDEN] * 2
    assert "'none'" in messages[0].msg and "'HS256'" in messages[1].msg


def test_algorithm_rule_is_the_verifiers_own() -> None:
    # One source of truth: the check reports ProofPolicy's own refusal.
    with override_settings(DPOP_ALLOWED_ALGORITHMS=["HS256"]):
        (message,) = check_settings()
    assert "RFC 9449 §4.3 check 5" in message.msg


def test_several_problems_are_all_reported() -> None:
    found = ids(DPOP_CLOCK_SKEW=-1, DPOP_PROOF_MAX_AGE=0, DPOP_REPLAY_STORE=None, DPOP_HTU_BASE_URL="x")
    assert found == [Codes.CLOCK_SKEW, Codes.MAX_AGE, Codes.REPLAY_DISABLED, Codes.HTU_BASE_URL]


def test_checks_are_registered_and_stop_management_commands() -> None:
    with override_settings(DPOP_ALLOWED_ALGORITHMS=["none"]):
        assert Codes.ALGORITHM_FORBIDDEN in [message.id for message in run_checks(tags=["security"])]
        with pytest.raises(SystemCheckError, match="django_dpop.E002"):
            call_command("check")
    call_command("check")  # and the default settings are clean


def test_cache_backend_that_cannot_be_imported_is_left_to_django() -> None:
    broken = {"default": {"BACKEND": "no.such.Cache"}}
    assert ids(DPOP_REPLAY_STORE=CACHE_STORE, CACHES=broken) == []


@pytest.mark.parametrize(
    ("atomic", "required", "store", "warned"),
    [
        (True, True, "django_dpop.storage.DatabaseNonceStore", True),
        (False, True, "django_dpop.storage.DatabaseNonceStore", False),
        (True, False, "django_dpop.storage.DatabaseNonceStore", False),
        (True, True, "django_dpop.storage.SignedNonceStore", False),
    ],
)
def test_database_nonces_rolled_back_with_sqlite_atomic_requests(
    monkeypatch: pytest.MonkeyPatch, atomic: bool, required: bool, store: str, warned: bool
) -> None:
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", atomic)
    found = ids(DPOP_NONCE_REQUIRED=required, DPOP_NONCE_STORE=store)
    assert found == ([Codes.NONCE_ROLLED_BACK] if warned else [])
