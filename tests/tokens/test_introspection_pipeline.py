"""Introspected tokens through the real resource pipeline: DRF (``DPoPAuthentication``) and ``dpop_required``.

The authorization server is a real local endpoint (``tests.tokens.introspection_server``); the
pipeline verifies the proof, asks the introspection validator, then compares ``cnf.jkt`` with the
proof's key (RFC 9449 §7.1) and refuses a bound token presented as Bearer (§7.2).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.contrib.rest_framework.permissions import HasDPoPScope
from django_dpop.decorators import dpop_required
from django_dpop.tokens import introspection
from tests.factories import TestKey, make_proof
from tests.tokens.introspection_server import IntrospectionServer, serve


VALIDATOR = "django_dpop.tokens.introspection.IntrospectionTokenValidator"
METADATA = "https://api.example.com/.well-known/oauth-protected-resource"
TOKEN = "introspected-" + "t" * 30


def _describe(request: Any) -> dict[str, Any]:
    auth = request.auth
    return {"client_id": auth.client_id, "sub": auth.sub, "scope": auth.scope, "jkt": auth.jkt}


class DRFView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [HasDPoPScope]
    required_scopes = ["read"]

    def get(self, request: Any) -> Response:
        return Response(_describe(request))


@dpop_required(scopes=["read"])
def plain_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_describe(request))


urlpatterns = [path("drf/", DRFView.as_view()), path("plain/", plain_view)]
pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]
VIEWS = ["/drf/", "/plain/"]


@pytest.fixture
def idp(settings: Any) -> Iterator[IntrospectionServer]:
    introspection.cache.clear()
    for server in serve():
        settings.DPOP_TOKEN_VALIDATORS = [VALIDATOR]
        settings.DPOP_INTROSPECTION_URL = server.url
        settings.DPOP_INTROSPECTION_ALLOW_HTTP = True
        settings.DPOP_INTROSPECTION_CLIENT_ID = server.client_id
        settings.DPOP_INTROSPECTION_CLIENT_SECRET = server.client_secret
        settings.DPOP_INTROSPECTION_TIMEOUT = 2
        yield server
    introspection.cache.clear()


def _active(key: TestKey | None, **members: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "active": True,
        "client_id": "app-1",
        "sub": "alice",
        "scope": "read",
        "exp": int(time.time()) + 600,
    }
    if key is not None:
        answer.update(token_type="DPoP", cnf={"jkt": key.jkt})
    answer.update(members)
    return answer


def dpop_get(client: Client, view: str, key: TestKey, token: str = TOKEN) -> Any:
    proof = make_proof(key, "GET", f"http://testserver{view}", access_token=token)
    return client.get(view, HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)


def bearer_get(client: Client, view: str, token: str = TOKEN) -> Any:
    return client.get(view, HTTP_AUTHORIZATION=f"Bearer {token}")


def _refused(response: Any, status: int = 401, error: str = "invalid_token") -> str:
    """The refusal's challenge (DRF answers its own body; the challenge is the same on both)."""
    assert response.status_code == status, response.content
    challenge = response["WWW-Authenticate"]
    assert f'error="{error}"' in challenge, challenge
    return challenge


@pytest.mark.parametrize("view", VIEWS)
def test_bound_token(client: Client, idp: IntrospectionServer, key: TestKey, view: str) -> None:
    idp.answers[TOKEN] = _active(key)
    response = dpop_get(client, view, key)
    assert response.status_code == 200, response.content
    assert json.loads(response.content) == {
        "client_id": "app-1",
        "sub": "alice",
        "scope": "read",
        "jkt": key.jkt,
    }


@pytest.mark.parametrize("view", VIEWS)
def test_cnf_of_another_key(
    client: Client, idp: IntrospectionServer, key: TestKey, other_key: TestKey, view: str
) -> None:
    idp.answers[TOKEN] = _active(other_key)
    assert 'DPoP error="invalid_token"' in _refused(dpop_get(client, view, key))


@pytest.mark.parametrize("view", VIEWS)
def test_no_cnf_on_the_dpop_scheme(client: Client, idp: IntrospectionServer, key: TestKey, view: str) -> None:
    idp.answers[TOKEN] = _active(None)
    _refused(dpop_get(client, view, key))


@pytest.mark.parametrize("view", VIEWS)
def test_token_type_mismatch(client: Client, idp: IntrospectionServer, key: TestKey, view: str) -> None:
    idp.answers[TOKEN] = _active(key, token_type="Bearer")
    _refused(dpop_get(client, view, key))


@pytest.mark.parametrize("view", VIEWS)
def test_cnf_token_as_bearer(client: Client, idp: IntrospectionServer, key: TestKey, view: str) -> None:
    answer = _active(key)
    del answer["token_type"]  # only the binding tells: the pipeline refuses the downgrade (§7.2)
    idp.answers[TOKEN] = answer
    _refused(bearer_get(client, view))
    idp.answers[TOKEN] = _active(key)  # and with token_type DPoP
    introspection.cache.clear()
    _refused(bearer_get(client, view))


