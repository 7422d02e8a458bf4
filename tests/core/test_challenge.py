"""``WWW-Authenticate: DPoP`` challenges (RFC 9449 §7.1, §7.2, §9; RFC 9110 §11.6.1)."""

from __future__ import annotations

import pytest

from django_dpop.core import build_challenge
from django_dpop.core.challenge import quote


def test_rfc9449_examples() -> None:
    # RFC 9449 §7.1 and §7.2, figures 12-14 (anchors.md §g item 8).
    assert build_challenge(algs=["ES256", "PS256"]) == 'DPoP algs="ES256 PS256"'
    assert (
        build_challenge(error="invalid_token", error_description="Invalid DPoP key binding", algs=("ES256",))
        == 'DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256"'
    )
    assert (
        build_challenge(
            error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"
        )
        == 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"'
    )


def test_bare_scheme() -> None:
    # RFC 9449 §7.2: "Bearer, DPoP algs=..." when no credentials were sent.
    assert build_challenge("Bearer") == "Bearer"
    assert build_challenge() == "DPoP"
    assert f"{build_challenge('Bearer')}, {build_challenge(algs=['ES256'])}" == 'Bearer, DPoP algs="ES256"'


def test_parameter_order_and_realm_scope() -> None:
    challenge = build_challenge(realm="api", error="insufficient_scope", scope="read write", algs=["EdDSA"])
    assert challenge == 'DPoP realm="api", error="insufficient_scope", scope="read write", algs="EdDSA"'


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ('\\"', '"\\\\\\""'),
        ("", '""'),
        ("line\r\nInjected: header", '"lineInjected: header"'),  # CR and LF stripped
        ("tab\tnul\x00del\x7f", '"tabnuldel"'),
        ("café ✓", '"caf "'),  # printable ASCII only (RFC 6749 §5.2, RFC 6750 §3)
    ],
)
def test_quoted_string_escaping(value: str, quoted: str) -> None:
    assert quote(value) == quoted
    assert build_challenge(error_description=value) == f"DPoP error_description={quoted}"


def _parse(challenge: str) -> tuple[str, dict[str, str]]:
    """A strict reader of ``scheme name="value", ...`` (RFC 9110 §11.6.1, §5.6.4)."""
    scheme, _, rest = challenge.partition(" ")
    params: dict[str, str] = {}
    i = 0
    while i < len(rest):
        equals = rest.index("=", i)
        name = rest[i:equals].lstrip(", ")
        assert rest[equals + 1] == '"', challenge
        j, value = equals + 2, []
        while rest[j] != '"':
            if rest[j] == "\\":
                j += 1
            value.append(rest[j])
            j += 1
        params[name] = "".join(value)
        i = j + 1
    return scheme, params


def test_no_value_can_split_the_header() -> None:
    challenge = build_challenge(
        realm='x", evil="1',
        error="e\r\nSet-Cookie: a=b",
        error_description="\n",
        scope="s\\",
        algs=['ES256"'],
    )
    assert "\r" not in challenge and "\n" not in challenge
    assert _parse(challenge) == (
        "DPoP",
        {
            "realm": 'x", evil="1',
            "error": "eSet-Cookie: a=b",
            "error_description": "",
            "scope": "s\\",
            "algs": 'ES256"',
        },
    )
