"""The example SPA's server side: its client by data migration, its redirect rule, its files, CORS.

The redirect rule is tested through DOT's real authorization view with the example project's
backend and validator; CORS through django-cors-headers' real middleware with the example's values.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client, override_settings
from oauth2_provider.models import get_application_model

from django_dpop.contrib.oauth2_provider import consent
from example_project import settings as example_settings
from example_project.spa import client as spa_client


ROOT = Path(__file__).resolve().parent.parent
JKT = "A" * 43


@pytest.fixture
def example(settings: Any) -> None:
    settings.ROOT_URLCONF = "example_project.urls"
    settings.OAUTH2_PROVIDER = {**example_settings.OAUTH2_PROVIDER, "ALWAYS_RELOAD_OAUTHLIB_CORE": True}
    settings.ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "spa.example.com"]
    for name in ("CORS_URLS_REGEX", "CORS_ALLOW_HEADERS", "CORS_EXPOSE_HEADERS"):
        setattr(settings, name, getattr(example_settings, name))
    settings.CORS_ALLOWED_ORIGINS = ["http://127.0.0.1:8001"]


def test_migrate_alone_creates_the_public_client(tmp_path: Path) -> None:
    """``manage.py migrate`` on an empty database, with the example settings: client ``spa`` exists."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_DB": str(tmp_path / "db"),
    }
    run = subprocess.run
    migrate = run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    script = (
        "import json; from oauth2_provider.models import get_application_model as m; "
        "a = m().objects.get(client_id='spa'); "
        "print(json.dumps([a.client_type, a.authorization_grant_type, a.redirect_uris, a.skip_authorization]))"
    )
    shown = run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout.strip().splitlines()[-1]) == [
        "public",
        "authorization-code",
        "http://127.0.0.1/spa/ http://[::1]/spa/",
        False,
    ]
    # A second migrate (and the function it uses) leaves the one client alone.
    again = run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr


@pytest.mark.django_db
def test_ensure_client_is_idempotent() -> None:
    first = spa_client.ensure_client(get_application_model())
    assert spa_client.ensure_client(get_application_model()).pk == first.pk
    assert get_application_model().objects.filter(client_id="spa").count() == 1


def authorize(client: Client, redirect_uri: str, client_id: str = "spa", **extra: Any) -> Any:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "read",
            "state": "s",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "dpop_jkt": JKT,
        }
    )
    return client.get(f"/o/authorize/?{query}", **extra)


def consent_shown(response: Any) -> bool:
    return response.status_code == 200 and b'name="allow"' in response.content


@pytest.fixture
def signed_in(example: None, db: Any, user: Any) -> Client:
    spa_client.ensure_client(get_application_model())
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("host", "redirect_uri"),
    [
        ("testserver", "http://testserver/spa/"),  # same origin, whatever the host...
        ("localhost:8000", "http://localhost:8000/spa/"),  # ...and port
        ("spa.example.com", "http://spa.example.com/spa/"),
        ("testserver", "http://127.0.0.1:8001/spa/"),  # RFC 8252 §7.3 loopback, any port
        ("testserver", "http://127.0.0.1:53124/spa/"),
        ("testserver", "http://[::1]:8001/spa/"),
    ],
)
def test_redirect_uris_accepted(signed_in: Client, host: str, redirect_uri: str) -> None:
    response = authorize(signed_in, redirect_uri, HTTP_HOST=host)
    assert consent_shown(response), response.content[:300]
    # dpop_jkt is kept on the server for the consent POST, not in the form.
    pending = signed_in.session[consent.SESSION_KEY]
    assert [record["dpop_jkt"] for record in pending.values()] == [JKT]
    assert JKT.encode() not in response.content


@pytest.mark.parametrize(
    ("host", "redirect_uri"),
    [
        ("testserver", "http://spa.example.com/spa/"),  # another host than the request's
        ("localhost:8000", "http://localhost:8001/spa/"),  # another port
        ("testserver", "https://testserver/spa/"),  # another scheme
        ("testserver", "http://testserver/spa/other/"),  # another path
        ("testserver", "http://testserver/spa"),
        ("testserver", "http://testserver/spa/?x=1"),
        ("testserver", "http://127.0.0.1:8001/elsewhere/"),
        ("testserver", "http://localhost:8001/spa/"),  # loopback by name: not RFC 8252's rule
        ("testserver", "http://user@testserver/spa/"),
    ],
)
def test_redirect_uris_refused(signed_in: Client, host: str, redirect_uri: str) -> None:
    response = authorize(signed_in, redirect_uri, HTTP_HOST=host)
    assert not consent_shown(response)
    assert response.status_code == 400


