"""Request cost: one DRF GET endpoint with DOT's Bearer authentication against DPoP.

Run from the repository root::

    .venv/bin/python -m benchmarks.request_cost                 # SQLite in memory
    .venv/bin/python -m benchmarks.request_cost --db file       # SQLite file (a real disk write per proof)
    .venv/bin/python -m benchmarks.request_cost --db postgres   # a scratch database at 127.0.0.1:5432
    .venv/bin/python -m benchmarks.request_cost --replay-store none|database|cache|redis

The same ``APIView`` (``HasToken`` permission, a small JSON response) is served with
``authentication_classes = [OAuth2Authentication]`` (DOT's own class, stock DOT backend and
validator, one token query) and ``[DPoPAuthentication]`` (DPoP scheme, ES256 proof with ``ath``,
replay store on by default, one token-and-binding query whose SQL is compiled once; ``--lookup
orm`` runs it through the ORM as DOT does, to separate that saving from the DPoP work). Two call
paths are timed:

- ``view``: ``RequestFactory`` request straight into the view (URL routing and middleware left
  out, so the authentication cost is the largest share of the time: the strict comparison);
- ``client``: Django's test ``Client`` through URL resolution and the usual middleware.

Proofs and requests are built before the timed loop (each proof is single use: the replay store
is on). Rounds are interleaved (Bearer, DPoP, Bearer, DPoP...) so a noisy neighbour slows both
alike; each case reports the median and the best round. The ratio is Bearer time / DPoP time
(1.0 = DPoP costs nothing extra; the project aims at >= 0.95 on the database-backed path).

The same run also times the endpoint with no authentication at all (``noauth``) and with DPoP and
an RFC 9068 JWT access token verified locally (``JWTTokenValidator``, RS256, ``cnf.jkt``), with
the database replay store (``jwt-db``) and with the cache replay store on Redis at
127.0.0.1:6379 (``jwt-redis``, key prefix of its own; skipped when Redis is unreachable). The
issuer's JWKS is served by a local HTTP server: after the run the benchmark asserts it was fetched
exactly once (no network call per request). Their ratio is no-auth time / case time (the share
of no-auth throughput kept; the project aims at >= 0.6 for ``jwt-redis``).

Two more rows use a JWT access token issued by this project's DOT in JWT mode
(``jwt_tokens.generate_access_token``, through the real token endpoint with a DPoP proof, signed
by DOT's OIDC key): ``dotjwt`` verifies it locally with ``JWTTokenValidator`` against DOT's own
JWKS document (served locally, database replay store), ``dotjwt-dot`` looks it up as a stored
DOT token (``DOTTokenValidator``, the row's token is the JWT).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


POSTGRES = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
JWT_AUDIENCE = "https://api.bench.test"
JWT_VALIDATOR = "django_dpop.tokens.jwt.JWTTokenValidator"
# Replay store of each JWT case (the DOT cases use --replay-store).
JWT_CASE_SETTINGS: dict[str, dict[str, Any]] = {
    "jwt-db": {"DPOP_REPLAY_STORE": "django_dpop.storage.DatabaseReplayStore"},
    "jwt-redis": {"DPOP_REPLAY_STORE": "django_dpop.storage.CacheReplayStore", "DPOP_REPLAY_CACHE": "redis"},
    "dotjwt": {"DPOP_REPLAY_STORE": "django_dpop.storage.DatabaseReplayStore"},
}
CLOCK: Callable[[], float] = time.perf_counter
URLS = {
    "noauth": "/noauth/me/",
    "bearer": "/bearer/me/",
    "dpop": "/dpop/me/",
    "jwt-db": "/jwt/me/",
    "jwt-redis": "/jwt/me/",
    "dotjwt": "/jwt/me/",
    "dotjwt-dot": "/dpop/me/",
}


def create_scratch_postgres() -> str:
    """Create a database of our own (never touch a shared one); dropped by drop_scratch_postgres."""
    import psycopg

    name = f"dpop_bench_{os.getpid()}"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_scratch_postgres(name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')


def configure(db: str, replay_store: str) -> None:
    import django
    from django.conf import settings

    if db == "memory":
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    elif db == "file":
        path = os.path.join(tempfile.mkdtemp(prefix="dpop-bench-"), "db.sqlite3")
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    else:
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": create_scratch_postgres(),
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": 5432,
        }
    stores = {
        "none": None,
        "database": "django_dpop.storage.DatabaseReplayStore",
        "cache": "django_dpop.storage.CacheReplayStore",
        "redis": "django_dpop.storage.CacheReplayStore",
    }
    # A shared cache stands in for Redis when --replay-store cache (LocMem: one process here);
    # --replay-store redis uses the Redis at 127.0.0.1:6379 under a key prefix of its own (it
    # only adds keys that expire with their proofs, and the store's state marker).
    cache: dict[str, Any] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if replay_store == "redis":
        cache = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": f"dpop-bench-{os.getpid()}",
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",
        ALLOWED_HOSTS=["testserver", "127.0.0.1"],  # 127.0.0.1: the server path (server_path.py)
        USE_TZ=True,
        ROOT_URLCONF=__name__,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "rest_framework",
            "oauth2_provider",
            "django_dpop",
            "django_dpop.contrib.oauth2_provider",
        ],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        DATABASES={"default": database},
        # "default" is the replay store's cache: LocMem (one process here) for --replay-store
        # cache, the Redis at 127.0.0.1:6379 for --replay-store redis (see above).
        CACHES={
            "default": cache,
            # jwt-redis: the real thing, under a key prefix of our own (nothing else is touched).
            "redis": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"dpop-bench-jwt-{os.getpid()}",
                "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
            },
        },
        REST_FRAMEWORK={"DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]},
        DPOP_REPLAY_STORE=stores[replay_store],
        DPOP_ALLOWED_ALGORITHMS=["ES256"],
        DPOP_JWT_AUDIENCE=JWT_AUDIENCE,
        DPOP_JWKS_ALLOW_HTTP=True,  # the local JWKS server below; never in production
    )
    django.setup()
    if replay_store in ("cache", "redis"):
        from django.core.cache import cache as default_cache

        from django_dpop.storage import CacheReplayStore

        # A store that has remembered since before the proofs were made (else it refuses them
        # as possibly seen before a loss of its state; see CacheReplayStore).
        default_cache.set(CacheReplayStore.MARKER_KEY, 0, 600)


# -- the endpoint (module level so that ROOT_URLCONF can point here) -----------------------------

urlpatterns: list[Any] = []
VIEWS: dict[str, Callable[..., Any]] = {}


def build_views() -> None:
    from django.urls import path
    from oauth2_provider.contrib.rest_framework import OAuth2Authentication
    from rest_framework.permissions import BasePermission
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from django_dpop.contrib.rest_framework import DPoPAuthentication

    class HasToken(BasePermission):
        def has_permission(self, request: Any, view: Any) -> bool:
            return request.auth is not None

    class Me(APIView):
        permission_classes = [HasToken]

        def get(self, request: Any) -> Response:
            return Response({"client_id": request.auth.application.client_id, "scope": request.auth.scope})

    class Anyone(APIView):
        authentication_classes: list[Any] = []
        permission_classes: list[Any] = []

        def get(self, request: Any) -> Response:
            return Response({"client_id": "anyone", "scope": "read"})

    class JWTMe(APIView):
        permission_classes = [HasToken]

        def get(self, request: Any) -> Response:
            return Response({"client_id": request.auth.client_id, "scope": request.auth.scope})

    class JWTAuthentication(DPoPAuthentication):
        token_validators = [JWT_VALIDATOR]

    VIEWS["bearer"] = Me.as_view(authentication_classes=[OAuth2Authentication])
    VIEWS["dpop"] = Me.as_view(authentication_classes=[DPoPAuthentication])
    VIEWS["noauth"] = Anyone.as_view()
    VIEWS["jwt-db"] = VIEWS["jwt-redis"] = JWTMe.as_view(authentication_classes=[JWTAuthentication])
    VIEWS["dotjwt"] = VIEWS["jwt-db"]
    VIEWS["dotjwt-dot"] = VIEWS["dpop"]
    urlpatterns[:] = [
        path("bearer/me/", VIEWS["bearer"]),
        path("dpop/me/", VIEWS["dpop"]),
        path("noauth/me/", VIEWS["noauth"]),
        path("jwt/me/", VIEWS["jwt-db"]),
    ]


class JWKSServer:
    """The issuer's JWK Set on a local HTTP server (a thread), counting the fetches."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = json.dumps(jwks).encode()
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def create_jwt(key: Any) -> tuple[str, JWKSServer]:
    """An RS256 JWT access token bound to ``key``, from an issuer whose JWKS is served locally."""
    from django.conf import settings

    from django_dpop.test import TestIssuer

    issuer = TestIssuer("https://issuer.bench.test")
    server = JWKSServer(issuer.jwks)
    settings.DPOP_JWT_ISSUERS = [{"issuer": issuer.issuer, "jwks_uri": server.url}]
    token = issuer.mint(audience=JWT_AUDIENCE, scope="read", claims={"cnf": {"jkt": key.thumbprint}})
    return token, server


