"""Hostile ``Authorization`` / ``DPoP`` headers on every resource surface: a 400 or 401, never more.

DRF views, ``dpop_required`` (sync and async, WSGI and ASGI) and ``DPoPRequiredMixin``: none of
these inputs may authenticate, answer 500 or answer 403, and every 401 carries a challenge.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client
from django.urls import path
from django.views import View
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.decorators import dpop_required
from django_dpop.mixins import DPoPRequiredMixin
from tests.factories import make_proof


class DRFView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


@dpop_required
def sync_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@dpop_required
async def async_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


class MixinView(DPoPRequiredMixin, View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"ok": True})


urlpatterns = [
    path("drf/", DRFView.as_view()),
    path("sync/", sync_view),
    path("async/", async_view),
    path("mixin/", MixinView.as_view()),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
PATHS = ["/drf/", "/sync/", "/async/", "/mixin/"]


@pytest.fixture
def bound(make_token: Any, key: Any) -> Any:
    return make_token(jkt=key.jkt)


def hostile_cases(token: str, proof: str) -> dict[str, dict[str, str]]:
    """Name -> META headers. ``token`` is a valid bound token, ``proof`` a valid proof for /drf/."""
    return {
        "huge authorization": {"HTTP_AUTHORIZATION": "DPoP " + "a" * 200_000, "HTTP_DPOP": proof},
        "huge proof": {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": "a" * 200_000},
        "huge proof segments": {
            "HTTP_AUTHORIZATION": f"DPoP {token}",
            "HTTP_DPOP": ".".join(["e" * 70_000] * 3),
        },
        "non-ascii token": {"HTTP_AUTHORIZATION": "DPoP t\u00f6ken", "HTTP_DPOP": proof},
        "non-ascii scheme": {"HTTP_AUTHORIZATION": f"DP\u00f6P {token}", "HTTP_DPOP": proof},
        "non-ascii proof": {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": "\u00e9\u00e9.\u00e9.\u00e9"},
        "latin-1 mojibake proof": {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": proof + "\u00ff"},
        "NUL in token": {"HTTP_AUTHORIZATION": f"DPoP {token}\x00", "HTTP_DPOP": proof},
        "NUL in proof": {
            "HTTP_AUTHORIZATION": f"DPoP {token}",
            "HTTP_DPOP": proof[:10] + "\x00" + proof[10:],
        },
        "repeated authorization": {"HTTP_AUTHORIZATION": f"DPoP {token},DPoP {token}", "HTTP_DPOP": proof},
        "repeated proof": {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": f"{proof},{proof}"},
        "repeated proof with space": {
            "HTTP_AUTHORIZATION": f"DPoP {token}",
            "HTTP_DPOP": f"{proof}, {proof}",
        },
        "empty dpop token": {"HTTP_AUTHORIZATION": "DPoP ", "HTTP_DPOP": proof},
        "dpop scheme alone": {"HTTP_AUTHORIZATION": "DPoP", "HTTP_DPOP": proof},
        "empty proof": {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": ""},
        "bearer with proof": {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_DPOP": proof},
        "upper bearer with proof": {"HTTP_AUTHORIZATION": f"BEARER {token}", "HTTP_DPOP": proof},
        "lower bearer bound": {"HTTP_AUTHORIZATION": f"bearer {token}"},
        "bearer and dpop": {"HTTP_AUTHORIZATION": f"Bearer {token}, DPoP {token}", "HTTP_DPOP": proof},
        "tab separator": {"HTTP_AUTHORIZATION": f"DPoP\t{token}", "HTTP_DPOP": proof},
        "newline in token": {"HTTP_AUTHORIZATION": f"DPoP {token}\nx", "HTTP_DPOP": proof},
        "proof as token": {"HTTP_AUTHORIZATION": f"DPoP {proof}", "HTTP_DPOP": proof},
        "only dots": {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": ".."},
        "only equals": {"HTTP_AUTHORIZATION": "DPoP ===", "HTTP_DPOP": proof},
    }


CASE_NAMES = list(hostile_cases("t", "p"))


def check_refusal(response: Any) -> None:
    assert response.status_code in (400, 401), (response.status_code, response.content[:300])
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("DPoP ")
        assert "algs=" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("url", PATHS)
def test_hostile_headers_over_wsgi(bound, key, name, url):
    # The proof is valid for /drf/ only on the DRF view; elsewhere the htu differs, which is
    # fine: the point is that a well-formed proof beside hostile input changes nothing.
    proof = make_proof(key, "GET", f"http://testserver{url}", access_token=bound.token)
    headers = hostile_cases(bound.token, proof)[name]
    check_refusal(Client().get(url, **headers))


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("url", ["/async/", "/drf/"])
def test_hostile_headers_over_asgi(bound, key, name, url):
    proof = make_proof(key, "GET", f"http://testserver{url}", access_token=bound.token)
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in hostile_cases(bound.token, proof)[name].items()
    }
    if any("\x00" in value or "\n" in value for value in headers.values()):
        pytest.skip("an ASGI server never delivers NUL or newline inside a header value")
    response = async_to_sync(AsyncClient(headers=headers).get)(url)
    check_refusal(response)


@pytest.mark.parametrize("url", PATHS)
def test_same_token_and_proof_are_accepted(bound, key, url):
    """The control case: the hostile cases above differ from an accepted request only by the input."""
    proof = make_proof(key, "GET", f"http://testserver{url}", access_token=bound.token)
    response = Client().get(url, HTTP_AUTHORIZATION=f"DPoP {bound.token}", HTTP_DPOP=proof)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "host", ["evil.example.net", "testserver\u00e9", "a" * 5000, "[::1", "testserver:99999x"]
)
@pytest.mark.parametrize("url", PATHS)
def test_hostile_host_is_a_400(bound, key, url, host):
    """The htu needs the host: one Django refuses (ALLOWED_HOSTS, syntax) is a 400, never a 500."""
    proof = make_proof(key, "GET", f"http://{host}{url}", access_token=bound.token)
    response = Client().get(url, HTTP_HOST=host, HTTP_AUTHORIZATION=f"DPoP {bound.token}", HTTP_DPOP=proof)
    assert response.status_code == 400
