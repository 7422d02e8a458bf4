"""A real RFC 7662 introspection endpoint on 127.0.0.1 (stdlib ``http.server`` in a thread).

It authenticates the caller as the real endpoint of an authorization server would (HTTP Basic with
form-urlencoded id and secret, form-body credentials, or a Bearer token), counts every call, and
answers what the test put in ``answers`` for the token it received.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus


@dataclass
class Call:
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class IntrospectionServer:
    """What the endpoint expects and answers; ``calls`` records what it received."""

    client_id: str = "resource server"
    client_secret: str = "s3cret:with/odd+chars"
    auth_method: str = "client_secret_basic"
    bearer_token: str = "introspection-access"
    answers: dict[str, Any] = field(default_factory=dict)
    # Instead of an answer: (status, raw body) for every request.
    raw: tuple[int, bytes] | None = None
    delay: float = 0.0
    redirect_to: str | None = None
    calls: list[Call] = field(default_factory=list)
    url: str = ""

    def authenticated(self, call: Call) -> bool:
        if self.auth_method == "client_secret_basic":
            header = call.headers.get("authorization", "")
            if not header.startswith("Basic "):
                return False
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return (unquote_plus(user), unquote_plus(password)) == (self.client_id, self.client_secret)
        if self.auth_method == "client_secret_post":
            return (call.form.get("client_id"), call.form.get("client_secret")) == (
                self.client_id,
                self.client_secret,
            ) and "authorization" not in call.headers
        return call.headers.get("authorization") == f"Bearer {self.bearer_token}"


def _handler(server: IntrospectionServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            form = {name: values[-1] for name, values in parse_qs(body).items()}
            call = Call(headers={k.lower(): v for k, v in self.headers.items()}, form=form)
            server.calls.append(call)
            if server.delay:
                time.sleep(server.delay)
            if server.redirect_to:
                self.send_response(307)
                self.send_header("Location", server.redirect_to)
                self.end_headers()
                return
            if server.raw is not None:
                status, raw = server.raw
                self._send(status, raw)
                return
            if (
                self.headers.get("Content-Type") != "application/x-www-form-urlencoded"
                or self.headers.get("Accept") != "application/json"
                or form.get("token_type_hint") != "access_token"
            ):
                self._send(400, b'{"error": "invalid_request"}')
                return
            if not server.authenticated(call):
                self._send(401, b'{"error": "invalid_client"}')
                return
            answer = server.answers.get(form.get("token", ""), {"active": False})
            self._send(200, json.dumps(answer).encode())

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has closed the connection: BrokenPipeError, expected here.
        pass


def serve() -> Iterator[IntrospectionServer]:
    """Run an endpoint for one test (a generator for a pytest fixture)."""
    state = IntrospectionServer()
    httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/introspect"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