def create_dot_jwt(key: Any) -> tuple[str, JWKSServer]:
    """A JWT access token from our DOT in JWT mode: the real token endpoint, a proof by ``key``."""
    import base64
    import json

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.conf import settings
    from django.test import RequestFactory, override_settings
    from oauth2_provider.models import get_application_model

    from django_dpop.client import create_proof
    from django_dpop.contrib.oauth2_provider.compat import JwksInfoView
    from django_dpop.contrib.oauth2_provider.views import DPoPTokenView
    from django_dpop.tokens.jwt import reset_settings

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    module = "django_dpop.contrib.oauth2_provider"
    dot = {
        "OAUTH2_BACKEND_CLASS": f"{module}.backends.DPoPOAuthLibCore",
        "OAUTH2_VALIDATOR_CLASS": f"{module}.validators.DPoPOAuth2Validator",
        "ACCESS_TOKEN_GENERATOR": f"{module}.jwt_tokens.generate_access_token",
        "REFRESH_TOKEN_GENERATOR": f"{module}.jwt_tokens.generate_refresh_token",
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": pem,
        "ACCESS_TOKEN_EXPIRE_SECONDS": 7200,
    }
    secret = "bench-dot-jwt-secret"
    application = get_application_model().objects.create(
        name="bench dot jwt",
        client_secret=secret,
        client_type="confidential",
        authorization_grant_type="client-credentials",
    )
    basic = base64.b64encode(f"{application.client_id}:{secret}".encode()).decode()
    factory = RequestFactory()
    with override_settings(OAUTH2_PROVIDER=dot, DPOP_JWT_ACCESS_TOKEN_AUDIENCE=JWT_AUDIENCE):
        request = factory.post(
            "/o/token/",
            {"grant_type": "client_credentials", "scope": "read"},
            HTTP_AUTHORIZATION=f"Basic {basic}",
            HTTP_DPOP=create_proof(key, "POST", "http://testserver/o/token/"),
        )
        response = DPoPTokenView.as_view()(request)
        assert response.status_code == 200, response.content
        jwks = json.loads(JwksInfoView.as_view()(factory.get("/o/.well-known/jwks.json")).content)
    token = json.loads(response.content)["access_token"]
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    issuer = jwt.decode(token, options={"verify_signature": False})["iss"]
    server = JWKSServer(jwks)
    settings.DPOP_JWT_ISSUERS = [*settings.DPOP_JWT_ISSUERS, {"issuer": issuer, "jwks_uri": server.url}]
    reset_settings()
    return token, server


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


