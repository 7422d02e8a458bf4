"""A scripted DPoP server for the client's retry tests, plugged in at the transport only.

It checks every proof with the project's core (:func:`django_dpop.core.verify_proof`), answers
like RFC 9449 §8 (token endpoint, 400 JSON) and §9 (resource, 401 challenge), and records what it
received. The same object serves ``httpx.MockTransport`` and a mounted ``requests`` adapter.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import jwt

from django_dpop.core import DPoPError, ProofPolicy, verify_proof


TOKEN_PATH = "/o/token/"
ACCESS_TOKEN = "at-Kz~8mXK1EalYznwH-LC-1fBAo"


@dataclass
class Seen:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    claims: dict[str, Any] | None
    status: int


@dataclass
class FakeServer:
    """``nonces`` maps a URL path to the nonce it currently requires (None: no nonce needed).

    ``insist`` paths answer use_dpop_nonce forever, with a new nonce each time. ``rotate_on_success``
    paths put a new ``DPoP-Nonce`` on their 2xx answers (RFC 9449 §8.2).
    """

    nonces: dict[str, str | None] = field(default_factory=dict)
    insist: set[str] = field(default_factory=set)
    rotate_on_success: set[str] = field(default_factory=set)
    seen: list[Seen] = field(default_factory=list)
    counter: int = 0
    clock_offset: float = 0  # seconds the server's clock is ahead of ours (sent in Date)

    def new_nonce(self, path: str) -> str:
        self.counter += 1
        nonce = f"n{self.counter}-{path.strip('/').replace('/', '_')}"
        self.nonces[path] = nonce
        return nonce

    def handle(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        lower = {name.lower(): value for name, value in headers.items()}
        path = urlsplit(url).path
        proof = lower.get("dpop")
        claims = None
        if proof:
            claims = jwt.decode(proof, options={"verify_signature": False})
        status, response_headers, payload = self._answer(method, url, path, lower, proof, claims)
        self.seen.append(Seen(method, url, dict(headers), body, claims, status))
        return status, {"Date": formatdate(self.now(), usegmt=True), **response_headers}, payload

    def now(self) -> float:
        return time.time() + self.clock_offset

    def _answer(
        self, method: str, url: str, path: str, headers: dict[str, str], proof: str | None, claims: Any
    ) -> tuple[int, dict[str, str], bytes]:
        is_token = path == TOKEN_PATH
        access_token = None
        if not is_token:
            authorization = headers.get("authorization", "")
            if not authorization.startswith("DPoP "):
                return 401, {"WWW-Authenticate": 'DPoP algs="ES256"'}, b""
            access_token = authorization[5:]
        required = self.nonces.get(path)
        policy = ProofPolicy(nonce_required=required is not None or path in self.insist)
        try:
            verify_proof(
                proof,
                method=method,
                url=url,
                now=self.now(),
                policy=policy,
                access_token=access_token,
                nonce_checker=lambda nonce: _status(nonce == required and path not in self.insist),
            )
        except DPoPError as exc:
            if exc.error != "use_dpop_nonce":
                return _error(is_token, exc.error, {})
            nonce = self.new_nonce(path) if path in self.insist or required is None else required
            return _error(is_token, "use_dpop_nonce", {"DPoP-Nonce": nonce})
        extra = {"DPoP-Nonce": self.new_nonce(path)} if path in self.rotate_on_success else {}
        if is_token:
            payload = {"access_token": ACCESS_TOKEN, "token_type": "DPoP", "expires_in": 300}
            return (
                200,
                {"Content-Type": "application/json", "Cache-Control": "no-store", **extra},
                json.dumps(payload).encode(),
            )
        return (
            200,
            {"Content-Type": "application/json", **extra},
            json.dumps({"path": path, "jkt": "ok"}).encode(),
        )

    # -- helpers for assertions ---------------------------------------------------------------

    def proofs(self) -> list[dict[str, Any]]:
        return [seen.claims for seen in self.seen if seen.claims is not None]


def _status(ok: bool) -> Any:
    from django_dpop.core import NonceStatus

    return NonceStatus.CURRENT if ok else NonceStatus.INVALID


def _error(is_token: bool, code: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    if is_token:
        body = json.dumps({"error": code, "error_description": "scripted"}).encode()
        return 400, {"Content-Type": "application/json", "Cache-Control": "no-store", **headers}, body
    challenge = f'DPoP error="{code}", error_description="scripted", algs="ES256 EdDSA", Bearer realm="api"'
    return 401, {"WWW-Authenticate": challenge, **headers}, b""


# -- transports -------------------------------------------------------------------------------


def httpx_transport(server: FakeServer) -> Any:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        status, headers, body = server.handle(
            request.method, str(request.url), dict(request.headers), request.read()
        )
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(handler)


def requests_session(server: FakeServer) -> Any:
    """A ``requests.Session`` whose http:// and https:// adapters answer from ``server``."""
    import io

    import requests
    from requests.adapters import HTTPAdapter
    from urllib3 import HTTPResponse

    class FakeAdapter(HTTPAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            body = request.body
            if hasattr(body, "read"):
                body = body.read()  # type: ignore[union-attr]
            if isinstance(body, str):
                body = body.encode()
            status, headers, payload = server.handle(
                request.method or "GET", request.url or "", dict(request.headers), body or b""
            )
            raw = HTTPResponse(
                body=io.BytesIO(payload),
                headers=headers,
                status=status,
                preload_content=False,
                decode_content=False,
            )
            return self.build_response(request, raw)

    session = requests.Session()
    adapter = FakeAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
