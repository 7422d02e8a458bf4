"""System checks of the JWT settings: each id fires on its bad value and not on the good one."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Error, Warning
from django.test.utils import override_settings

from django_dpop.test import TestIssuer
from django_dpop.tokens.checks import Codes, check_jwt_settings
from django_dpop.tokens.jwt import JWTTokenValidator


ISSUER = TestIssuer("https://as.example.com", alg="ES256")
JWT = "django_dpop.tokens.jwt.JWTTokenValidator"
GOOD = {
    "DPOP_JWT_ISSUERS": [{"issuer": "https://as.example.com", "jwks_uri": "https://as.example.com/jwks"}],
    "DPOP_JWT_AUDIENCE": "https://api.example.com",
    "DPOP_TOKEN_VALIDATORS": [JWT],
}


def entry(**options: Any) -> dict[str, Any]:
    return {
        "DPOP_JWT_ISSUERS": [{"issuer": "https://as.example.com", **options}],
        "DPOP_JWT_AUDIENCE": "https://api.example.com",
    }


def ids(**values: Any) -> list[str]:
    values.setdefault("DPOP_TOKEN_VALIDATORS", [JWT])
    with override_settings(**values):
        return [message.id for message in check_jwt_settings()]


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (Codes.ISSUERS_TYPE, {"DPOP_JWT_ISSUERS": {"issuer": "x"}}, GOOD),
    (Codes.ISSUERS_TYPE, {"DPOP_JWT_ISSUERS": ["https://as.example.com"]}, GOOD),
    (Codes.ISSUER_ENTRY, entry(), entry(discovery=True)),
    (Codes.ISSUER_ENTRY, entry(jwks_uri="https://a/jwks", discovery=True), entry(jwks_uri="https://a/jwks")),
    (Codes.ISSUER_ENTRY, entry(jwks_uri="https://a/jwks", audiences="x"), entry(jwks_uri="https://a/jwks")),
    (Codes.ISSUER_ENTRY, entry(keys=[{"kty": "oct", "k": "c2VjcmV0"}]), entry(keys=[ISSUER.public_jwk])),
    (Codes.ISSUER_ENTRY, entry(keys=[ISSUER.key.to_jwk(private=True)]), entry(keys=ISSUER.jwks)),
    (Codes.ISSUER_ENTRY, {"DPOP_JWT_ISSUERS": [{"jwks_uri": "https://a/jwks"}]}, GOOD),
    (
        Codes.ISSUER_HTTP,
        entry(jwks_uri="http://as.example.com/jwks"),
        entry(jwks_uri="https://as.example.com/jwks"),
    ),
    (
        Codes.ISSUER_HTTP,
        {
            **entry(discovery=True),
            "DPOP_JWT_ISSUERS": [{"issuer": "http://as.example.com", "discovery": True}],
        },
        {
            "DPOP_JWT_ISSUERS": [{"issuer": "http://as.example.com", "discovery": True}],
            "DPOP_JWT_AUDIENCE": "https://api.example.com",
            "DPOP_JWKS_ALLOW_HTTP": True,
            "DEBUG": True,
            "DPOP_TOKEN_VALIDATORS": [JWT],
        },
    ),
    (
        Codes.ALGORITHMS,
        {**GOOD, "DPOP_JWT_ALGORITHMS": ["RS256", "HS256"]},
        {**GOOD, "DPOP_JWT_ALGORITHMS": ["RS256"]},
    ),
    (Codes.ALGORITHMS, {**GOOD, "DPOP_JWT_ALGORITHMS": ["none"]}, GOOD),
    (Codes.ALGORITHMS, {**GOOD, "DPOP_JWT_ALGORITHMS": []}, GOOD),
    (
        Codes.ALGORITHMS,
        entry(jwks_uri="https://a/jwks", algorithms=["HS512"]),
        entry(jwks_uri="https://a/jwks", algorithms=["PS256"]),
    ),
    (Codes.AUDIENCE, {**GOOD, "DPOP_JWT_AUDIENCE": None}, GOOD),
    (
        Codes.AUDIENCE,
        {**entry(jwks_uri="https://a/jwks", audience=[]), "DPOP_JWT_AUDIENCE": None},
        entry(jwks_uri="https://a/jwks", audience=["https://x"]),
    ),
    (
        Codes.ACCEPTED_TYPES,
        {"DPOP_JWT_ACCEPTED_TYPES": "at+jwt"},
        {"DPOP_JWT_ACCEPTED_TYPES": ["application/at+jwt"]},
    ),
    (Codes.ACCEPTED_TYPES, {"DPOP_JWT_ACCEPTED_TYPES": []}, {"DPOP_JWT_ACCEPTED_TYPES": ["at+jwt"]}),
    (Codes.JWKS_NUMBERS, {"DPOP_JWKS_CACHE_SECONDS": 0}, {"DPOP_JWKS_CACHE_SECONDS": 60}),
    (Codes.JWKS_NUMBERS, {"DPOP_JWKS_REFETCH_INTERVAL": -1}, {"DPOP_JWKS_REFETCH_INTERVAL": 0}),
    (Codes.JWKS_NUMBERS, {"DPOP_JWKS_MAX_STALE": "600"}, {"DPOP_JWKS_MAX_STALE": 0}),
    (Codes.JWKS_NUMBERS, {"DPOP_JWKS_TIMEOUT": float("inf")}, {"DPOP_JWKS_TIMEOUT": 0.5}),
    (Codes.JWKS_NUMBERS, {"DPOP_JWKS_MAX_SIZE": 1.5}, {"DPOP_JWKS_MAX_SIZE": 65536}),
    (Codes.ALLOW_HTTP, {"DPOP_JWKS_ALLOW_HTTP": "yes"}, {"DPOP_JWKS_ALLOW_HTTP": False}),
    (
        Codes.ISSUER_DUPLICATE,
        {**GOOD, "DPOP_JWT_ISSUERS": GOOD["DPOP_JWT_ISSUERS"] * 2},
        GOOD,
    ),
    (
        Codes.ALLOW_HTTP_IN_PRODUCTION,
        {"DPOP_JWKS_ALLOW_HTTP": True, "DEBUG": False},
        {"DPOP_JWKS_ALLOW_HTTP": True, "DEBUG": True},
    ),
    (
        Codes.ACCEPTS_PLAIN_JWT,
        {"DPOP_JWT_ACCEPTED_TYPES": ["at+jwt", "JWT"]},
        {"DPOP_JWT_ACCEPTED_TYPES": ["AT+JWT"]},
    ),
    (
        Codes.VALIDATOR_NOT_LISTED,
        {**GOOD, "DPOP_TOKEN_VALIDATORS": ["django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator"]},
        {**GOOD, "DPOP_TOKEN_VALIDATORS": ["tests.tokens.test_jwt_checks.MyJWTValidator"]},
    ),
    (
        Codes.REFETCH_AFTER_EXPIRY,
        {"DPOP_JWKS_REFETCH_INTERVAL": 600, "DPOP_JWKS_CACHE_SECONDS": 300},
        {"DPOP_JWKS_REFETCH_INTERVAL": 300, "DPOP_JWKS_CACHE_SECONDS": 300},
    ),
]


class MyJWTValidator(JWTTokenValidator):
    """A subclass counts as the JWT validator (W009)."""


#: The settings these cases cover (tests/test_checks.py requires a check per DPOP_* setting).
TESTED_SETTINGS = {name for _, bad, _ in CASES for name in bad if name.startswith("DPOP_")}


def test_defaults_pass() -> None:
    assert check_jwt_settings() == []


@pytest.mark.parametrize(
    ("code", "bad", "good"), CASES, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]
)
def test_each_check_refuses_the_bad_value_and_passes_the_good_one(
    code: str, bad: dict[str, Any], good: dict[str, Any]
) -> None:
    assert code in ids(**bad)
    assert ids(**good) == []


def test_every_code_is_unique_tested_and_in_range() -> None:
    codes = [value for name, value in vars(Codes).items() if not name.startswith("_")]
    assert len(codes) == len(set(codes))
    allowed = {f"django_dpop.E0{n}" for n in range(20, 30)} | {f"django_dpop.W00{n}" for n in (7, 8, 9)}
    assert set(codes) <= allowed
    assert {code for code, _, _ in CASES} == set(codes)


def test_every_message_has_a_hint_and_the_right_level() -> None:
    for code, bad, _ in CASES:
        with override_settings(**{"DPOP_TOKEN_VALIDATORS": [JWT], **bad}):
            messages = [message for message in check_jwt_settings() if message.id == code]
        assert messages, code
        for message in messages:
            assert message.hint
            assert isinstance(message, Warning if ".W" in code else Error)


def test_an_entry_the_checks_refuse_is_ignored_by_the_validator() -> None:
    # One parser for both: what the checks refuse trusts no one at request time.
    from django.test import RequestFactory

    bad = {"issuer": ISSUER.issuer, "keys": [ISSUER.public_jwk], "algorithms": ["HS256"]}
    token = ISSUER.mint(audience="https://api.example.com", claims={"cnf": {"jkt": "x"}})
    with override_settings(
        DPOP_JWT_ISSUERS=[bad], DPOP_JWT_AUDIENCE="https://api.example.com", DPOP_TOKEN_VALIDATORS=[JWT]
    ):
        assert Codes.ALGORITHMS in [m.id for m in check_jwt_settings()]
        assert JWTTokenValidator().validate(RequestFactory().get("/"), token, scheme="dpop") is None
    good = {**bad, "algorithms": ["ES256"]}
    with override_settings(
        DPOP_JWT_ISSUERS=[good], DPOP_JWT_AUDIENCE="https://api.example.com", DPOP_TOKEN_VALIDATORS=[JWT]
    ):
        assert check_jwt_settings() == []
        assert JWTTokenValidator().validate(RequestFactory().get("/"), token, scheme="dpop") is not None
