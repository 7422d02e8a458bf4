"""Fixtures of the JWT access-token tests: test issuers, a real local JWKS/metadata server, fresh caches."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from django_dpop.test import TestIssuer
from django_dpop.tokens import jwt as jwt_module
from django_dpop.tokens.jwks import jwks_cache


AUDIENCE = "https://api.example.com"


@dataclass
class Route:
    """What the server answers on one path: a status, a body (bytes or JSON), a delay, headers."""

    body: Any = b""
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] | None = None
    content_length: bool = True


class JWKSServer:
    """A stdlib HTTP server on 127.0.0.1 in a thread; counts the requests of each path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.counts: Counter[str] = Counter()
        routes, counts = self.routes, self.counts

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                counts[self.path] += 1
                route = routes.get(self.path, Route(status=404, body=b"not found"))
                if route.delay:
                    time.sleep(route.delay)
                body = route.body if isinstance(route.body, bytes) else json.dumps(route.body).encode()
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", "application/json")
                    if route.content_length:
                        self.send_header("Content-Length", str(len(body)))
                    for name, value in (route.headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: Any = b"", **options: Any) -> str:
        self.routes[path] = Route(body=body, **options)
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    server = JWKSServer()
    yield server
    server.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The JWKS cache's monotonic clock, moved by hand."""
    fake = FakeClock()
    monkeypatch.setattr(jwks_cache, "clock", fake)
    return fake


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    jwks_cache.clear()
    jwt_module._verified.clear()
    jwt_module.reset_settings()
    yield
    jwks_cache.clear()
    jwt_module._verified.clear()
    jwt_module.reset_settings()


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer("https://issuer.example.com")


@pytest.fixture(scope="session")
def other_issuer() -> TestIssuer:
    return TestIssuer("https://other-issuer.example.com", alg="ES256")


@pytest.fixture
def trust(settings: Any) -> Callable[..., None]:
    """Trust issuers (their static keys, or entries given as dicts) with this resource's audience."""

    def configure(*issuers: TestIssuer | dict[str, Any], **extra: Any) -> None:
        settings.DPOP_JWT_ISSUERS = [
            entry if isinstance(entry, dict) else entry.settings_entry() for entry in issuers
        ]
        settings.DPOP_JWT_AUDIENCE = AUDIENCE
        for name, value in extra.items():
            setattr(settings, name, value)

    return configure
