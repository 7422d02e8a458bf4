"""The documented example views run, as written, for every kind of request they accept.

The code block of docs/plain-views.md is executed as it stands and routed; each accepted kind of
token (DPoP-bound, Bearer, client credentials without a user, a token of a non-DOT validator)
must get a 200, never a 500 (issue 9 item 9: the example dereferenced ``request.dpop_proof``,
which is None for Bearer tokens).
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
from django.test import Client
from django.urls import path

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.tokens import AccessTokenValidator, TokenClaims, ValidatedToken
from tests.factories import make_proof


DOCS = Path(__file__).resolve().parent.parent / "docs"


def _module_from_doc(name: str, first_line: str | None = None) -> types.ModuleType:
    text = (DOCS / name).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    (code,) = [block for block in blocks if first_line is None or block.startswith(first_line)]
    module = types.ModuleType(f"doc_example_{name}")
    exec(compile(code, str(DOCS / name), "exec"), module.__dict__)  # noqa: S102 - our own docs
    return module


plain_views = _module_from_doc("plain-views.md")
tutorial_api = _module_from_doc("tutorial.md", "# mysite/api.py")
# The tutorial sets DPoPAuthentication as DRF's default; DRF reads defaults at class creation.
tutorial_api.MeView.authentication_classes = [DPoPAuthentication]
urlpatterns = [
    path("me/", plain_views.me),
    path("me-class/", plain_views.MeView.as_view()),
    path("tutorial/me/", tutorial_api.MeView.as_view()),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
PATHS = ["/me/", "/me-class/"]


class ClaimsValidator(AccessTokenValidator):
    """A non-DOT validator: ``request.auth`` is a TokenClaims (as for JWT or introspected tokens)."""

    def validate(self, request, token, *, scheme):
        if token != "jwt-like-token":
            return None
        return ValidatedToken(
            auth=TokenClaims({"scope": "read", "sub": "x"}, scope="read"),
            user=None,
            jkt=None,
            scopes=frozenset({"read"}),
        )


def _dpop(path_: str, token: str, key) -> dict[str, str]:
    proof = make_proof(key, "GET", f"http://testserver{path_}", access_token=token)
    return {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": proof}


@pytest.mark.parametrize("path_", PATHS)
def test_dpop_token(path_, make_token, key) -> None:
    token = make_token(jkt=key.jkt, scope="read").token
    response = Client().get(path_, **_dpop(path_, token, key))
    assert response.status_code == 200
    assert response.json() == {"scope": "read", "jkt": key.jkt}


@pytest.mark.parametrize("path_", PATHS)
@pytest.mark.parametrize("with_user", [True, False], ids=["user", "client-credentials"])
def test_bearer_token(path_, with_user, make_token) -> None:
    token = make_token(scope="read", **({} if with_user else {"user": None})).token
    response = Client().get(path_, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response.json() == {"scope": "read", "jkt": None}


@pytest.mark.parametrize("path_", PATHS)
def test_token_of_another_validator(path_, settings) -> None:
    settings.DPOP_TOKEN_VALIDATORS = [ClaimsValidator()]
    response = Client().get(path_, HTTP_AUTHORIZATION="Bearer jwt-like-token")
    assert response.status_code == 200, response.content
    assert response.json() == {"scope": "read", "jkt": None}


@pytest.mark.parametrize("path_", PATHS)
def test_refusal_control(path_, make_token) -> None:
    """The same views still refuse: a missing scope is 403, no credentials 401."""
    token = make_token(scope="write").token
    assert Client().get(path_, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403
    assert Client().get(path_).status_code == 401


@pytest.mark.parametrize("bearer", [False, True], ids=["dpop", "bearer"])
def test_tutorial_view(bearer, make_token, key) -> None:
    """The tutorial's view (DRF, DPoPAuthentication) with Bearer tokens switched on as well."""
    path_ = "/tutorial/me/"
    if bearer:
        token = make_token(scope="read").token
        response = Client().get(path_, HTTP_AUTHORIZATION=f"Bearer {token}")
    else:
        token = make_token(jkt=key.jkt, scope="read").token
        response = Client().get(path_, **_dpop(path_, token, key))
    assert response.status_code == 200, response.content
    assert response.json()["jkt"] == (None if bearer else key.jkt)
