"""Set up the example project, serve it on 127.0.0.1 and walk through a real DPoP flow.

    python -m example_project.demo             # set up, serve, walk through, keep serving (Ctrl-C stops)
    python -m example_project.demo --no-serve  # the same, then stop the server and exit
    python -m example_project.demo --port 8001

Every step talks HTTP to the running server with django_dpop's own client (httpx), exactly as a
client application would.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


ROOT = Path(__file__).resolve().parent.parent
SERVICE_CLIENT = ("demo-service", "demo-service-secret")
PUBLIC_CLIENT = "demo-public"
REDIRECT_URI = "http://127.0.0.1/callback"
USER = ("alice", "alice-demo-password")
LOG = Path(os.environ.get("DEMO_SERVER_LOG", ROOT / "example_project" / "server.log"))


def setup() -> None:
    """Migrate the SQLite database and create the demo clients and user (idempotent)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    user = user_model.objects.filter(username=USER[0]).first()
    if user is None:
        user_model.objects.create_user(USER[0], password=USER[1])
    application = get_application_model()
    if not application.objects.filter(client_id=SERVICE_CLIENT[0]).exists():
        application.objects.create(
            name="Demo service (client credentials)",
            client_id=SERVICE_CLIENT[0],
            client_secret=SERVICE_CLIENT[1],
            client_type=application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=application.GRANT_CLIENT_CREDENTIALS,
        )
    if not application.objects.filter(client_id=PUBLIC_CLIENT).exists():
        application.objects.create(
            name="Demo public client (authorization code + PKCE)",
            client_id=PUBLIC_CLIENT,
            client_type=application.CLIENT_PUBLIC,
            authorization_grant_type=application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=REDIRECT_URI,
            skip_authorization=True,
        )


