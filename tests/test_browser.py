"""End to end in a real headless Chromium: the example SPA (``/spa/``) against the live example project.

Debian's ``/usr/bin/chromium`` driven by playwright (never a downloaded browser build), one browser
for the module and a fresh context (profile storage, IndexedDB, cookies) per test. The SPA signs in
through the real login and consent pages, calls ``/api/me/`` with a DPoP-bound token, reloads and
calls again with the same IndexedDB key, refreshes, and follows ``use_dpop_nonce`` at the token
endpoint and at the API; same-origin and from a second origin (CORS), with nonces on and off.
A screenshot of each final page is kept in ``test-artifacts/`` (``DPOP_TEST_ARTIFACTS``);
``DPOP_UPDATE_DOCS_SCREENSHOT=1`` also writes ``docs/img/spa.png``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding
from django_dpop.core import jwk_thumbprint
from example_project import settings as example_settings
from example_project.spa import client as spa_client
from tests import services


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
WEBROOT = ROOT / "example_project" / "spa" / "webroot"
ARTIFACTS = Path(os.environ.get("DPOP_TEST_ARTIFACTS") or ROOT / "test-artifacts")
PASSWORD = "browser-test-password"
# Chromium as root in a container: no sandbox, no GPU, nothing fetched in the background.
# playwright adds --headless and a fresh temporary --user-data-dir for every launch.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000

# The private key from IndexedDB, exported if the browser let it (it must not), and its public JWK.
KEY_PROBE = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("django-dpop-spa");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const pair = await new Promise((resolve, reject) => {
    const request = db.transaction("keys").objectStore("keys").get("dpop-es256");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
  let exported = "exported";
  try { await crypto.subtle.exportKey("jwk", pair.privateKey); } catch (error) { exported = error.name; }
  return {
    extractable: pair.privateKey.extractable,
    exported,
    publicJwk: await crypto.subtle.exportKey("jwk", pair.publicKey),
  };
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # playwright's sync API keeps an asyncio loop on this thread, so Django takes the test's own
    # (plain, synchronous) ORM calls for calls from a coroutine: tell it they are not.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=services.CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def second_origin() -> Iterator[str]:
    """The same SPA files served by a plain static server on another origin (127.0.0.1, own port)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(WEBROOT)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def nonce_required() -> bool:
    return False  # tests parametrize it


@pytest.fixture
def example_server(live_server: Any, second_origin: str, nonce_required: bool) -> Iterator[str]:
    """The live server answering as the example project (its DOT config, CORS for the second origin)."""
    with override_settings(
        ROOT_URLCONF="example_project.urls",
        OAUTH2_PROVIDER={**example_settings.OAUTH2_PROVIDER, "ALWAYS_RELOAD_OAUTHLIB_CORE": True},
        DPOP_ALLOW_BEARER_TOKENS=False,
        DPOP_NONCE_REQUIRED=nonce_required,
        CORS_ALLOWED_ORIGINS=[second_origin],
        CORS_URLS_REGEX=example_settings.CORS_URLS_REGEX,
        # The live server also serves STATIC_URL (the login page's admin CSS): nothing to serve here.
        STATIC_ROOT=str(ARTIFACTS / "no-static"),
    ):
        # What the example project's data migration creates (a transactional test starts empty).
        spa_client.ensure_client(get_application_model())
        get_user_model().objects.create_user("alice", password=PASSWORD)
        yield live_server.url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 980, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.seen = []  # (method, path, status, DPoP-Nonce header) of every response
    page.on(
        "response",
        lambda response: page.seen.append(
            (
                response.request.method,
                response.url.split("?")[0],
                response.status,
                response.headers.get("dpop-nonce"),
            )
        ),
    )
    yield page
    context.close()


def open_spa(page: Any, url: str, server: str | None = None) -> str:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    if server is not None:
        page.fill("#server", server)
    return page.text_content("#jkt")


