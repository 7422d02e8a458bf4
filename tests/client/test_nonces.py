"""Client nonce cache, WWW-Authenticate parsing and use_dpop_nonce detection (RFC 9449 §8, §9)."""

from __future__ import annotations

import threading

import pytest

from django_dpop.client.nonces import NonceCache, is_use_dpop_nonce, origin_of, parse_challenges


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://RS.example/a?b", ("https", "rs.example", 443)),
        ("https://rs.example:443/", ("https", "rs.example", 443)),
        ("http://rs.example/", ("http", "rs.example", 80)),
        ("http://127.0.0.1:8000/o/token/", ("http", "127.0.0.1", 8000)),
        ("https://[::1]:8443/", ("https", "::1", 8443)),
    ],
)
def test_origin(url: str, origin: tuple[str, str, int]) -> None:
    assert origin_of(url) == origin


def test_cache_per_origin_and_role() -> None:
    cache = NonceCache()
    assert cache.update("https://a.example/x", "token", "n1") == "n1"
    assert cache.get("https://a.example:443/y?z", "token") == "n1"
    assert cache.get("https://a.example/x", "resource") is None
    assert cache.get("http://a.example/x", "token") is None
    assert cache.get("https://a.example:8443/x", "token") is None
    cache.update("https://a.example/", "token", "n2")
    assert cache.get("https://a.example/", "token") == "n2"


@pytest.mark.parametrize("value", [None, "", "with space", 'q"uote', "back\\slash", "x" * 300, "é"])
def test_cache_ignores_invalid_nonces(value: str | None) -> None:
    cache = NonceCache()
    cache.update("https://a.example/", "token", "good")
    assert cache.update("https://a.example/", "token", value) is None
    assert cache.get("https://a.example/", "token") == "good"


def test_cache_is_bounded_lru() -> None:
    cache = NonceCache(max_entries=2)
    cache.update("https://a.example/", "token", "a")
    cache.update("https://b.example/", "token", "b")
    cache.get("https://a.example/", "token")  # a is now the most recent
    cache.update("https://c.example/", "token", "c")
    assert len(cache) == 2
    assert cache.get("https://b.example/", "token") is None
    assert cache.get("https://a.example/", "token") == "a"
    with pytest.raises(ValueError):
        NonceCache(max_entries=0)
    cache.clear()
    assert len(cache) == 0


def test_cache_threads() -> None:
    cache = NonceCache(max_entries=50)

    def work(n: int) -> None:
        for i in range(500):
            cache.update(f"https://h{i % 80}.example/", "token", f"n{n}-{i}")
            cache.get(f"https://h{(i * 7) % 80}.example/", "token")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50


def test_parse_challenges() -> None:
    header = (
        'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", '
        'algs="ES256 PS256", Bearer realm="api", error="invalid_token"'
    )
    assert parse_challenges(header) == [
        (
            "dpop",
            {
                "error": "use_dpop_nonce",
                "error_description": "Resource server requires nonce in DPoP proof",
                "algs": "ES256 PS256",
            },
        ),
        ("bearer", {"realm": "api", "error": "invalid_token"}),
    ]
    assert parse_challenges("Basic abc==, dpop ERROR=use_dpop_nonce") == [
        ("basic", {}),
        ("dpop", {"error": "use_dpop_nonce"}),
    ]
    assert parse_challenges('Bearer realm="a\\"b"') == [("bearer", {"realm": 'a"b'})]
    assert parse_challenges("") == []
    assert parse_challenges("=broken") == []


@pytest.mark.parametrize(
    ("status", "header", "body", "expected"),
    [
        (400, None, b'{"error": "use_dpop_nonce"}', True),
        (400, None, b'{"error": "invalid_dpop_proof"}', False),
        (400, None, b'["use_dpop_nonce"]', False),
        (400, None, b"use_dpop_nonce", False),
        (400, None, b'{"error": "use_dpop_nonce", "pad": "' + b"x" * 70000 + b'"}', False),
        (400, None, None, False),
        (401, 'DPoP error="use_dpop_nonce"', None, True),
        (401, 'Bearer realm="api", DPoP error="use_dpop_nonce", algs="ES256"', None, True),
        (401, 'Bearer error="use_dpop_nonce"', None, False),
        (401, 'DPoP error="invalid_dpop_proof"', None, False),
        (401, None, None, False),
        (403, 'DPoP error="use_dpop_nonce"', None, False),
        (200, None, b'{"error": "use_dpop_nonce"}', False),
    ],
)
def test_is_use_dpop_nonce(status: int, header: str | None, body: bytes | None, expected: bool) -> None:
    headers = {"WWW-Authenticate": header} if header else {}
    assert is_use_dpop_nonce(status, headers, body) is expected


def test_is_use_dpop_nonce_with_several_header_lines() -> None:
    lines = {"WWW-Authenticate": ['Bearer realm="api"', 'DPoP error="use_dpop_nonce"']}
    assert is_use_dpop_nonce(401, lambda name: lines.get(name, []), None)