def create_tokens(key: Any = None) -> tuple[str, str, Any]:
    from django.core.management import call_command
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_application_model

    from django_dpop.client import DPoPKey
    from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding

    call_command("migrate", verbosity=0, run_syncdb=True)
    application = get_application_model().objects.create(
        name="bench", client_type="confidential", authorization_grant_type="client-credentials"
    )
    expires = timezone.now() + datetime.timedelta(hours=2)
    tokens = get_access_token_model().objects
    bearer = tokens.create(
        token="bearer-token-0123456789", application=application, scope="read", expires=expires
    )
    dpop = tokens.create(
        token="dpop-token-0123456789", application=application, scope="read", expires=expires
    )
    key = key or DPoPKey.generate("ES256")
    AccessTokenBinding.objects.create(access_token=dpop, jkt=key.thumbprint)
    return bearer.token, dpop.token, key


def build_batches(
    path: str,
    number: int,
    bearer: str,
    dpop: str,
    key: Any,
    jwt: str | None = None,
    dot_jwt: str | None = None,
) -> dict[str, Callable[[], list[Any]]]:
    """Return, per case, a function that builds ``number`` ready-to-send requests (untimed)."""
    from django.test import RequestFactory

    from django_dpop.client import create_proof

    factory = RequestFactory()

    def bearer_batch() -> list[Any]:
        return [{"HTTP_AUTHORIZATION": f"Bearer {bearer}"} for _ in range(number)]

    def dpop_batch(token: str, url: str) -> Callable[[], list[Any]]:
        def batch() -> list[Any]:
            return [
                {
                    "HTTP_AUTHORIZATION": f"DPoP {token}",
                    "HTTP_DPOP": create_proof(key, "GET", "http://testserver" + url, access_token=token),
                }
                for _ in range(number)
            ]

        return batch

    headers: dict[str, Callable[[], list[Any]]] = {
        "noauth": lambda: [{} for _ in range(number)],
        "bearer": bearer_batch,
        "dpop": dpop_batch(dpop, URLS["dpop"]),
    }
    if jwt is not None:
        headers["jwt-db"] = headers["jwt-redis"] = dpop_batch(jwt, URLS["jwt-db"])
    if dot_jwt is not None:
        headers["dotjwt"] = dpop_batch(dot_jwt, URLS["dotjwt"])
        headers["dotjwt-dot"] = dpop_batch(dot_jwt, URLS["dotjwt-dot"])
    if path == "view":

        def requests(case: str) -> Callable[[], list[Any]]:
            return lambda: [factory.get(URLS[case], **h) for h in headers[case]()]

        return {case: requests(case) for case in headers}
    return headers


