"""The validator seam through the real DRF, decorator and mixin surfaces (RFC 9449 §7, §6).

Validators are asked in order after the proof passed; the first answer that is not None wins;
None from all is ``invalid_token``; a validator's failure is a 503 with ``Retry-After``, never a
500 and never an acceptance.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client
from django.urls import path
from django.views import View
from oauth2_provider.contrib.rest_framework import TokenHasScope
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.contrib.rest_framework.permissions import HasDPoPScope
from django_dpop.decorators import dpop_required
from django_dpop.mixins import DPoPRequiredMixin
from django_dpop.tokens import TokenClaims, ValidatedToken
from tests.factories import make_proof
from tests.seam.validators import (
    BuggyValidator,
    DownValidator,
    RefusingValidator,
    StaticValidator,
    WrongAnswerValidator,
    claims_token,
)


LOG: list[Any] = []
FIRST = StaticValidator(log=LOG)
SECOND = StaticValidator(log=LOG)


class ClaimsView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [HasDPoPScope]
    required_scopes = ["read"]

    def get(self, request: Any) -> Response:
        auth = request.auth
        return Response(
            {
                "sub": auth["sub"] if isinstance(auth, TokenClaims) else None,
                "dot": not isinstance(auth, TokenClaims),
                "user": getattr(request.user, "username", None),
            }
        )


class SecondOnlyAuthentication(DPoPAuthentication):
    token_validators = [SECOND]


class OwnValidatorsView(ClaimsView):
    authentication_classes = [SecondOnlyAuthentication]


class AdminClaimsView(ClaimsView):
    required_scopes = ["admin"]


class DOTScopeView(ClaimsView):
    permission_classes = [TokenHasScope]


class DOTAdminScopeView(DOTScopeView):
    required_scopes = ["admin"]


@dpop_required(scopes=["read"])
def plain(request: HttpRequest) -> JsonResponse:
    auth = request.auth  # type: ignore[attr-defined]
    return JsonResponse(
        {"sub": auth["sub"] if isinstance(auth, TokenClaims) else None, "user": str(request.user)}
    )


@dpop_required(validators=[SECOND])
def plain_own(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": request.auth["sub"]})  # type: ignore[attr-defined]


class MixinView(DPoPRequiredMixin, View):
    token_validators = [SECOND]

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"sub": request.auth["sub"]})  # type: ignore[attr-defined]


class SettingMixinView(DPoPRequiredMixin, View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"sub": request.auth["sub"]})  # type: ignore[attr-defined]


urlpatterns = [
    path("drf/", ClaimsView.as_view()),
    path("drf-own/", OwnValidatorsView.as_view()),
    path("drf-admin/", AdminClaimsView.as_view()),
    path("drf-dot-scope/", DOTScopeView.as_view()),
    path("drf-dot-admin/", DOTAdminScopeView.as_view()),
    path("plain/", plain),
    path("plain-own/", plain_own),
    path("mixin/", MixinView.as_view()),
    path("mixin-setting/", SettingMixinView.as_view()),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

SURFACES = ["drf", "plain", "mixin-setting"]


@pytest.fixture(autouse=True)
def validators(settings: Any) -> None:
    LOG.clear()
    FIRST.tokens.clear()
    SECOND.tokens.clear()
    settings.DPOP_TOKEN_VALIDATORS = [FIRST, SECOND]


def dpop(client: Client, key: Any, token: str, path: str, *, proof: str | None = None, **kwargs: Any) -> Any:
    url = f"http://testserver/{path}/"
    if proof is None:
        proof = make_proof(key, "GET", url, access_token=token, **kwargs)
    return client.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof})


def asked(*validators: Any) -> list[Any]:
    return [entry[0] for entry in LOG if entry[0] in validators]


@pytest.mark.parametrize("surface", SURFACES)
def test_second_validator_answers_when_the_first_does_not_know(client, key, surface):
    SECOND.tokens["t1"] = claims_token(key.jkt)
    response = dpop(client, key, "t1", surface)
    assert response.status_code == 200, response.content
    assert response.json()["sub"] == "alice"
    assert asked(FIRST, SECOND) == [FIRST, SECOND]
    assert LOG[0][1:] == ("t1", "dpop")


@pytest.mark.parametrize("surface", SURFACES)
def test_first_answer_wins(client, key, other_key, surface):
    FIRST.tokens["t1"] = claims_token(key.jkt)
    SECOND.tokens["t1"] = claims_token(other_key.jkt)  # never asked
    response = dpop(client, key, "t1", surface)
    assert response.status_code == 200, response.content
    assert asked(FIRST, SECOND) == [FIRST]


@pytest.mark.parametrize("surface", SURFACES)
def test_none_from_every_validator_is_invalid_token(client, key, surface):
    response = dpop(client, key, "unknown", surface)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    assert asked(FIRST, SECOND) == [FIRST, SECOND]


@pytest.mark.parametrize("surface", SURFACES)
def test_no_validator_at_all_refuses(client, key, settings, surface):
    settings.DPOP_TOKEN_VALIDATORS = []
    response = dpop(client, key, "t1", surface)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("surface", SURFACES)
def test_a_validator_refusing_its_token_stops_the_chain(client, key, settings, surface):
    refusing = RefusingValidator(log=LOG)
    SECOND.tokens["t1"] = claims_token(key.jkt)
    settings.DPOP_TOKEN_VALIDATORS = [refusing, SECOND]
    response = dpop(client, key, "t1", surface)
    assert response.status_code == 401
    assert "The access token expired" in response.headers["WWW-Authenticate"]
    assert asked(refusing, SECOND) == [refusing]


@pytest.mark.parametrize("surface", SURFACES)
def test_broken_proof_never_reaches_a_validator(client, key, other_key, surface):
    FIRST.tokens["t1"] = claims_token(key.jkt)
    for proof in [
        "not-a-jwt",
        make_proof(other_key, "GET", f"http://testserver/{surface}/", access_token="other"),  # ath
        make_proof(key, "POST", f"http://testserver/{surface}/", access_token="t1"),  # htm
        make_proof(key, "GET", "http://testserver/elsewhere/", access_token="t1"),  # htu
    ]:
        response = dpop(client, key, "t1", surface, proof=proof)
        assert response.status_code == 401
        assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]
    assert LOG == []


@pytest.mark.parametrize("surface", SURFACES)
def test_binding_is_the_pipelines_check(client, key, other_key, surface):
    FIRST.tokens["bound-elsewhere"] = claims_token(other_key.jkt)
    FIRST.tokens["unbound"] = claims_token(None)
    for token, description in [
        ("bound-elsewhere", "Invalid DPoP key binding"),
        ("unbound", "not DPoP-bound"),
    ]:
        response = dpop(client, key, token, surface)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert description in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("surface", SURFACES)
def test_bearer_asks_validators_with_the_bearer_scheme(client, surface):
    FIRST.tokens["plain"] = claims_token(None)
    response = client.get(f"http://testserver/{surface}/", headers={"Authorization": "Bearer plain"})
    assert response.status_code == 200, response.content
    assert LOG[0][1:] == ("plain", "bearer")


@pytest.mark.parametrize("surface", SURFACES)
def test_bound_token_from_a_validator_is_refused_as_bearer(client, key, surface):
    # RFC 9449 §7.2: the downgrade check runs on what any validator reports.
    FIRST.tokens["bound"] = claims_token(key.jkt)
    response = client.get(f"http://testserver/{surface}/", headers={"Authorization": "Bearer bound"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    assert "presented as Bearer" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("surface", SURFACES)
def test_unknown_bearer_token_is_refused_on_the_bearer_scheme(client, surface):
    response = client.get(f"http://testserver/{surface}/", headers={"Authorization": "Bearer nobody"})
    assert response.status_code == 401
    header = response.headers["WWW-Authenticate"]
    assert 'Bearer error="invalid_token"' in header or 'Bearer realm="api", error="invalid_token"' in header
    assert not header.startswith('DPoP error="')


# -- failures: 503 with Retry-After, never 500, never accepted --------------------------------------


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("failing", [DownValidator, BuggyValidator, WrongAnswerValidator])
def test_failing_validator_is_503_with_retry_after(client, key, settings, surface, failing, caplog):
    broken = failing(log=LOG)
    SECOND.tokens["t1"] = claims_token(key.jkt)  # would accept: must not be reached
    settings.DPOP_TOKEN_VALIDATORS = [broken, SECOND]
    settings.DPOP_RETRY_AFTER = 7
    with caplog.at_level(logging.ERROR, logger="django_dpop"):
        response = dpop(client, key, "t1", surface)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert asked(broken, SECOND) == [broken]
    assert caplog.records, "the failure is logged"


@pytest.mark.parametrize("surface", SURFACES)
def test_unloadable_validator_setting_is_503(client, key, settings, surface):
    settings.DPOP_TOKEN_VALIDATORS = ["tests.seam.validators.Missing"]
    response = dpop(client, key, "t1", surface)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("surface", SURFACES)
def test_store_failure_is_503_with_retry_after(client, key, settings, surface):
    settings.DPOP_REPLAY_STORE = "tests.contrib.rest_framework.conftest.FailingStore"
    FIRST.tokens["t1"] = claims_token(key.jkt)
    response = dpop(client, key, "t1", surface)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert LOG == []  # the proof (replay store) comes first


# -- per-surface overrides --------------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["drf-own", "plain-own", "mixin"])
def test_surface_validators_replace_the_setting(client, key, surface):
    FIRST.tokens["t1"] = claims_token(key.jkt)  # in the setting only: not asked
    response = dpop(client, key, "t1", surface)
    assert response.status_code == 401
    assert asked(FIRST) == []
    SECOND.tokens["t1"] = claims_token(key.jkt)
    response = dpop(client, key, "t1", surface)
    assert response.status_code == 200, response.content
    assert asked(FIRST) == []


def test_validators_given_as_import_paths_and_classes(client, key, settings):
    settings.DPOP_TOKEN_VALIDATORS = [
        "tests.seam.validators.StaticValidator",
        StaticValidator,
        "django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator",
    ]
    response = dpop(client, key, "unknown", "drf")
    assert response.status_code == 401


# -- scopes: DRF's HasDPoPScope and DOT's TokenHasScope with claims and DOT tokens --------------


@pytest.mark.parametrize(("path", "scope", "expected"), [
    ("drf", "read", 200),
    ("drf", "write", 403),
    ("drf-admin", "read admin", 200),
    ("drf-admin", "read", 403),
    ("drf-dot-scope", "read", 200),
    ("drf-dot-scope", "write", 403),
    ("drf-dot-admin", "admin", 200),
    ("drf-dot-admin", "read", 403),
    ("plain", "read", 200),
    ("plain", "write", 403),
])  # fmt: skip
def test_scope_permissions_with_claims(client, key, path, scope, expected):
    FIRST.tokens["t1"] = claims_token(key.jkt, scope=scope)
    response = dpop(client, key, "t1", path)
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(("path", "scope", "expected"), [
    ("drf", "read", 200),
    ("drf", "write", 403),
    ("drf-dot-scope", "read", 200),
    ("drf-dot-scope", "write", 403),
    ("drf-dot-admin", "admin", 200),
    ("drf-dot-admin", "read", 403),
])  # fmt: skip
def test_scope_permissions_with_dot_tokens(client, key, make_token, settings, path, scope, expected):
    settings.DPOP_TOKEN_VALIDATORS = ["django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator"]
    token = make_token(jkt=key.jkt, scope=scope)
    response = dpop(client, key, token.token, path)
    assert response.status_code == expected, response.content
    if expected == 200:
        assert response.json()["dot"] is True and response.json()["user"] == "alice"


def test_has_dpop_scope_refuses_a_request_without_token(client):
    response = client.get("http://testserver/drf/")
    assert response.status_code == 401


def test_claims_token_user_is_anonymous_on_plain_views(client, key):
    FIRST.tokens["t1"] = claims_token(key.jkt)
    response = dpop(client, key, "t1", "plain")
    assert response.status_code == 200
    assert response.json()["user"] == "AnonymousUser"


def test_validated_token_user_is_request_user(client, key, user):
    FIRST.tokens["t1"] = ValidatedToken(
        auth=TokenClaims(claims={"sub": "alice"}, scope="read"),
        user=user,
        jkt=key.jkt,
        scopes=frozenset({"read"}),
    )
    response = dpop(client, key, "t1", "drf")
    assert response.status_code == 200
    assert response.json()["user"] == "alice"
