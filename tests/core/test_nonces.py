"""The nonce arithmetic of ``django_dpop.core.nonces`` (RFC 9449 §8, §9), without Django."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from django_dpop.core.nonces import (
    MAX_NONCE_LENGTH,
    current_step,
    is_nonce_syntax,
    rotation_period,
    sign_nonce,
    signed_nonce_step,
    step_status,
)
from django_dpop.core.stores import NonceStatus


KEY = b"k" * 32


@pytest.mark.parametrize(
    "value",
    [
        "a",
        "!",
        "~",
        "abc.DEF-_~",
        "x" * MAX_NONCE_LENGTH,
        "".join(chr(c) for c in range(0x21, 0x7F) if c not in (0x22, 0x5C)),
    ],
)
def test_nqchar_values_are_nonce_syntax_including_the_rfc_examples(value: str) -> None:
    assert is_nonce_syntax(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "a b",
        '"',
        "a\\b",
        "\x7f",
        "\x00",
        "é",
        "x" * (MAX_NONCE_LENGTH + 1),
        "a\n",
        None,
        1,
        b"abc",
        ["a"],
    ],
)
def test_other_values_are_not_nonce_syntax(value: object) -> None:
    # RFC 9449 §8.1: nonce = 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E.
    assert not is_nonce_syntax(value)


@pytest.mark.parametrize(
    ("lifetime", "period"), [(300, 150), (301, 150), (2, 1), (1, 1), (0, 1), (3600, 1800)]
)
def test_rotation_period_is_half_the_lifetime_and_at_least_one_second(lifetime: int, period: int) -> None:
    assert rotation_period(lifetime) == period


def test_current_step_counts_whole_periods() -> None:
    assert current_step(0, 150) == 0
    assert current_step(149.999, 150) == 0
    assert current_step(150, 150) == 1
    assert current_step(1_800_000_000.5, 150) == 12_000_000


def test_a_step_is_current_then_valid_for_one_more_period_then_invalid() -> None:
    assert step_status(10, 10) is NonceStatus.CURRENT
    assert step_status(9, 10) is NonceStatus.VALID
    assert step_status(8, 10) is NonceStatus.INVALID
    assert step_status(11, 10) is NonceStatus.INVALID  # from the future: never accepted


def test_signed_nonce_is_step_and_hmac_over_purpose_and_step() -> None:
    nonce = sign_nonce(KEY, "token", 12_000_000)
    step_part, mac_part = nonce.split(".")
    step_bytes = (12_000_000).to_bytes(8, "big")
    # Recomputed independently with the stdlib.
    assert base64.urlsafe_b64decode(step_part + "=") == step_bytes
    expected = hmac.new(KEY, b"token|" + step_bytes, hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(mac_part + "=") == expected
    assert is_nonce_syntax(nonce)
    assert signed_nonce_step(KEY, "token", nonce) == 12_000_000


def test_signed_nonce_refuses_another_purpose_key_or_step() -> None:
    nonce = sign_nonce(KEY, "token", 5)
    assert signed_nonce_step(KEY, "resource", nonce) is None
    assert signed_nonce_step(b"other" * 8, "token", nonce) is None
    other_step = sign_nonce(KEY, "token", 6).split(".")[0]
    assert signed_nonce_step(KEY, "token", other_step + "." + nonce.split(".")[1]) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda n: n[:-1] + ("A" if n[-1] != "A" else "B"),  # MAC changed
        lambda n: n + "A",  # MAC extended
        lambda n: n.replace(".", ""),  # no separator
        lambda n: n + ".x",  # two separators
        lambda n: "." + n.split(".")[1],  # empty step
        lambda n: "AAAA." + n.split(".")[1],  # 3-byte step
        lambda n: "!!!!!!!!!!!." + n.split(".")[1],  # not base64url
        lambda n: n.split(".")[0] + "=." + n.split(".")[1],  # padded (non-canonical)
        lambda n: n + " ",  # not NQCHAR
        lambda n: "x" * 300,  # too long
        lambda n: "",
    ],
)
def test_tampered_signed_nonces_are_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    nonce = sign_nonce(KEY, "token", 5)
    assert signed_nonce_step(KEY, "token", mangle(nonce)) is None


@pytest.mark.parametrize("value", [None, 5, b"AAAAAAAAAAU.x", ["a.b"]])
def test_signed_nonce_step_of_a_non_string_is_none(value: object) -> None:
    assert signed_nonce_step(KEY, "token", value) is None  # type: ignore[arg-type]
