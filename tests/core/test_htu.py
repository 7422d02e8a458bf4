"""``normalize_htu`` / ``htu_matches``: RFC 3986 §6.2.2-6.2.3 normalization (RFC 9449 §4.3 check 9)."""

from __future__ import annotations

import pytest

from django_dpop.core import InvalidDPoPProof, htu_matches, normalize_htu


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://server.example.com/token", "https://server.example.com/token"),
        ("HTTPS://SERVER.Example.COM/token", "https://server.example.com/token"),  # §6.2.2.1
        ("https://server.example.com:443/token", "https://server.example.com/token"),  # §6.2.3
        ("http://server.example.com:80/token", "http://server.example.com/token"),
        ("https://server.example.com:/token", "https://server.example.com/token"),  # empty port
        ("https://server.example.com:8443/token", "https://server.example.com:8443/token"),
        ("https://server.example.com:080/token", "https://server.example.com:80/token"),
        ("http://server.example.com:443/token", "http://server.example.com:443/token"),
        ("https://server.example.com", "https://server.example.com/"),  # empty path is "/"
        ("https://server.example.com?x=1", "https://server.example.com/"),
        ("https://server.example.com/token?x=1#frag", "https://server.example.com/token"),
        ("https://server.example.com/token#frag", "https://server.example.com/token"),
        ("https://server.example.com/%7euser/%41%2d%5F", "https://server.example.com/~user/A-_"),  # §6.2.2.2
        ("https://server.example.com/a%2fb%3Fc%25", "https://server.example.com/a%2Fb%3Fc%25"),  # §6.2.2.1
        ("https://server.example.com/a/./b/../c", "https://server.example.com/a/c"),  # §6.2.2.3
        ("https://server.example.com/a/b/..", "https://server.example.com/a/"),
        ("https://server.example.com/a/b/.", "https://server.example.com/a/b/"),
        ("https://server.example.com/../../a", "https://server.example.com/a"),
        ("https://server.example.com/a/%2E%2E/b", "https://server.example.com/b"),  # decoded, then removed
        ("https://server.example.com//a//", "https://server.example.com//a//"),  # empty segments stay
        ("https://server.example.com/Token/", "https://server.example.com/Token/"),  # case and slash stay
        ("https://ser%76er.example.com/", "https://server.example.com/"),
        ("https://[::1]/x", "https://[::1]/x"),
        ("https://[::1]:443/x", "https://[::1]/x"),
        ("https://[FE80::1]:8443/x", "https://[fe80::1]:8443/x"),
        ("https://server.example.com/café", "https://server.example.com/caf%C3%A9"),  # RFC 3987 §3.1
        ('https://server.example.com/a"b<c>', "https://server.example.com/a%22b%3Cc%3E"),
        ("https://server.example.com/a;b=c,d:e@f!$&'()*+", "https://server.example.com/a;b=c,d:e@f!$&'()*+"),
    ],
)
def test_normalize(url: str, normalized: str) -> None:
    assert normalize_htu(url) == normalized


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://server.example.com/token", "HTTPS://server.EXAMPLE.com:443/token?q#f"),
        ("https://server.example.com/%7Etoken", "https://server.example.com/~token"),
        ("https://server.example.com/caf%c3%a9", "https://server.example.com/café"),
    ],
)
def test_equivalent(a: str, b: str) -> None:
    assert htu_matches(a, b) and htu_matches(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://server.example.com/token", "https://server.example.com/Token"),
        ("https://server.example.com/token", "https://server.example.com/token/"),
        ("https://server.example.com/token", "http://server.example.com/token"),
        ("https://server.example.com/token", "https://server.example.com:8443/token"),
        ("https://server.example.com/a%2Fb", "https://server.example.com/a/b"),
        ("https://server.example.com/a%20b", "https://server.example.com/a+b"),
        ("https://server.example.com/token", "https://server.example.com./token"),
        ("https://server.example.com/token", "https://other.example.com/token"),
    ],
)
def test_not_equivalent(a: str, b: str) -> None:
    assert not htu_matches(a, b) and not htu_matches(b, a)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/token",
        "token",
        "server.example.com/token",
        "//server.example.com/token",
        "ftp://server.example.com/token",
        "urn:ietf:params:oauth",
        "https://",
        "https:///token",
        "https://user@server.example.com/token",
        "https://user:secret@server.example.com/token",
        "https://server.example.com:65536/token",
        "https://server.example.com:x/token",
        "https://server.example.com:٤٤٣/token",  # Arabic-Indic digits Python's int() would read
        "https://sérver.example.com/token",
        "https://server.example.com/to ken",
        "https://server.example.com/to\tken",
        "https://server.example.com/to\nken",
        "https://server.example.com\\token",
        " https://server.example.com/token",
        "https://[::1/token",
        "https://server.example.com/\ud800",
        "https://server.example.com/" + "a" * 4096,
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(InvalidDPoPProof):
        normalize_htu(url)


@pytest.mark.parametrize(
    "value", [None, 1, b"https://server.example.com/", ["https://server.example.com/"], {}]
)
def test_non_strings_refused(value: object) -> None:
    with pytest.raises(InvalidDPoPProof):
        normalize_htu(value)  # type: ignore[arg-type]
    with pytest.raises(InvalidDPoPProof):
        htu_matches(value, "https://server.example.com/")  # type: ignore[arg-type]