def serve(port: int) -> subprocess.Popen[bytes]:
    """Start ``manage.py runserver`` on 127.0.0.1 and wait until it answers."""
    import httpx

    log = open(LOG, "ab")  # noqa: SIM115 - the server subprocess writes to it while it runs
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the example server exited with code {server.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the example server did not start within 30 seconds")


def step(title: str) -> None:
    print(f"\n== {title}")


def show(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    body = response.text  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    print(f"   HTTP {status}")
    for name in ("www-authenticate", "dpop-nonce"):
        if name in headers:
            print(f"   {name}: {headers[name]}")
    try:
        print("   " + json.dumps(json.loads(body), indent=None)[:300])
    except ValueError:
        print("   " + body[:200])


def walk_through(base: str) -> int:
    """Run the scripted DPoP flow against ``base``; return the number of unexpected results."""
    import httpx

    from django_dpop.client import DPoPAuth, DPoPKey, create_proof

    failures = 0
    print(f"Example project at {base}; nonces required: {os.environ.get('DPOP_NONCE_REQUIRED') == '1'}")

    def expect(condition: bool, what: str) -> None:
        nonlocal failures
        print(f"   {'ok' if condition else 'UNEXPECTED'}: {what}")
        failures += not condition

    key = DPoPKey.generate()
    step(f"1. A client key (ES256); its RFC 7638 thumbprint (jkt) is {key.thumbprint}")

    with httpx.Client(base_url=base, timeout=10) as http:
        step("2. Authorization server metadata advertises DPoP")
        metadata = http.get("/.well-known/oauth-authorization-server").json()
        print(f"   dpop_signing_alg_values_supported: {metadata.get('dpop_signing_alg_values_supported')}")
        expect(bool(metadata.get("dpop_signing_alg_values_supported")), "DPoP algorithms listed")

        step("3. Client credentials token request with a DPoP proof (POST /o/token/)")
        token_auth = DPoPAuth(key)  # proof only; follows a use_dpop_nonce challenge once
        response = http.post(
            "/o/token/",
            data={
                "grant_type": "client_credentials",
                "scope": "read",
                "client_id": SERVICE_CLIENT[0],
                "client_secret": SERVICE_CLIENT[1],
            },
            auth=token_auth,
        )
        show(response)
        token = response.json().get("access_token", "")
        expect(
            response.status_code == 200 and response.json().get("token_type") == "DPoP", "token_type is DPoP"
        )

        step("4. GET /api/me/ with Authorization: DPoP <token> and a fresh proof")
        response = http.get("/api/me/", auth=DPoPAuth(key, token))
        show(response)
        expect(
            response.status_code == 200 and response.json().get("jkt") == key.thumbprint, "bound to our key"
        )
        resource_nonce = response.headers.get("dpop-nonce")  # set when the server requires nonces

        step("5. The same proof sent twice: the second is a replay")

        def send_twice(nonce: str | None) -> tuple[httpx.Response, httpx.Response]:
            proof = create_proof(key, "GET", f"{base}/api/me/", access_token=token, nonce=nonce)
            headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
            return http.get("/api/me/", headers=headers), http.get("/api/me/", headers=headers)

        first, replay = send_twice(resource_nonce)
        if first.status_code == 401 and "dpop-nonce" in first.headers:  # nonces on: use the server's
            first, replay = send_twice(first.headers["dpop-nonce"])
        show(replay)
        expect(first.status_code == 200 and replay.status_code == 401, "replayed proof refused with 401")

        step("6. The bound token sent as a Bearer token (downgrade)")
        response = http.get("/api/me/", headers={"Authorization": f"Bearer {token}"})
        show(response)
        expect(response.status_code == 401, "bound token refused as Bearer")

        step("7. A proof signed by another key")
        thief = DPoPKey.generate()
        response = http.get("/api/me/", auth=DPoPAuth(thief, token))
        show(response)
        expect(response.status_code == 401, "token refused with someone else's key")

        step("8. Authorization code + PKCE for a public client, code bound with dpop_jkt")
        login_page = http.get("/accounts/login/")
        csrf = login_page.cookies.get("csrftoken", "")
        http.post(
            "/accounts/login/",
            data={"username": USER[0], "password": USER[1], "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{base}/accounts/login/"},
        )
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        response = http.get(
            "/o/authorize/",
            params={
                "response_type": "code",
                "client_id": PUBLIC_CLIENT,
                "redirect_uri": REDIRECT_URI,
                "scope": "read",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "dpop_jkt": key.thumbprint,
                "state": "demo",
            },
        )
        code = parse_qs(urlsplit(response.headers.get("location", "")).query).get("code", [""])[0]
        expect(response.status_code == 302 and bool(code), "authorization code issued")
        response = http.post(
            "/o/token/",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": PUBLIC_CLIENT,
                "code_verifier": verifier,
            },
            auth=token_auth,
        )
        show(response)
        tokens = response.json()
        expect(
            tokens.get("token_type") == "DPoP" and "refresh_token" in tokens, "DPoP access + refresh token"
        )
        response = http.get("/api/me/", auth=DPoPAuth(key, tokens.get("access_token", "")))
        show(response)
        expect(
            response.status_code == 200 and response.json().get("user") == USER[0], f"acting for {USER[0]}"
        )

        step("9. Refreshing the public client's token with another key")
        response = http.post(
            "/o/token/",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens.get("refresh_token", ""),
                "client_id": PUBLIC_CLIENT,
            },
            auth=DPoPAuth(thief),
        )
        show(response)
        expect(response.status_code == 400, "refresh token is bound to the original key")
        response = http.post(
            "/o/token/",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens.get("refresh_token", ""),
                "client_id": PUBLIC_CLIENT,
            },
            auth=token_auth,
        )
        show(response)
        expect(
            response.status_code == 200 and response.json().get("token_type") == "DPoP",
            "refresh with the right key",
        )

        step("10. Pushed authorization request (RFC 9126) with a DPoP proof: the push binds the code")
        metadata_par = metadata.get("pushed_authorization_request_endpoint")
        print(f"   pushed_authorization_request_endpoint: {metadata_par}")
        expect(metadata_par == f"{base}/o/par/", "metadata advertises PAR")
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        response = http.post(
            "/o/par/",
            data={
                "response_type": "code",
                "client_id": PUBLIC_CLIENT,
                "redirect_uri": REDIRECT_URI,
                "scope": "read",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "demo-par",
            },
            auth=token_auth,  # RFC 9449 §10.1: the proof's key stands for dpop_jkt
        )
        show(response)
        request_uri = response.json().get("request_uri", "")
        expect(
            response.status_code == 201 and request_uri.startswith("urn:ietf:params:oauth:request_uri:"),
            "201 request_uri",
        )
        authorize_query = {"client_id": PUBLIC_CLIENT, "request_uri": request_uri}
        response = http.get("/o/authorize/", params=authorize_query)
        code = parse_qs(urlsplit(response.headers.get("location", "")).query).get("code", [""])[0]
        expect(
            response.status_code == 302 and bool(code), "authorization code issued from the pushed request"
        )
        response = http.get("/o/authorize/", params=authorize_query)
        expect(response.status_code == 400, "the request_uri is single-use (invalid_request_uri)")
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": PUBLIC_CLIENT,
            "code_verifier": verifier,
        }
        response = http.post("/o/token/", data=exchange, auth=DPoPAuth(thief))
        show(response)
        expect(response.status_code == 400, "the code is bound to the key of the push")
        response = http.post("/o/token/", data=exchange, auth=token_auth)
        show(response)
        expect(
            response.status_code == 200 and response.json().get("token_type") == "DPoP",
            "code exchanged with the key of the push",
        )

    print(f"\n{'All steps behaved as expected.' if not failures else f'{failures} unexpected result(s).'}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-serve", action="store_true", help="stop the server after the walk-through")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    # A plain `kill` (SIGTERM) stops the server subprocess too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    setup()
    server = serve(args.port)
    base = f"http://127.0.0.1:{args.port}"
    try:
        failures = walk_through(base)
        if args.no_serve:
            return 1 if failures else 0
        print(f"\nThe example project is serving at {base} (server log: {LOG}). Ctrl-C stops it.")
        print(f"Browser client (docs/browser-clients.md): {base}/spa/, sign in as {USER[0]} / {USER[1]}.")
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
