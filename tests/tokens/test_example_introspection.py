"""The example project's introspection block: ``/api/me/`` validates unknown tokens at an AS."""

from __future__ import annotations

import runpy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import path

from django_dpop.test import DPoPAPIClient
from django_dpop.tokens import introspection
from example_project.api import MeView
from tests.factories import TestKey, make_proof
from tests.tokens.introspection_server import IntrospectionServer, serve


urlpatterns = [path("api/me/", MeView.as_view())]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
SETTINGS_FILE = Path(__file__).resolve().parents[2] / "example_project" / "settings.py"


def example_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("URL", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"DPOP_DEMO_INTROSPECTION_{name}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_block_is_off_without_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = example_settings(monkeypatch)
    assert "DPOP_TOKEN_VALIDATORS" not in values
    assert "DPOP_INTROSPECTION_URL" not in values


def test_block_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = example_settings(
        monkeypatch,
        DPOP_DEMO_INTROSPECTION_URL="https://as.example.com/introspect",
        DPOP_DEMO_INTROSPECTION_CLIENT_ID="rs",
        DPOP_DEMO_INTROSPECTION_CLIENT_SECRET="secret",
    )
    assert values["DPOP_TOKEN_VALIDATORS"] == [
        "django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator",
        "django_dpop.tokens.introspection.IntrospectionTokenValidator",
    ]
    assert values["DPOP_INTROSPECTION_URL"] == "https://as.example.com/introspect"
    assert (values["DPOP_INTROSPECTION_CLIENT_ID"], values["DPOP_INTROSPECTION_CLIENT_SECRET"]) == (
        "rs",
        "secret",
    )
    assert values["DPOP_INTROSPECTION_ALLOW_HTTP"] is False


@pytest.fixture
def idp(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[IntrospectionServer]:
    introspection.cache.clear()
    for server in serve():
        values = example_settings(
            monkeypatch,
            DPOP_DEMO_INTROSPECTION_URL=server.url,
            DPOP_DEMO_INTROSPECTION_CLIENT_ID=server.client_id,
            DPOP_DEMO_INTROSPECTION_CLIENT_SECRET=server.client_secret,
        )
        for name, value in values.items():
            if name.startswith("DPOP_"):
                setattr(settings, name, value)
        yield server
    introspection.cache.clear()


def test_unknown_token_is_introspected(idp: IntrospectionServer, key: TestKey) -> None:
    token = "from-another-as-" + "z" * 30
    idp.answers[token] = {
        "active": True,
        "token_type": "DPoP",
        "cnf": {"jkt": key.jkt},
        "client_id": "partner-app",
        "sub": "user-42",
        "scope": "read",
        "exp": int(time.time()) + 600,
    }
    proof = make_proof(key, "GET", "http://testserver/api/me/", access_token=token)
    response = DPoPAPIClient().get("/api/me/", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)
    assert response.status_code == 200, response.content
    body = response.json()
    assert {name: body[name] for name in ("client_id", "sub", "scope", "jkt", "source")} == {
        "client_id": "partner-app",
        "sub": "user-42",
        "scope": "read",
        "jkt": key.jkt,
        "source": "introspection",
    }
    assert len(idp.calls) == 1


def test_dot_tokens_never_reach_the_authorization_server(
    idp: IntrospectionServer, application: Any, user: Any
) -> None:
    client = DPoPAPIClient()
    client.obtain_token(application, user=user, scope="read")
    response = client.get("/api/me/")
    assert response.status_code == 200, response.content
    assert response.json()["source"] == "dot"
    assert response.json()["sub"] == str(user.pk)
    assert idp.calls == []
