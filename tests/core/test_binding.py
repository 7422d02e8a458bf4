"""``ath`` (RFC 9449 §4.2) and thumbprint comparison (§4.3 check 12b, §6)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from django_dpop.core import compute_ath, jkt_matches


RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def test_rfc9449_ath_vector() -> None:
    # RFC 9449 §7.1: the access token of figure 11 and the ath of the proof in figure 12.
    assert (
        compute_ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
        == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


@pytest.mark.parametrize("token", ["", "a", "x" * 1000, "abc.def-ghi_jkl~mno+pqr/stu="])
def test_ath_is_unpadded_base64url_of_sha256(token: str) -> None:
    expected = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    assert compute_ath(token) == expected
    assert len(expected) == 43 and "=" not in expected


def test_ath_refuses_non_ascii_tokens() -> None:
    with pytest.raises(UnicodeEncodeError):
        compute_ath("tökén")


def test_jkt_matches() -> None:
    assert jkt_matches(RFC_JKT, RFC_JKT)
    assert not jkt_matches(RFC_JKT, RFC_JKT[:-1] + "J")
    assert not jkt_matches(RFC_JKT, RFC_JKT[:-1])


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        (None, RFC_JKT),
        (RFC_JKT, None),
        (None, None),
        ("", ""),
        ("", RFC_JKT),
        (RFC_JKT.encode(), RFC_JKT),
        (1, 1),
        ("é", "ü"),  # must not both become "?"
        ("\ud800", "\udc00"),
    ],
)
def test_jkt_never_matches_missing_or_foreign_values(expected: Any, actual: Any) -> None:
    assert not jkt_matches(expected, actual)


def test_jkt_compares_exact_code_points() -> None:
    assert jkt_matches("é", "é")
    assert jkt_matches("\ud800", "\ud800")