def run(
    path: str,
    repeat: int,
    number: int,
    bearer: str,
    dpop: str,
    key: Any,
    cases: list[str],
    jwt: str | None = None,
    dot_jwt: str | None = None,
) -> dict[str, list[float]]:
    from django.test import Client
    from django.test.utils import override_settings

    client = Client()
    batches = build_batches(path, number, bearer, dpop, key, jwt, dot_jwt)

    def timed(case: str) -> float:
        items = batches[case]()
        view = VIEWS[case]
        url = URLS[case]
        with override_settings(**JWT_CASE_SETTINGS.get(case, {})):
            start = CLOCK()
            if path == "view":
                for request in items:
                    response = view(request)
                    assert response.status_code == 200, response.content
                    response.render()
            else:
                for headers in items:
                    response = client.get(url, **headers)
                    assert response.status_code == 200, response.content
            return (CLOCK() - start) / number

    for case in cases:  # warm-up: caches, lazy imports, prepared statements, the JWKS fetch
        timed(case)
    results: dict[str, list[float]] = {case: [] for case in cases}
    for round_number in range(repeat):
        # Interleaved, alternating direction, so that a noisy neighbour slows every case alike.
        for case in cases if round_number % 2 == 0 else reversed(cases):
            results[case].append(timed(case))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["memory", "file", "postgres"], default="memory")
    parser.add_argument("--replay-store", choices=["database", "cache", "redis", "none"], default="database")
    parser.add_argument(
        "--path",
        choices=["view", "client", "both", "server", "all"],
        default="both",
        help="view, client, both (default: view and client), server (gunicorn, benchmarks/server_path.py), "
        "all (the three)",
    )
    parser.add_argument(
        "--lookup",
        choices=["compiled", "orm"],
        default="compiled",
        help="DPoP token lookup: SQL compiled once (default) or the plain ORM query DOT uses",
    )
    parser.add_argument("--repeat", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--number", type=int, default=300, help="requests per case and round (default 300)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall time (default), or this process's CPU time: steadier on a busy machine, "
        "but blind to waiting for PostgreSQL/Redis",
    )
    args = parser.parse_args(argv)

    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.path == "server":  # its servers configure Django in their own processes
        report_server(args)
        return
    configure(args.db, args.replay_store)
    try:
        report(args)
    finally:
        if args.db == "postgres":
            from django.conf import settings

            drop_scratch_postgres(settings.DATABASES["default"]["NAME"])
    if args.path == "all":
        report_server(args)


