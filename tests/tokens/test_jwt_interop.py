"""JWT access-token forms of widely deployed authorization servers, beside the malformed forms
still refused (the same forms in introspection answers: test_introspection.py).

RFC 9068 §2.2.3 and RFC 7662 §2.2 make ``scope`` a space-separated string and RFC 9068 §2.2
asks for ``client_id`` and ``typ: at+jwt``. Servers this package must work with write otherwise:
Spring Authorization Server and Duende IdentityServer put ``scope`` as a JSON array, Okta, Entra
ID and Ory Hydra use ``scp``, Keycloak, Auth0 and Entra name the client in ``azp`` only, and
some servers send no ``typ`` at all (accepted only when ``DPOP_JWT_ACCEPTED_TYPES`` lists ``""``).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Warning as CheckWarning

from django_dpop.test import TestIssuer
from django_dpop.tokens.base import TokenClaims, scope_of
from django_dpop.tokens.checks import Codes, check_jwt_settings
from tests.tokens.test_jwt import JKT, bound, claims_of, refused, signed, validate


# -- scope ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "read write"}, {"read", "write"}),  # RFC 9068 §2.2.3
        ({"scope": ["read", "write"]}, {"read", "write"}),  # Spring AS, Duende
        ({"scope": ["read"]}, {"read"}),
        ({"scope": []}, set()),
        ({"scp": ["read", "write"]}, {"read", "write"}),  # Okta, Hydra
        ({"scp": "read write"}, {"read", "write"}),  # Entra ID
        ({"scope": "read", "scp": ["admin"]}, {"read"}),  # scope wins: scp is never added to it
        ({"scope": None, "scp": ["admin"]}, {"admin"}),  # None: TestIssuer leaves scope out
    ],
)
def test_scope_forms(trust: Any, issuer: TestIssuer, claims: dict[str, Any], scopes: set[str]) -> None:
    trust(issuer)
    result = validate(bound(issuer, **claims))
    assert result is not None
    assert result.scopes == scopes
    assert result.auth.scopes == scopes
    assert result.auth.is_valid(sorted(scopes)) is True
    assert result.auth.is_valid(["other"]) is False
    # The view still sees the claims as the issuer wrote them.
    for name, value in claims.items():
        if value is not None:
            assert result.auth.claims[name] == value


@pytest.mark.parametrize(
    "value",
    [5, True, {"read": True}, [5], ["read", None], [""], ["read write"], [" read"], ["read\n"], [["read"]]],
)
def test_malformed_scope_is_refused(trust: Any, issuer: TestIssuer, value: Any) -> None:
    trust(issuer)
    refused(bound(issuer, scope=value), "scope")
    refused(bound(issuer, scope=None, scp=value), "scope")
    refused(bound(issuer, scope=value, cnf=None), "scope", scheme="bearer")


def test_scope_of() -> None:
    assert scope_of({}) == ""
    assert scope_of({"scope": "a b"}) == "a b"
    assert scope_of({"scope": ["a", "b"]}) == "a b"
    assert scope_of({"scp": ["a"], "scope": ["b"]}) == "b"
    assert scope_of({"scope": ["a", "b c"]}) is None
    assert scope_of({"scope": ("a",)}) is None  # JSON has no tuples: only what a parser yields


# -- client_id ----------------------------------------------------------------------------------


def test_client_id_from_azp_when_there_is_no_client_id(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    assert validate(bound(issuer, client_id=None, azp="web-app")).auth.client_id == "web-app"
    assert validate(bound(issuer, client_id="app", azp="web-app")).auth.client_id == "app"
    assert validate(bound(issuer, client_id=None)).auth.client_id is None
    refused(bound(issuer, client_id=None, azp=["web-app"]), "azp")


def test_token_claims_client_id() -> None:
    assert TokenClaims(claims={"azp": "a"}).client_id == "a"
    assert TokenClaims(claims={"client_id": "c", "azp": "a"}).client_id == "c"
    assert TokenClaims(claims={"azp": 5}).client_id is None


# -- typ ----------------------------------------------------------------------------------------


def untyped(issuer: TestIssuer, **extra: Any) -> str:
    """A token of ``issuer`` whose header has no typ at all."""
    claims = {name: value for name, value in claims_of(issuer, **extra).items() if value is not None}
    return signed(issuer, {"alg": "RS256", "kid": issuer.kid}, claims)


def test_no_typ_is_refused_by_default(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    refused(untyped(issuer), "typ")
    trust(issuer, DPOP_JWT_ACCEPTED_TYPES=["at+jwt", "JWT"])  # "JWT" is not "no typ"
    refused(untyped(issuer), "typ")


def test_no_typ_accepted_when_listed(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer, DPOP_JWT_ACCEPTED_TYPES=["at+jwt", ""])
    result = validate(untyped(issuer))
    assert result is not None and result.jkt == JKT
    assert validate(bound(issuer)) is not None  # at+jwt still
    refused(bound(issuer, headers={"typ": "JWT"}), "typ")  # "" is not "JWT"
    # A typ that is there but not a string is malformed, not absent.
    for typ in (None, 5, ["at+jwt"]):
        refused(signed(issuer, {"alg": "RS256", "kid": issuer.kid, "typ": typ}, claims_of(issuer)), "typ")
    # Everything else is still checked on an untyped token.
    refused(untyped(issuer, aud="https://other.example.com"), "aud")
    refused(untyped(issuer, cnf=None), "not DPoP-bound")


def test_no_typ_listed_is_warned_about(settings: Any) -> None:
    settings.DPOP_JWT_ACCEPTED_TYPES = ["at+jwt", ""]
    messages = check_jwt_settings()
    assert [m.id for m in messages if isinstance(m, CheckWarning)] == [Codes.ACCEPTS_PLAIN_JWT]
    assert Codes.ACCEPTED_TYPES not in [m.id for m in messages]