def sign_in(page: Any, server: str, spa_url: str, *, allow: bool = True) -> None:
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(f"^{re.escape(server)}/(accounts/login|o/authorize)/"))
    if "/accounts/login/" in page.url:  # the example project's own login form (once per session)
        page.fill("#id_username", "alice")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{server}/o/authorize/**")  # DOT's consent page
    page.click("input[name=allow]" if allow else "input[type=submit]:not([name])")
    page.wait_for_url(spa_url)  # back, the code already taken out of the address bar
    page.wait_for_selector("body[data-ready=true]")


def call_api(page: Any) -> dict[str, Any]:
    page.evaluate("document.getElementById('me').textContent = ''")
    page.get_by_role("button", name="Call API", exact=True).click()
    page.wait_for_selector("#me:has-text('jkt')")
    return json.loads(page.text_content("#me"))


def status(page: Any, contains: str) -> str:
    # Selectors, not wait_for_function: the SPA's CSP (no 'unsafe-eval') refuses evaluated strings.
    page.wait_for_selector(f"#status:has-text({json.dumps(contains)})")
    return page.text_content("#status")


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.mark.parametrize("nonce_required", [False, True], ids=["no-nonce", "nonce-required"])
@pytest.mark.parametrize("cross_origin", [False, True], ids=["same-origin", "cross-origin"])
def test_spa_signs_in_calls_reloads_and_refreshes(
    page: Any, example_server: str, second_origin: str, cross_origin: bool, nonce_required: bool
) -> None:
    server = example_server
    spa_url = f"{second_origin if cross_origin else server}/spa/"
    jkt = open_spa(page, spa_url, server if cross_origin else None)

    sign_in(page, server, spa_url)
    status(page, "Signed in")
    me = call_api(page)
    assert me.pop("sub")  # DOT's OpenID Connect sub: alice's primary key
    assert me == {
        "client_id": "spa",
        "user": "alice",
        "scope": "read",
        "jkt": jkt,
        "source": "dot",
        "method": "GET",
    }
    status(page, "bound to this browser's key")

    # The key the SPA holds: non-extractable, and its RFC 7638 thumbprint computed here, not by the SPA.
    probe = page.evaluate(KEY_PROBE)
    assert probe["extractable"] is False
    assert probe["exported"] == "InvalidAccessError"
    assert jwk_thumbprint(probe["publicJwk"]) == jkt
    # The server bound the token to that key, through the code's dpop_jkt and the token request's proof.
    assert set(AccessTokenBinding.objects.values_list("jkt", flat=True)) == {jkt}

    # A reload keeps the key (IndexedDB) and the tokens (sessionStorage): same jkt, no new sign-in.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.text_content("#jkt") == jkt
    assert page.text_content("#me") == ""
    assert call_api(page)["jkt"] == jkt

    page.get_by_role("button", name="Refresh token", exact=True).click()
    status(page, "Token refreshed")
    assert get_access_token_model().objects.count() == 1  # the first one was replaced (rotation)
    assert call_api(page)["jkt"] == jkt
    assert set(AccessTokenBinding.objects.values_list("jkt", flat=True)) == {jkt}

    token_answers = [
        (status_, nonce) for method, url, status_, nonce in page.seen if url.endswith("/o/token/")
    ]
    api_answers = [
        (status_, nonce)
        for method, url, status_, nonce in page.seen
        if url.endswith("/api/me/") and method == "GET"
    ]
    if nonce_required:
        # Each server asked for its nonce (400 use_dpop_nonce, 401 challenge) and the SPA followed.
        assert token_answers[0][0] == 400 and token_answers[0][1]
        # The code exchange, then the refresh after the reload: the new page had no nonce yet.
        assert [status_ for status_, _ in token_answers] == [400, 200, 400, 200]
        assert api_answers[0][0] == 401 and api_answers[0][1]
        # After the reload the SPA had no nonce any more: one more challenge, then the cached nonce.
        assert [status_ for status_, _ in api_answers] == [401, 200, 401, 200, 200]
    else:
        assert [status_ for status_, _ in token_answers] == [200, 200]
        assert [status_ for status_, _ in api_answers] == [200, 200, 200]

    name = f"spa-{'cross' if cross_origin else 'same'}-origin-{'nonce' if nonce_required else 'no-nonce'}"
    path = screenshot(page, name)
    if cross_origin and nonce_required and os.environ.get("DPOP_UPDATE_DOCS_SCREENSHOT") == "1":
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        (ROOT / "docs" / "img" / "spa.png").write_bytes(path.read_bytes())


def test_refusals_are_explained(page: Any, example_server: str) -> None:
    server = example_server
    spa_url = f"{server}/spa/"
    open_spa(page, spa_url)

    page.get_by_role("button", name="Call API", exact=True).click()
    assert "Not signed in" in status(page, "Not signed in")

    # The user says no on the consent page.
    sign_in(page, server, spa_url, allow=False)
    assert "access_denied" in status(page, "Sign-in refused")
    assert get_access_token_model().objects.count() == 0

    # Signed in, then the server revokes everything: the API says invalid_token, the refresh
    # invalid_grant, and the SPA says so and forgets the tokens.
    sign_in(page, server, spa_url)
    status(page, "Signed in")
    get_refresh_token_model().objects.all().delete()
    get_access_token_model().objects.all().delete()
    page.get_by_role("button", name="Call API", exact=True).click()
    message = status(page, "Sign in again")
    assert "invalid_grant" in message
    assert page.text_content("#session") == "Not signed in."
    screenshot(page, "spa-refusal")

    # Sign out revokes the refresh token (RFC 7009) and with it the access token.
    sign_in(page, server, spa_url)
    status(page, "Signed in")
    assert get_refresh_token_model().objects.filter(revoked__isnull=True).count() == 1
    page.get_by_role("button", name="Sign out", exact=True).click()
    status(page, "Signed out: tokens revoked")
    assert get_refresh_token_model().objects.filter(revoked__isnull=True).count() == 0
    assert get_access_token_model().objects.count() == 0
    page.get_by_role("button", name="Call API", exact=True).click()
    status(page, "Not signed in")


def test_cors_refuses_an_origin_not_allowed(page: Any, example_server: str, second_origin: str) -> None:
    """Without CORS for its origin, the browser keeps the token answer from the SPA: a clear message.

    (DOT serves its metadata with ``Access-Control-Allow-Origin: *`` itself, so sign-in starts.)
    """
    spa_url = f"{second_origin}/spa/"
    with override_settings(CORS_ALLOWED_ORIGINS=[]):
        open_spa(page, spa_url, example_server)
        sign_in(page, example_server, spa_url)
        message = status(page, "Could not reach the server")
    assert second_origin in message
    assert page.text_content("#session") == "Not signed in."
