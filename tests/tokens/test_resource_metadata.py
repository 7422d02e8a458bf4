"""RFC 9728 protected resource metadata: the base app's view, DOT's with the DPoP members, §3.1 URLs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from django_dpop.conf import conf
from django_dpop.core.challenge import build_challenge
from django_dpop.core.resource_metadata import metadata_url, resource_from_metadata_url


pytestmark = pytest.mark.urls("tests.tokens.metadata_urls")

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def _get(client: Client, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    return json.loads(response.content)


@pytest.mark.parametrize(
    ("resource", "url"),
    [
        ("https://api.example.com", f"https://api.example.com{WELL_KNOWN}"),
        ("https://api.example.com/", f"https://api.example.com{WELL_KNOWN}"),
        ("https://api.example.com/v1", f"https://api.example.com{WELL_KNOWN}/v1"),
        ("https://api.example.com:8443/a/b/", f"https://api.example.com:8443{WELL_KNOWN}/a/b/"),
        ("https://api.example.com/v1?t=1", f"https://api.example.com{WELL_KNOWN}/v1?t=1"),
    ],
)
def test_well_known_insertion(resource: str, url: str) -> None:
    # RFC 9728 §3.1: the suffix goes between host and path; a lone terminating slash is dropped.
    assert metadata_url(resource) == url


def test_resource_from_metadata_url() -> None:
    assert resource_from_metadata_url(f"https://api.example.com{WELL_KNOWN}") == "https://api.example.com"
    assert resource_from_metadata_url(f"https://h{WELL_KNOWN}/tenant1/") == "https://h/tenant1"


def test_document_with_defaults(client: Client) -> None:
    assert _get(client, WELL_KNOWN) == {
        "resource": "http://testserver",
        "bearer_methods_supported": ["header"],
        # One source of truth: the allowlist the proof verifier enforces.
        "dpop_signing_alg_values_supported": list(conf.DPOP_ALLOWED_ALGORITHMS),
        "dpop_bound_access_tokens_required": False,
    }


def test_document_follows_the_settings(client: Client, settings: Any) -> None:
    settings.DPOP_ALLOWED_ALGORITHMS = ["EdDSA", "ES384"]
    settings.DPOP_ALLOW_BEARER_TOKENS = False
    settings.DPOP_RESOURCE_IDENTIFIER = "https://api.example.com/v1"
    settings.DPOP_RESOURCE_AUTHORIZATION_SERVERS = ["https://as.example.com"]
    settings.DPOP_RESOURCE_SCOPES_SUPPORTED = ["read", "write"]
    data = _get(client, f"{WELL_KNOWN}/v1")
    assert data == {
        "resource": "https://api.example.com/v1",
        "authorization_servers": ["https://as.example.com"],
        "scopes_supported": ["read", "write"],
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": ["EdDSA", "ES384"],
        "dpop_bound_access_tokens_required": True,
    }
    # §3.3: the document of .../v1 is not served at another resource's well-known URL.
    assert client.get(WELL_KNOWN).status_code == 404
    assert client.get(f"{WELL_KNOWN}/v2").status_code == 404
    assert client.post(f"{WELL_KNOWN}/v1").status_code == 405


def test_path_form_without_identifier(client: Client) -> None:
    assert _get(client, f"{WELL_KNOWN}/tenant1")["resource"] == "http://testserver/tenant1"


def test_dot_document_has_the_dpop_members(client: Client, settings: Any) -> None:
    settings.DPOP_ALLOWED_ALGORITHMS = ["ES256"]
    settings.DPOP_ALLOW_BEARER_TOKENS = False
    data = _get(client, f"/as{WELL_KNOWN}")
    assert data["dpop_signing_alg_values_supported"] == ["ES256"]
    assert data["dpop_bound_access_tokens_required"] is True
    assert data["bearer_methods_supported"] == ["header"]
    assert "scopes_supported" in data  # DOT's own members stay
    settings.DPOP_ALLOW_BEARER_TOKENS = True
    assert _get(client, f"/as{WELL_KNOWN}")["dpop_bound_access_tokens_required"] is False


def test_dot_document_uses_the_shared_identifier(client: Client, settings: Any) -> None:
    assert _get(client, f"/as{WELL_KNOWN}")["resource"] == "http://testserver/as"  # DOT's derivation
    settings.DPOP_RESOURCE_IDENTIFIER = "https://api.example.com"
    settings.DPOP_RESOURCE_AUTHORIZATION_SERVERS = ["https://as.example.com"]
    data = _get(client, f"/as{WELL_KNOWN}")
    assert data["resource"] == "https://api.example.com"
    assert data["authorization_servers"] == ["https://as.example.com"]


def test_challenge_parameter() -> None:
    url = f"https://api.example.com{WELL_KNOWN}"
    assert build_challenge("Bearer", resource_metadata=url) == f'Bearer resource_metadata="{url}"'
    assert build_challenge("DPoP", algs=["ES256"], resource_metadata=url + '"\r\n') == (
        f'DPoP algs="ES256", resource_metadata="{url}\\""'
    )
