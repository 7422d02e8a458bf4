"""The ``server`` path of ``request_cost``: the same endpoint behind a real WSGI server (gunicorn).

Run from the repository root (gunicorn comes with the ``bench`` extra)::

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python -m benchmarks.request_cost --path server

The ``view`` and ``client`` paths of ``request_cost`` leave out what every deployment pays for a
request before Django sees it: the HTTP server. Here each case's endpoint is served by gunicorn
(one ``sync`` worker, the default worker class, access log off) in a process of its own, and this
process sends it real HTTP requests, one TCP connection each (a sync worker closes the connection
after every response). What is timed is the **worker's own CPU time** per request (read from the
worker before and after each round), so the load generator's cost never counts and the figure is
what bounds a worker's throughput. Rounds are interleaved as on the other paths.

Two servers run side by side, each with its own settings (``DPOP_REPLAY_STORE`` is global):

- ``database``: ``noauth``, ``bearer``, ``dpop``, ``jwt-db``, ``dotjwt``, ``dotjwt-dot`` with the
  database replay store (``--db``: SQLite in memory by default, or a file, or PostgreSQL);
- ``redis`` (when Redis answers at 127.0.0.1:6379): ``noauth-r`` and ``jwt-redis`` with
  ``CacheReplayStore`` on Redis under a key prefix of its own.

Each case is compared with the ``noauth`` endpoint of its own server: ``vs noauth`` is the ratio of
the medians, ``per round`` the middle half (first to third quartile) of the same ratio taken in
each round, which shows how noisy the run was. Before gunicorn forks its
worker, each server warms up in-process (one request per case), so the JWKS of both issuers is
fetched once there and inherited; the benchmark then checks that the JWKS servers saw exactly one
fetch each for the whole run (no network call per request).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


# Cases per server, and the setting group each server runs with.
GROUPS: dict[str, list[str]] = {
    "database": ["noauth", "bearer", "dpop", "jwt-db", "dotjwt", "dotjwt-dot"],
    "redis": ["noauth-r", "jwt-redis"],
}
CPU_URL = "/__cpu__/"


# -- the server process ---------------------------------------------------------------------------


def serve(db: str, group: str, port: int) -> None:
    """Configure Django as ``request_cost`` does, mint the tokens, warm up, then run gunicorn."""
    from gunicorn.app.base import BaseApplication

    from benchmarks import request_cost as rc
    from django_dpop.client import DPoPKey

    key = DPoPKey.from_jwk(sys.stdin.readline())
    rc.configure(db, "database" if group == "database" else "redis")
    rc.build_views()

    from django.core.handlers.wsgi import WSGIHandler
    from django.http import HttpRequest, HttpResponse
    from django.urls import path

    def cpu(request: HttpRequest) -> HttpResponse:
        return HttpResponse(repr(time.process_time()), content_type="text/plain")

    rc.urlpatterns.append(path(CPU_URL.strip("/") + "/", cpu))
    bearer, dpop, _ = rc.create_tokens(key)
    jwt, jwks = rc.create_jwt(key)
    dot_jwt, dot_jwks = rc.create_dot_jwt(key)
    tokens = {"bearer": bearer, "dpop": dpop, "jwt": jwt, "dot_jwt": dot_jwt}
    warm_up(group, tokens, key)
    print(json.dumps(tokens), flush=True)

    def on_exit(server: Any) -> None:
        if db == "postgres":
            from django.conf import settings
            from django.db import connections

            connections.close_all()
            rc.drop_scratch_postgres(settings.DATABASES["default"]["NAME"])
        print(json.dumps({"fetches": [jwks.fetches, dot_jwks.fetches]}), flush=True)

    options = {
        "bind": f"127.0.0.1:{port}",
        "workers": 1,
        "worker_class": "sync",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "timeout": 120,
        "graceful_timeout": 5,
        "on_exit": on_exit,
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return WSGIHandler()

    Server().run()


def warm_up(group: str, tokens: dict[str, str], key: Any) -> None:
    """One request per case through Django's test client, in this process (before the fork)."""
    from django.test import Client
    from django.test.utils import override_settings

    from benchmarks import request_cost as rc

    client = Client()
    for case in GROUPS[group]:
        url = rc.URLS[case.removesuffix("-r")]
        headers = request_headers(case, tokens, key, "http://testserver")
        settings = rc.JWT_CASE_SETTINGS.get(case, {}) if group == "database" else {}
        with override_settings(**settings):
            meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
            response = client.get(url, **meta)
        assert response.status_code == 200, (case, response.content)


def request_headers(case: str, tokens: dict[str, str], key: Any, origin: str) -> dict[str, str]:
    """The ``Authorization`` (and ``DPoP``) headers of one request of ``case`` (a new proof each)."""
    from benchmarks import request_cost as rc
    from django_dpop.client import create_proof

    base = case.removesuffix("-r")
    if base == "noauth":
        return {}
    if base == "bearer":
        return {"Authorization": f"Bearer {tokens['bearer']}"}
    token = {"dpop": tokens["dpop"], "jwt-db": tokens["jwt"], "jwt-redis": tokens["jwt"]}.get(
        base, tokens["dot_jwt"]
    )
    url = origin + rc.URLS[base]
    return {"Authorization": f"DPoP {token}", "DPoP": create_proof(key, "GET", url, access_token=token)}


