"""Request cost: one DRF GET endpoint with DOT's Bearer authentication against DPoP.

Run from the repository root::

    .venv/bin/python -m benchmarks.request_cost                 # SQLite in memory
    .venv/bin/python -m benchmarks.request_cost --db file       # SQLite file (a real disk write per proof)
    .venv/bin/python -m benchmarks.request_cost --db postgres   # a scratch database at 127.0.0.1:5432
    .venv/bin/python -m benchmarks.request_cost --replay-store none|database|cache

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
    }
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",
        ALLOWED_HOSTS=["testserver"],
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
        # A shared cache stands in for Redis when --replay-store cache (LocMem: one process here).
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        REST_FRAMEWORK={"DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]},
        DPOP_REPLAY_STORE=stores[replay_store],
        DPOP_ALLOWED_ALGORITHMS=["ES256"],
    )
    django.setup()


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

    VIEWS["bearer"] = Me.as_view(authentication_classes=[OAuth2Authentication])
    VIEWS["dpop"] = Me.as_view(authentication_classes=[DPoPAuthentication])
    urlpatterns[:] = [path("bearer/me/", VIEWS["bearer"]), path("dpop/me/", VIEWS["dpop"])]


def create_tokens() -> tuple[str, str, Any]:
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
    key = DPoPKey.generate("ES256")
    AccessTokenBinding.objects.create(access_token=dpop, jkt=key.thumbprint)
    return bearer.token, dpop.token, key


def build_batches(
    path: str, number: int, bearer: str, dpop: str, key: Any
) -> dict[str, Callable[[], list[Any]]]:
    """Return, per case, a function that builds ``number`` ready-to-send requests (untimed)."""
    from django.test import RequestFactory

    from django_dpop.client import create_proof

    factory = RequestFactory()

    def bearer_batch() -> list[Any]:
        return [{"HTTP_AUTHORIZATION": f"Bearer {bearer}"} for _ in range(number)]

    def dpop_batch() -> list[Any]:
        url = "http://testserver/dpop/me/"
        return [
            {
                "HTTP_AUTHORIZATION": f"DPoP {dpop}",
                "HTTP_DPOP": create_proof(key, "GET", url, access_token=dpop),
            }
            for _ in range(number)
        ]

    if path == "view":
        return {
            "bearer": lambda: [factory.get("/bearer/me/", **h) for h in bearer_batch()],
            "dpop": lambda: [factory.get("/dpop/me/", **h) for h in dpop_batch()],
        }
    return {"bearer": bearer_batch, "dpop": dpop_batch}


def run(path: str, repeat: int, number: int, bearer: str, dpop: str, key: Any) -> dict[str, list[float]]:
    from django.test import Client

    client = Client()
    batches = build_batches(path, number, bearer, dpop, key)
    urls = {"bearer": "/bearer/me/", "dpop": "/dpop/me/"}

    def timed(case: str) -> float:
        items = batches[case]()
        view = VIEWS[case]
        url = urls[case]
        start = time.perf_counter()
        if path == "view":
            for request in items:
                response = view(request)
                assert response.status_code == 200, response.content
                response.render()
        else:
            for headers in items:
                response = client.get(url, **headers)
                assert response.status_code == 200, response.content
        return (time.perf_counter() - start) / number

    timed("bearer"), timed("dpop")  # warm-up: caches, lazy imports, prepared statements
    results: dict[str, list[float]] = {"bearer": [], "dpop": []}
    for round_number in range(repeat):
        order = ("bearer", "dpop") if round_number % 2 == 0 else ("dpop", "bearer")
        for case in order:
            results[case].append(timed(case))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["memory", "file", "postgres"], default="memory")
    parser.add_argument("--replay-store", choices=["database", "cache", "none"], default="database")
    parser.add_argument("--path", choices=["view", "client", "both"], default="both")
    parser.add_argument(
        "--lookup",
        choices=["compiled", "orm"],
        default="compiled",
        help="DPoP token lookup: SQL compiled once (default) or the plain ORM query DOT uses",
    )
    parser.add_argument("--repeat", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--number", type=int, default=300, help="requests per case and round (default 300)")
    args = parser.parse_args(argv)

    configure(args.db, args.replay_store)
    try:
        report(args)
    finally:
        if args.db == "postgres":
            from django.conf import settings

            drop_scratch_postgres(settings.DATABASES["default"]["NAME"])


def report(args: argparse.Namespace) -> None:
    from django_dpop.contrib.oauth2_provider import tokens

    tokens.COMPILED_LOOKUP = args.lookup == "compiled"
    build_views()
    bearer, dpop, key = create_tokens()
    print(
        f"database={args.db} replay_store={args.replay_store} lookup={args.lookup} "
        f"rounds={args.repeat}x{args.number} requests"
    )
    print(f"{'path':<7} {'case':<7} {'median us':>10} {'best us':>9}")
    for path in ("view", "client") if args.path == "both" else (args.path,):
        results = run(path, args.repeat, args.number, bearer, dpop, key)
        medians = {case: statistics.median(times) for case, times in results.items()}
        bests = {case: min(times) for case, times in results.items()}
        for case in ("bearer", "dpop"):
            print(f"{path:<7} {case:<7} {medians[case] * 1e6:10.1f} {bests[case] * 1e6:9.1f}")
        ratio = medians["bearer"] / medians["dpop"]
        print(
            f"{path:<7} ratio Bearer/DPoP: {ratio:.3f} (median), {bests['bearer'] / bests['dpop']:.3f} (best)"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
