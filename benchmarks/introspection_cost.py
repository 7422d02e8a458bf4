"""Benchmark: what an introspected token costs per request, with and without the cache.

Run from the repository root::

    .venv/bin/python -m benchmarks.introspection_cost [--number 200 --repeat 15]

A real introspection endpoint (stdlib ``http.server`` on 127.0.0.1, the one of the test suite)
answers an active DPoP-bound token. Cases, in one process, interleaved, minimum over the rounds
(wall clock: the miss is network I/O):

- ``cache hit``: ``IntrospectionTokenValidator.validate`` with the answer cached (the SHA-256 key,
  the LRU lookup, every check of the answer, the copy handed to the view);
- ``cache miss``: the same with the cache disabled: one HTTP round trip to the endpoint per call.
"""

from __future__ import annotations

import argparse
import time
import timeit

import django
from django.conf import settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    settings.configure(ALLOWED_HOSTS=["testserver"], USE_TZ=True, INSTALLED_APPS=[])
    django.setup()
    from django.test import RequestFactory

    from django_dpop.tokens import introspection
    from tests.factories import make_key
    from tests.tokens.introspection_server import serve

    key = make_key("ES256")
    token = "bench-" + "x" * 40
    server_gen = serve()
    server = next(server_gen)
    server.answers[token] = {
        "active": True,
        "token_type": "DPoP",
        "cnf": {"jkt": key.jkt},
        "client_id": "app",
        "sub": "alice",
        "scope": "read write",
        "exp": int(time.time()) + 3600,
    }
    settings.DPOP_INTROSPECTION_URL = server.url
    settings.DPOP_INTROSPECTION_ALLOW_HTTP = True
    settings.DPOP_INTROSPECTION_CLIENT_ID = server.client_id
    settings.DPOP_INTROSPECTION_CLIENT_SECRET = server.client_secret
    validator = introspection.IntrospectionTokenValidator()
    request = RequestFactory().get("/api/")

    def hit() -> None:
        validator.validate(request, token, scheme="dpop")

    def miss() -> None:
        introspection.cache.clear()
        validator.validate(request, token, scheme="dpop")

    hit()  # warm the cache
    cases = {"cache hit": hit, "cache miss (HTTP round trip)": miss}
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.repeat):
        for name, case in cases.items():
            number = args.number if name == "cache hit" else max(1, args.number // 10)
            if name == "cache hit":
                hit()
            best[name] = min(best[name], timeit.timeit(case, number=number) / number)
    calls = len(server.calls)
    for name, seconds in best.items():
        print(f"{name:32} {seconds * 1e6:9.1f} us   {seconds / best['cache hit']:6.1f}x")
    print(f"introspection calls made: {calls}")
    for _ in server_gen:
        pass


if __name__ == "__main__":
    main()