# -- the load generator ---------------------------------------------------------------------------


@dataclass
class Server:
    """A ``serve`` process (gunicorn's arbiter and its one worker) on 127.0.0.1:``port``."""

    group: str
    port: int
    process: subprocess.Popen[str]
    tokens: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, group: str, db: str, key: Any) -> Server:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "benchmarks.server_path", "--db", db, "--group", group]
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(key.to_jwk(private=True)) + "\n")
        process.stdin.close()
        process.stdin = None  # communicate() in stop() must not touch it again
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {group} server did not start (exit code {process.wait()})")
        server = cls(group, port, process, json.loads(line))
        deadline = time.monotonic() + 30
        while True:
            try:
                server.cpu()
                return server
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request_bytes(self, url: str, headers: dict[str, str]) -> bytes:
        lines = [f"GET {url} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")

    def send(self, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port)) as connection:
            connection.sendall(data)
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def cpu(self) -> float:
        """The worker's CPU time, in seconds (``time.process_time`` in the worker)."""
        response = self.send(self.request_bytes(CPU_URL, {}))
        status, _, body = response.partition(b"\r\n\r\n")
        if b" 200 " not in status.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"CPU probe answered {status[:60]!r}")
        return float(body)

    def stop(self) -> list[int]:
        """Stop gunicorn; return the JWKS fetch counts its servers saw (test issuer, our DOT)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=30)
        for line in reversed(output.splitlines()):
            if line.startswith("{"):
                return list(json.loads(line)["fetches"])
        raise RuntimeError(f"the {self.group} server reported no JWKS fetch count")


@dataclass
class Result:
    """One case's worker CPU per request over the rounds, beside its baseline's (``noauth``)."""

    median: float
    best: float
    baseline: str
    #: The share of the baseline's throughput in each round (baseline time / case time, the two
    #: measured seconds apart): its spread shows how much the machine moved during the run.
    shares: list[float]


def run(db: str, repeat: int, number: int, redis: bool) -> dict[str, Result]:
    """Time every case; return, per case, its :class:`Result`."""
    from benchmarks import request_cost as rc
    from django_dpop.client import DPoPKey

    key = DPoPKey.generate("ES256")
    groups = ["database", "redis"] if redis else ["database"]
    servers: dict[str, Server] = {}
    try:
        for group in groups:
            servers[group] = Server.start(group, db, key)
        cases = [(case, servers[group]) for group in groups for case in GROUPS[group]]

        def batch(case: str, server: Server) -> list[bytes]:
            url = rc.URLS[case.removesuffix("-r")]
            return [
                server.request_bytes(url, request_headers(case, server.tokens, key, server.origin))
                for _ in range(number)
            ]

        def timed(case: str, server: Server) -> float:
            requests = batch(case, server)  # proofs made before the clock starts
            start = server.cpu()
            for data in requests:
                response = server.send(data)
                if b" 200 " not in response.split(b"\r\n", 1)[0]:
                    raise AssertionError(f"{case}: {response[:300]!r}")
            return (server.cpu() - start) / number

        for case, server in cases:  # warm-up of the worker itself
            timed(case, server)
        results: dict[str, list[float]] = {case: [] for case, _ in cases}
        for round_number in range(repeat):
            for case, server in cases if round_number % 2 == 0 else list(reversed(cases)):
                results[case].append(timed(case, server))
    finally:
        fetches = {group: server.stop() for group, server in servers.items()}
    for group, counts in fetches.items():
        # Once per issuer whose tokens the group's cases verify locally, at the warm-up.
        expected = [int(any(c.startswith("jwt") for c in GROUPS[group])), int("dotjwt" in GROUPS[group])]
        assert counts == expected, f"{group} server: JWKS fetched {counts} times (test issuer, our DOT)"
    baseline = {case: GROUPS[group][0] for group in groups for case in GROUPS[group]}
    return {
        case: Result(
            statistics.median(times),
            min(times),
            baseline[case],
            [base / time for base, time in zip(results[baseline[case]], times, strict=True)],
        )
        for case, times in results.items()
    }


def report(db: str, repeat: int, number: int, print_row: Callable[..., None]) -> None:
    from benchmarks import request_cost as rc

    redis = rc.redis_available()
    results = run(db, repeat, number, redis)
    for case, result in results.items():
        share = results[result.baseline].median / result.median
        print_row("server", case, result.median, result.best, share, spread(result.shares))
    if not redis:
        print("server  (Redis unreachable: no jwt-redis)")
    print(
        f"server  ratio Bearer/DPoP: {results['bearer'].median / results['dpop'].median:.3f} (median); "
        "JWKS fetched once per issuer for the whole run"
    )


def spread(shares: list[float]) -> str:
    """The middle half of the per-round shares (first to third quartile): the run's noise."""
    if len(shares) < 2:
        return ""
    first, _, third = statistics.quantiles(shares, n=4)
    return f"{first:.2f}-{third:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A request_cost server (internal: started by --path server)")
    parser.add_argument("--db", choices=["memory", "file", "postgres"], default="memory")
    parser.add_argument("--group", choices=sorted(GROUPS), required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    serve(args.db, args.group, args.port)


if __name__ == "__main__":
    main()