@pytest.mark.parametrize("view", VIEWS)
def test_unbound_token_as_bearer(client: Client, idp: IntrospectionServer, view: str) -> None:
    idp.answers[TOKEN] = _active(None, token_type="Bearer")
    response = bearer_get(client, view)
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["jkt"] is None


@pytest.mark.parametrize("view", VIEWS)
def test_inactive_expired_and_wrong_audience(
    client: Client, idp: IntrospectionServer, key: TestKey, view: str, settings: Any
) -> None:
    idp.answers["inactive"] = {"active": False}
    _refused(dpop_get(client, view, key, "inactive"))
    idp.answers["expired"] = _active(key, exp=int(time.time()) - 3600)
    _refused(dpop_get(client, view, key, "expired"))
    settings.DPOP_RESOURCE_IDENTIFIER = "https://api.example.com"
    idp.answers["other"] = _active(key, aud="https://other.example.com")
    _refused(dpop_get(client, view, key, "other"))
    idp.answers["mine"] = _active(key, aud="https://api.example.com")
    assert dpop_get(client, view, key, "mine").status_code == 200


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("raw", [(500, b"{}"), (200, b"<html/>"), (200, b"[]"), (200, b'{"active": "yes"}')])
def test_endpoint_failure_is_503(
    client: Client, idp: IntrospectionServer, key: TestKey, view: str, raw: tuple[int, bytes]
) -> None:
    idp.raw = raw
    response = dpop_get(client, view, key)
    assert response.status_code == 503, response.content
    assert response["Retry-After"]


@pytest.mark.parametrize("view", VIEWS)
def test_unreachable_and_timeout_are_503(
    client: Client, idp: IntrospectionServer, key: TestKey, view: str, settings: Any
) -> None:
    idp.answers[TOKEN] = _active(key)
    idp.delay = 1.0
    settings.DPOP_INTROSPECTION_TIMEOUT = 0.2
    assert dpop_get(client, view, key).status_code == 503
    settings.DPOP_INTROSPECTION_URL = "http://127.0.0.1:9/introspect"  # discard port: refused
    assert dpop_get(client, view, key).status_code == 503


@pytest.mark.parametrize("view", VIEWS)
def test_one_introspection_for_many_requests(
    client: Client, idp: IntrospectionServer, key: TestKey, view: str
) -> None:
    idp.answers[TOKEN] = _active(key)
    for _ in range(5):
        assert dpop_get(client, view, key).status_code == 200
    assert len(idp.calls) == 1


@pytest.mark.parametrize("view", VIEWS)
def test_broken_proof_costs_no_introspection(
    client: Client, idp: IntrospectionServer, key: TestKey, other_key: TestKey, view: str
) -> None:
    idp.answers[TOKEN] = _active(key)
    proof = make_proof(key, "GET", "http://testserver/elsewhere/", access_token=TOKEN)
    response = client.get(view, HTTP_AUTHORIZATION=f"DPoP {TOKEN}", HTTP_DPOP=proof)
    _refused(response, error="invalid_dpop_proof")
    assert idp.calls == []


@pytest.mark.parametrize("view", VIEWS)
def test_challenges_carry_resource_metadata(
    client: Client, idp: IntrospectionServer, key: TestKey, view: str, settings: Any
) -> None:
    idp.answers[TOKEN] = {"active": False}
    challenge = _refused(dpop_get(client, view, key))
    assert "resource_metadata" not in challenge
    settings.DPOP_RESOURCE_METADATA_URL = METADATA
    challenge = _refused(dpop_get(client, view, key))
    assert challenge.count(f'resource_metadata="{METADATA}"') == 2  # DPoP and Bearer
    settings.DPOP_ALLOW_BEARER_TOKENS = False
    no_credentials = client.get(view)
    assert no_credentials.status_code == 401
    assert no_credentials["WWW-Authenticate"].count(f'resource_metadata="{METADATA}"') == 1


@pytest.mark.parametrize("view", VIEWS)
def test_refusals_go_on_the_scheme_used(
    client: Client, idp: IntrospectionServer, key: TestKey, view: str
) -> None:
    idp.answers["inactive"] = {"active": False}
    challenge = _refused(bearer_get(client, view, "inactive"))
    dpop, _, bearer = challenge.partition(", Bearer")
    assert 'error="invalid_token"' in bearer and "error=" not in dpop
    # The downgrade of a DPoP token is reported on the DPoP challenge (RFC 9449 §7.2).
    idp.answers["bound"] = _active(key)
    dpop, _, bearer = _refused(bearer_get(client, view, "bound")).partition(", Bearer")
    assert 'error="invalid_token"' in dpop and "error=" not in bearer