def test_origin_header_cannot_be_sent_by_a_client(signed_in: Client) -> None:
    """The origin oauthlib sees comes from Django's request, never from a client's header."""
    response = authorize(
        signed_in,
        "http://evil.example/spa/",
        HTTP_X_EXAMPLE_REQUEST_ORIGIN="http://evil.example",
        HTTP_X_FORWARDED_HOST="evil.example",
    )
    assert response.status_code == 400


def test_the_same_origin_rule_is_for_the_spa_client_only(signed_in: Client, user: Any) -> None:
    application = get_application_model()
    application.objects.create(
        name="other",
        client_id="other-public",
        client_type=application.CLIENT_PUBLIC,
        authorization_grant_type=application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://other.example/cb",
    )
    assert authorize(signed_in, "http://testserver/spa/", client_id="other-public").status_code == 400
    assert consent_shown(authorize(signed_in, "https://other.example/cb", client_id="other-public"))


def test_a_disallowed_host_is_refused(signed_in: Client) -> None:
    assert authorize(signed_in, "http://evil.example/spa/", HTTP_HOST="evil.example").status_code == 400


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/spa/", "text/html"),
        ("/spa/index.html", "text/html"),
        ("/spa/app.js", "javascript"),
        ("/spa/dpop.js", "javascript"),
        ("/spa/keystore.js", "javascript"),
        ("/spa/style.css", "text/css"),
    ],
)
def test_spa_files_are_served(example: None, path: str, content_type: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert content_type in response["Content-Type"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_spa_page_has_the_buttons_and_a_csp(example: None) -> None:
    page = b"".join(Client().get("/spa/").streaming_content).decode()
    assert ">Sign in</button>" in page and ">Call API</button>" in page and 'id="me"' in page
    assert "script-src 'self'" in page  # no inline script, no CDN
    # Every script and stylesheet from the SPA's own directory: nothing fetched from elsewhere.
    assert set(re.findall(r'(?:src|href)="([^"]*)"', page)) == {"./app.js", "./style.css"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/spa/missing.js", 404),
        ("/spa/../settings.py", 400),  # SuspiciousFileOperation: outside the SPA's directory
        ("/spa/%2e%2e/settings.py", 400),
        ("/spa/%2e%2e/client.py", 400),
    ],
)
def test_spa_serves_nothing_else(example: None, path: str, status: int) -> None:
    assert Client().get(path).status_code == status


def test_spa_files_are_read_only(example: None) -> None:
    assert Client().post("/spa/").status_code == 405


# -- CORS through django-cors-headers' middleware, with the example project's values ---------------


@pytest.mark.django_db
def test_cors_preflight_allows_dpop_at_the_token_endpoint(example: None) -> None:
    response = Client().options(
        "/o/token/",
        HTTP_ORIGIN="http://127.0.0.1:8001",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,dpop",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://127.0.0.1:8001"
    allowed = {name.strip().lower() for name in response["Access-Control-Allow-Headers"].split(",")}
    assert {"dpop", "authorization", "content-type"} <= allowed
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.django_db
def test_cors_exposes_the_nonce_and_the_challenge_at_the_api(example: None) -> None:
    response = Client().get("/api/me/", HTTP_ORIGIN="http://127.0.0.1:8001")
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == "http://127.0.0.1:8001"
    exposed = {name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")}
    assert {"dpop-nonce", "www-authenticate"} <= exposed


@pytest.mark.django_db
def test_cors_refuses_other_origins_and_other_paths(example: None) -> None:
    other = Client().get("/api/me/", HTTP_ORIGIN="http://evil.example")
    assert "Access-Control-Allow-Origin" not in other
    with override_settings(CORS_ALLOWED_ORIGINS=["http://127.0.0.1:8001"]):
        login = Client().get("/accounts/login/", HTTP_ORIGIN="http://127.0.0.1:8001")
    assert "Access-Control-Allow-Origin" not in login  # pages are navigated to, never fetched
