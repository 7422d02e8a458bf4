"""Adversarial htm / htu (RFC 9449 §4.3 checks 8 and 9): refusal beside control, and what the refusal says.

The htu refusal names the URI the server expected (its own view, without query or fragment), so
that an operator can see what a proxy changed and set DPOP_HTU_BASE_URL; never the query.
"""

from __future__ import annotations

import pytest

from tests.core.adversarial import URL, refused, signed, verify
from tests.core.conftest import key_for


KEY = key_for("ES256")


@pytest.mark.parametrize("htm", ["get", "Get", "POST", "GET ", " GET", "GET\x00", "HEAD"])
def test_htm_must_be_the_request_method_exactly(htm: str) -> None:
    refused(signed(KEY, htm=htm), "htm does not match the request method")
    verify(signed(KEY, htm="GET"))


@pytest.mark.parametrize(
    "htu",
    [
        "https://server.example.com/resource/",
        "https://server.example.com/Resource",
        "http://server.example.com/resource",
        "https://server.example.com:8443/resource",
        "https://evil.example/resource",
        "https://server.example.com.evil.example/resource",
        "https://server.example.com/resource/../other",
        "https://server.example.com/%72esource/x",
    ],
)
def test_htu_mismatch_names_the_expected_uri(htu: str) -> None:
    exc = refused(signed(KEY, htu=htu), "htu does not match the request URI")
    assert exc.description.endswith(f"expected {URL}")


def test_htu_mismatch_shows_the_normalized_server_uri_without_query() -> None:
    # The request URL as the server sees it, with a query that may hold secrets: not shown.
    exc = refused(
        signed(KEY, htu="https://other.example/"),
        "htu does not match",
        url="HTTPS://Server.Example.com:443/a/./b?code=secret-code#frag",
    )
    assert (
        exc.description
        == "DPoP proof htu does not match the request URI; expected https://server.example.com/a/b"
    )
    assert "secret" not in exc.description


@pytest.mark.parametrize(
    "htu",
    [
        "https://SERVER.example.com:443/resource",
        "https://server.example.com/resource?other=query",
        "https://server.example.com/resource#frag",
        "https://server.example.com/./resource",
        "https://server.example.com/%72esource",
    ],
)
def test_equivalent_htu_is_accepted(htu: str) -> None:
    assert verify(signed(KEY, htu=htu)).htu == URL


@pytest.mark.parametrize(
    "htu",
    [
        "",
        "/resource",
        "server.example.com/resource",
        "ftp://server.example.com/resource",
        "https://user:pw@server.example.com/resource",
        "https://server.example.com/res ource",
        "https:///resource",
    ],
)
def test_htu_that_is_no_absolute_http_uri_is_refused(htu: str) -> None:
    refused(signed(KEY, htu=htu), "htu")
