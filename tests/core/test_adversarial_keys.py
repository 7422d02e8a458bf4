"""Adversarial key material in the ``jwk`` header (RFC 9449 §4.3 check 7): one key, one encoding, one thumbprint.

RSA (RFC 7518 §6.3.1), EC (§6.2.1) and OKP (RFC 8037 §2, RFC 8032 §5.1.3 / §5.2.3). Small-order
Edwards points are checked against an independent oracle: the point arithmetic of RFC 8032 §5.1.4
/ §5.2.4 written out below (affine, test-only), never the verifier's own tables.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_decode

from django_dpop.core import InvalidDPoPProof, ProofPolicy, check_public_jwk
from tests.core import jws
from tests.core.adversarial import payload, refused, signed, verify
from tests.core.conftest import key_for
from tests.factories import TestKey


def octets(value: str) -> bytes:
    return base64url_decode(value)


def jwk_refused(jwk: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidDPoPProof, match=match) as excinfo:
        check_public_jwk(jwk)
    assert type(excinfo.value) is InvalidDPoPProof


# --- RSA (RFC 7518 §6.3.1.1-6.3.1.2, FIPS 186-5 §5.4) --------------------------------------


def rsa_jwk(**members: str) -> dict[str, str]:
    return {**key_for("RS256").public_jwk, **members}


def test_rsa_modulus_with_a_leading_zero_octet_is_refused() -> None:
    # The same key (pyjwt builds it and the signature verifies) under another thumbprint.
    key = key_for("RS256")
    padded = jws.b64(b"\x00" + octets(key.public_jwk["n"]))
    assert (
        RSAAlgorithm.from_jwk(rsa_jwk(n=padded)).public_numbers().n
        == RSAAlgorithm.from_jwk(rsa_jwk()).public_numbers().n
    )
    refused(signed(key, jwk=rsa_jwk(n=padded)), "not minimally encoded")
    assert verify(signed(key)).jkt == key.jkt  # control


@pytest.mark.parametrize("e", ["AAEAAQ", "AAAAAQAB", "AAM"])
def test_rsa_exponent_not_minimally_encoded_is_refused(e: str) -> None:
    key = key_for("RS256")
    refused(signed(key, jwk=rsa_jwk(e=e)), "not minimally encoded")
    verify(signed(key, jwk=rsa_jwk(e="AQAB")))  # control: 65537, minimal


@pytest.mark.parametrize(
    "exponent", [1, 2, 3, 17, 65535, 65536, 2**16, 2**256 + 1, 2**256 - 2, 2**4096 + 1], ids=str
)
def test_rsa_exponent_out_of_bounds_is_refused(exponent: int) -> None:
    # FIPS 186-5 §5.4 (e): odd, 2**16 < e < 2**256; refused before any key is built.
    e = jws.b64(exponent.to_bytes((exponent.bit_length() + 7) // 8, "big"))
    refused(signed(key_for("RS256"), jwk=rsa_jwk(e=e)), "exponent is not acceptable")


@pytest.mark.parametrize("exponent", [65537, 2**255 + 1, 2**256 - 1], ids=str)
def test_rsa_exponent_within_bounds_passes_the_key_check(exponent: int) -> None:
    e = jws.b64(exponent.to_bytes((exponent.bit_length() + 7) // 8, "big"))
    assert check_public_jwk(rsa_jwk(e=e))["e"] == e


def test_rsa_even_or_oversized_modulus_is_refused() -> None:
    n = bytearray(octets(key_for("RS256").public_jwk["n"]))
    n[-1] &= 0xFE
    jwk_refused(rsa_jwk(n=jws.b64(bytes(n))), "not a valid modulus")
    jwk_refused(rsa_jwk(n=jws.b64(b"\xff" * 1025)), "not a valid modulus")  # 8200 bits
    assert check_public_jwk(rsa_jwk(n=jws.b64(b"\xff" * 1024)))  # 8192 bits: the limit


def test_rsa_key_below_the_policy_size_is_refused() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    small = TestKey("RS256", private, RSAAlgorithm.to_jwk(private.public_key(), as_dict=True))
    refused(signed(small), "RSA key is too small")
    verify(signed(small), policy=ProofPolicy(min_rsa_bits=1024))  # control: the policy's choice


# --- EC (RFC 7518 §6.2.1.2-6.2.1.3) ---------------------------------------------------------


_P521 = 2**521 - 1
_P256 = 2**256 - 2**224 + 2**192 + 2**96 - 1


@pytest.mark.parametrize("member", ["x", "y"])
def test_ec_coordinate_plus_p_is_refused(member: str) -> None:
    # P-521 coordinates take 66 octets, so c + p always fits: the same point (cryptography
    # reduces it, and the signature verifies) under another thumbprint.
    key = key_for("ES512")
    value = int.from_bytes(octets(key.public_jwk[member]), "big") + _P521
    changed = {**key.public_jwk, member: jws.b64(value.to_bytes(66, "big"))}
    refused(signed(key, jwk=changed), f"'{member}' is not a P-521 coordinate")
    assert verify(signed(key)).jkt == key.jkt  # control


@pytest.mark.parametrize(
    "x",
    [
        _P256.to_bytes(32, "big"),  # = 0 mod p
        (2**256 - 1).to_bytes(32, "big"),
        bytes(31),
        bytes(33),
        b"\x01" * 48,
    ],
    ids=["p", "2^256-1", "31 octets", "33 octets", "48 octets"],
)
def test_ec_coordinate_out_of_range_or_of_the_wrong_length_is_refused(x: bytes) -> None:
    jwk_refused({**key_for("ES256").public_jwk, "x": jws.b64(x)}, "not a P-256 coordinate")


@pytest.mark.parametrize(
    ("kty", "crv"),
    [
        ("EC", "P-257"),
        ("EC", "X25519"),
        ("EC", "brainpoolP256r1"),
        ("OKP", "X25519"),
        ("OKP", "X448"),
        ("OKP", "P-256"),
    ],
)
def test_curves_that_cannot_sign_a_proof_are_refused(kty: str, crv: str) -> None:
    base = key_for("ES256" if kty == "EC" else "Ed25519").public_jwk
    jwk_refused({**base, "crv": crv}, "curve is not")
    assert check_public_jwk(base) == base  # control


def test_ec_point_not_on_the_curve_is_refused_when_built() -> None:
    key = key_for("ES256")
    y = int.from_bytes(octets(key.public_jwk["y"]), "big") ^ 1
    refused(
        signed(key, jwk={**key.public_jwk, "y": jws.b64(y.to_bytes(32, "big"))}), "not a valid key for alg"
    )


# --- Ed25519 / Ed448 (RFC 8032 §5.1.3, §5.2.3): canonical, not of small order ---------------------


P25519 = 2**255 - 19
D25519 = -121665 * pow(121666, -1, P25519) % P25519
P448 = 2**448 - 2**224 - 1
D448 = -39081 % P448


def _sqrt(a: int, p: int) -> int | None:
    if p % 4 == 3:
        x = pow(a, (p + 1) // 4, p)
    else:  # p = 5 mod 8 (RFC 8032 §5.1.3 step 3)
        x = pow(a, (p + 3) // 8, p)
        if (x * x - a) % p:
            x = x * pow(2, (p - 1) // 4, p) % p
    return x if (x * x - a) % p == 0 else None


def _decode(encoding: bytes) -> tuple[int, int] | None:
    """RFC 8032 §5.1.3 / §5.2.3 point decoding, but reducing y >= p instead of failing."""
    p, d, a = (P25519, D25519, -1) if len(encoding) == 32 else (P448, D448, 1)
    value = int.from_bytes(encoding, "little")
    sign = value >> (8 * len(encoding) - 1)
    y = (value & ~(1 << (8 * len(encoding) - 1))) % p
    # a x^2 + y^2 = 1 + d x^2 y^2  =>  x^2 = (y^2 - 1) / (d y^2 - a)
    x = _sqrt((y * y - 1) * pow(d * y * y - a, -1, p) % p, p)
    if x is None or (x == 0 and sign):
        return None
    return (p - x if x & 1 != sign else x), y


def _add(p1: tuple[int, int], p2: tuple[int, int], size: int) -> tuple[int, int]:
    p, d, a = (P25519, D25519, -1) if size == 32 else (P448, D448, 1)
    (x1, y1), (x2, y2) = p1, p2
    t = d * x1 * x2 * y1 * y2 % p
    return ((x1 * y2 + x2 * y1) * pow(1 + t, -1, p) % p, (y1 * y2 - a * x1 * x2) * pow(1 - t, -1, p) % p)


def _order_divides(point: tuple[int, int], n: int, size: int) -> bool:
    acc = point
    for _ in range(n - 1):
        acc = _add(acc, point, size)
    return acc == (0, 1)


def _encodings(ys: list[int], size: int) -> list[bytes]:
    top = 1 << (8 * size - 1)
    return [(y | sign).to_bytes(size, "little") for y in ys for sign in (0, top)]


# libsodium's blocklist (ge25519_has_small_order): y = 0, 1, the two order-8 y values, p - 1,
# p and p + 1, each with either sign bit: 14 encodings. Ed448: y = 0, 1, p - 1, p, p + 1.
ED25519_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
ED25519_SMALL = _encodings([0, 1, ED25519_Y8, P25519 - ED25519_Y8, P25519 - 1, P25519, P25519 + 1], 32)
ED448_SMALL = _encodings([0, 1, P448 - 1, P448, P448 + 1], 57)


def test_the_oracle_finds_exactly_the_listed_small_order_points() -> None:
    # Completeness: the 8-torsion of Ed25519 is generated by an order-8 point; its multiples'
    # encodings are all in the list (and Ed448's 4-torsion likewise).
    t = _decode(ED25519_SMALL[4])
    assert t is not None and _order_divides(t, 8, 32) and not _order_divides(t, 4, 32)
    multiples, acc = set(), t
    for _ in range(8):
        x, y = acc
        multiples.add((y | ((x & 1) << 255)).to_bytes(32, "little"))
        acc = _add(acc, t, 32)
    assert len(multiples) == 8 and multiples <= set(ED25519_SMALL)
    four = [(1, 0), (P448 - 1, 0), (0, P448 - 1), (0, 1)]
    assert all(_order_divides(point, 4, 57) for point in four)


@pytest.mark.parametrize(
    "encoding", ED25519_SMALL + ED448_SMALL, ids=lambda e: f"{len(e)}:{e.hex()[:8]}..{e.hex()[-4:]}"
)
def test_small_order_edwards_keys_are_refused(encoding: bytes) -> None:
    crv = "Ed25519" if len(encoding) == 32 else "Ed448"
    point = _decode(encoding)
    if point is not None:  # the oracle agrees it is of small order (cofactor 8 or 4)
        assert _order_divides(point, 8 if crv == "Ed25519" else 4, len(encoding))
    jwk_refused({"kty": "OKP", "crv": crv, "x": jws.b64(encoding)}, "small order|not a canonical")
    assert check_public_jwk(key_for(crv).public_jwk)  # control: a real key


def _forgery(crv: str) -> tuple[dict[str, Any], str]:
    # A = identity, R = identity, S = 0: [S]B = R + [k]A holds for every message k.
    identity = (b"\x01" + bytes(31)) if crv == "Ed25519" else (b"\x01" + bytes(56))
    header = {"typ": "dpop+jwt", "alg": crv, "jwk": {"kty": "OKP", "crv": crv, "x": jws.b64(identity)}}
    signing_input = f"{jws.encode_json(header)}.{jws.encode_json(payload())}"
    return header, f"{signing_input}.{jws.b64(identity + bytes(len(identity)))}"


def test_small_order_key_forgery_is_refused() -> None:
    header, proof = _forgery("Ed25519")
    # The threat is real: cryptography (OpenSSL) accepts this "signature" over any message.
    signing_input, _, signature = proof.rpartition(".")
    ed25519.Ed25519PublicKey.from_public_bytes(octets(header["jwk"]["x"])).verify(
        octets(signature), signing_input.encode()
    )
    refused(proof, "Ed25519 key has small order")
    refused(_forgery("Ed448")[1], "Ed448 key has small order")
    verify(signed(key_for("Ed25519")))  # control


@pytest.mark.parametrize("crv", ["Ed25519", "Ed448"])
def test_non_canonical_edwards_encodings_are_refused(crv: str) -> None:
    size, p = (32, P25519) if crv == "Ed25519" else (57, P448)
    # A real point with a small y has a second encoding y + p (RFC 8032: decoding "fails").
    y = next(
        y
        for y in range(2, 2**20)
        if _decode(y.to_bytes(size, "little")) is not None and y + p < 2 ** (8 * size - 1)
    )
    assert check_public_jwk({"kty": "OKP", "crv": crv, "x": jws.b64(y.to_bytes(size, "little"))})  # control
    jwk_refused({"kty": "OKP", "crv": crv, "x": jws.b64((y + p).to_bytes(size, "little"))}, "not a canonical")
    if crv == "Ed448":  # bits 0-6 of the last octet are no part of any encoding
        x = bytearray(octets(key_for(crv).public_jwk["x"]))
        x[-1] |= 0x01
        jwk_refused({"kty": "OKP", "crv": crv, "x": jws.b64(bytes(x))}, "not a canonical")


@pytest.mark.parametrize(
    ("crv", "size"), [("Ed25519", 31), ("Ed25519", 33), ("Ed25519", 57), ("Ed448", 56), ("Ed448", 32)]
)
def test_edwards_key_of_the_wrong_length_is_refused(crv: str, size: int) -> None:
    jwk_refused({"kty": "OKP", "crv": crv, "x": jws.b64(b"\x05" * size)}, f"not an {crv} public key")
