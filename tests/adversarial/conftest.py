"""Shared pieces of the adversarial suite: the URLconf, a bound token, request helpers and assertions.

Every case sends one request through the real views (DRF, a plain ``@dpop_required`` view, DOT's
token endpoint) and asserts status, error code and headers; each table has a passing control.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.factories import TestKey, make_proof


RESOURCES = ["/api/drf/", "/api/plain/"]
BASE = "http://testserver"

pytestmark = pytest.mark.urls("tests.adversarial.urls")


@pytest.fixture
def bound_token(make_token: Callable[..., Any], key: TestKey) -> str:
    """An access token bound to ``key`` (RFC 9449 §6)."""
    return make_token(jkt=key.jkt).token


def call_resource(
    path: str,
    token: str,
    proof: str | None,
    *,
    method: str = "GET",
    scheme: str = "DPoP",
    extra: dict[str, str] | None = None,
) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}", **(extra or {})}
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    client = Client()
    return client.generic(method, path, **headers)


def resource_proof(
    key: TestKey, path: str, token: str, method: str = "GET", *, htu: str | None = None, **kwargs: Any
) -> str:
    """A proof for ``method path`` with ``ath`` for ``token``; ``htu`` overrides the URI."""
    return make_proof(key, method, htu or BASE + path, access_token=token, **kwargs)


def edit_header(proof: str, members: dict[str, Any]) -> str:
    """``proof`` with header members set (None removes one); the signature is left as it was."""
    import base64
    import json

    header, payload, signature = proof.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    for name, value in members.items():
        if value is None:
            decoded.pop(name, None)
        else:
            decoded[name] = value
    encoded = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    return f"{encoded}.{payload}.{signature}"


def challenge_params(response: Any) -> dict[str, str]:
    """The auth-params of the ``DPoP`` challenge of ``WWW-Authenticate`` (RFC 9110 §11.6.1)."""
    import re

    header = response["WWW-Authenticate"]
    assert header.startswith("DPoP "), header
    dpop = header.split(", Bearer", 1)[0][len("DPoP ") :]
    return dict(re.findall(r'([A-Za-z_]+)="((?:[^"\\]|\\.)*)"', dpop))


def assert_refused(response: Any, status: int, error: str) -> None:
    """A refusal at a protected resource: status, JSON error code and the matching DPoP challenge."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response.json().get("error", response.json().get("detail")) is not None
    params = challenge_params(response)
    assert params.get("error") == error, response["WWW-Authenticate"]
    assert "algs" in params


def assert_token_refused(response: Any, status: int, error: str) -> None:
    """A refusal at the token endpoint (RFC 9449 §5, RFC 6749 §5.2): JSON error, no-store."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response.json()["error"] == error
    assert response["Cache-Control"] == "no-store"


class Events:
    """What the signals of django_dpop.signals reported during one test."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.store_failed: list[dict[str, Any]] = []

    @property
    def reasons(self) -> list[str]:
        return [event["reason"] for event in self.rejected]


@pytest.fixture
def events() -> Any:
    from django_dpop.signals import proof_accepted, proof_rejected, store_failed

    seen = Events()

    def on_accepted(sender: Any, **kwargs: Any) -> None:
        seen.accepted.append(kwargs)

    def on_rejected(sender: Any, **kwargs: Any) -> None:
        seen.rejected.append(kwargs)

    def on_failed(sender: Any, **kwargs: Any) -> None:
        seen.store_failed.append(kwargs)

    proof_accepted.connect(on_accepted)
    proof_rejected.connect(on_rejected)
    store_failed.connect(on_failed)
    yield seen
    proof_accepted.disconnect(on_accepted)
    proof_rejected.disconnect(on_rejected)
    store_failed.disconnect(on_failed)