def print_row(path: str, case: str, median: float, best: float, share: float, spread: str = "") -> None:
    print(f"{path:<7} {case:<10} {median * 1e6:10.1f} {best * 1e6:9.1f} {share:10.3f} {spread:>11}".rstrip())
    sys.stdout.flush()


def report_server(args: argparse.Namespace) -> None:
    """The ``server`` path (benchmarks/server_path.py): worker CPU time per request under gunicorn."""
    from benchmarks import server_path

    print(
        f"server path: gunicorn, one sync worker per server, its CPU time per request; "
        f"database={args.db} rounds={args.repeat}x{args.number} requests"
    )
    print(f"{'path':<7} {'case':<10} {'median us':>10} {'best us':>9} {'vs noauth':>10} {'per round':>11}")
    server_path.report(args.db, args.repeat, args.number, print_row)


def report(args: argparse.Namespace) -> None:
    from django_dpop.contrib.oauth2_provider import tokens

    tokens.COMPILED_LOOKUP = args.lookup == "compiled"
    build_views()
    bearer, dpop, key = create_tokens()
    jwt, jwks = create_jwt(key)
    dot_jwt, dot_jwks = create_dot_jwt(key)
    cases = ["noauth", "bearer", "dpop", "jwt-db"] + (["jwt-redis"] if redis_available() else [])
    cases += ["dotjwt", "dotjwt-dot"]
    if "jwt-redis" in cases:
        from django.core.cache import caches

        from django_dpop.storage import CacheReplayStore

        # As for --replay-store redis: a store that has remembered since before the proofs.
        caches["redis"].set(CacheReplayStore.MARKER_KEY, 0, 600)
    print(
        f"database={args.db} replay_store={args.replay_store} lookup={args.lookup} "
        f"clock={args.clock} rounds={args.repeat}x{args.number} requests"
        + ("" if "jwt-redis" in cases else " (Redis unreachable: no jwt-redis)")
    )
    print(f"{'path':<7} {'case':<10} {'median us':>10} {'best us':>9} {'vs noauth':>10}")
    try:
        for path in ("view", "client") if args.path in ("both", "all") else (args.path,):
            results = run(path, args.repeat, args.number, bearer, dpop, key, cases, jwt, dot_jwt)
            medians = {case: statistics.median(times) for case, times in results.items()}
            bests = {case: min(times) for case, times in results.items()}
            for case in cases:
                print(
                    f"{path:<7} {case:<10} {medians[case] * 1e6:10.1f} {bests[case] * 1e6:9.1f} "
                    f"{medians['noauth'] / medians[case]:10.3f}"
                )
            ratio = medians["bearer"] / medians["dpop"]
            print(
                f"{path:<7} ratio Bearer/DPoP: {ratio:.3f} (median), {bests['bearer'] / bests['dpop']:.3f} (best)"
            )
            sys.stdout.flush()
    finally:
        jwks.close()
        dot_jwks.close()
    # Once cached, the JWKS is never fetched again: no network call per request.
    assert jwks.fetches == 1, f"the JWKS was fetched {jwks.fetches} times"
    assert dot_jwks.fetches == 1, f"DOT's JWKS was fetched {dot_jwks.fetches} times"
    print(f"JWKS fetches during the run: {jwks.fetches} (test issuer), {dot_jwks.fetches} (our DOT)")


if __name__ == "__main__":
    main()
