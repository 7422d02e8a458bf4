"""DPoPKey: generation, JWK/PEM round trips, RFC 7638 thumbprints, immutability, refusals."""

from __future__ import annotations

import copy
import json
import pickle
import threading

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from django_dpop.client import DPoPKey, InvalidKeyError, load_key
from django_dpop.core import jwk_thumbprint


ALGS = ["ES256", "ES384", "ES512", "EdDSA", "Ed25519", "Ed448", "RS256", "PS256"]
REQUIRED = {"EC": {"kty", "crv", "x", "y"}, "RSA": {"kty", "n", "e"}, "OKP": {"kty", "crv", "x"}}


@pytest.fixture(scope="module")
def keys() -> dict[str, DPoPKey]:
    return {alg: DPoPKey.generate(alg) for alg in ALGS}


def test_default_is_es256_on_p256() -> None:
    key = DPoPKey.generate()
    assert key.alg == "ES256"
    assert key.public_jwk["crv"] == "P-256"
    assert isinstance(key.signing_key, ec.EllipticCurvePrivateKey)


@pytest.mark.parametrize("alg", ALGS)
def test_public_jwk_has_only_public_required_members(keys: dict[str, DPoPKey], alg: str) -> None:
    jwk = keys[alg].public_jwk
    assert set(jwk) == REQUIRED[jwk["kty"]]
    assert "d" not in jwk


@pytest.mark.parametrize("alg", ALGS)
def test_thumbprint_is_rfc7638_of_the_public_key(keys: dict[str, DPoPKey], alg: str) -> None:
    key = keys[alg]
    # Independent: cryptography's own public numbers, exported by pyjwt, hashed by the core.
    public = key.signing_key.public_key()
    exported = (
        OKPAlgorithm.from_jwk(key.public_jwk) if alg.startswith("Ed") else jwt.PyJWK(key.public_jwk).key
    )
    assert exported.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.thumbprint == jwk_thumbprint(key.public_jwk) == key.jkt
    assert len(key.thumbprint) == 43


def test_rfc7638_example_thumbprint() -> None:
    # RFC 7638 §3.1: the published thumbprint of the example key, through the function DPoPKey uses.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1"
        "n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    assert (
        jwk_thumbprint({"kty": "RSA", "n": n, "e": "AQAB"}) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )


@pytest.mark.parametrize("alg", ALGS)
def test_jwk_round_trip_keeps_key_and_alg(keys: dict[str, DPoPKey], alg: str) -> None:
    key = keys[alg]
    private = key.to_jwk()
    assert private["alg"] == alg and "d" in private
    for source in (private, json.dumps(private), json.dumps(private).encode()):
        reloaded = DPoPKey.from_jwk(source)
        assert reloaded == key
        assert reloaded.thumbprint == key.thumbprint
        assert reloaded.alg == alg


@pytest.mark.parametrize("alg", ALGS)
def test_pem_round_trip_gives_the_same_thumbprint(keys: dict[str, DPoPKey], alg: str) -> None:
    key = keys[alg]
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    # PEM does not record the algorithm: RSA keys infer RS256, Edwards keys EdDSA.
    explicit = alg.startswith("PS") or alg in ("Ed25519", "Ed448")
    reloaded = DPoPKey.from_pem(pem, alg if explicit else None)
    assert reloaded.thumbprint == key.thumbprint
    assert reloaded.alg == alg
    assert DPoPKey.from_pem(pem.decode()).thumbprint == key.thumbprint
    assert load_key(pem).thumbprint == load_key(json.dumps(key.to_jwk())).thumbprint == key.thumbprint


def test_encrypted_pem_round_trip(keys: dict[str, DPoPKey]) -> None:
    key = keys["ES256"]
    pem = key.to_pem(password=b"s3cret")
    assert b"ENCRYPTED" in pem
    assert DPoPKey.from_pem(pem, password=b"s3cret") == key
    with pytest.raises(InvalidKeyError, match="password"):
        DPoPKey.from_pem(pem)
    with pytest.raises(InvalidKeyError):
        DPoPKey.from_pem(pem, password=b"wrong")


def test_traditional_pem_formats_load() -> None:
    for private in (ec.generate_private_key(ec.SECP384R1()), rsa.generate_private_key(65537, 2048)):
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        assert DPoPKey.from_pem(pem).alg in {"ES384", "RS256"}


def test_rsa_default_alg_and_explicit_pss() -> None:
    private = rsa.generate_private_key(65537, 2048)
    assert DPoPKey(private).alg == "RS256"
    assert DPoPKey(private, "PS384").alg == "PS384"
    jwk = json.loads(RSAAlgorithm.to_jwk(private))
    assert DPoPKey.from_jwk(jwk, "PS256").alg == "PS256"


@pytest.mark.parametrize("alg", ["HS256", "none", "ES256K", "", None, "es256", "RS1"])
def test_unknown_algorithm_is_refused(alg: object) -> None:
    with pytest.raises(InvalidKeyError, match="unsupported DPoP algorithm"):
        DPoPKey.generate(alg)  # type: ignore[arg-type]
    assert issubclass(InvalidKeyError, ValueError)


def test_weak_rsa_is_refused() -> None:
    with pytest.raises(InvalidKeyError, match="rsa_bits"):
        DPoPKey.generate("RS256", rsa_bits=1024)
    weak = rsa.generate_private_key(65537, 1024)
    with pytest.raises(InvalidKeyError, match="1024 bits"):
        DPoPKey(weak)
    weak_pem = weak.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidKeyError, match="1024 bits"):
        DPoPKey.from_pem(weak_pem)
    weak_jwk = json.loads(RSAAlgorithm.to_jwk(weak))
    with pytest.raises(InvalidKeyError, match="1024 bits"):
        DPoPKey.from_jwk(weak_jwk)
    assert DPoPKey.generate("PS256", rsa_bits=3072).signing_key.key_size == 3072


def test_public_keys_are_refused(keys: dict[str, DPoPKey]) -> None:
    key = keys["ES256"]
    with pytest.raises(InvalidKeyError, match="private"):
        DPoPKey.from_jwk(key.public_jwk)
    with pytest.raises(InvalidKeyError, match="private"):
        DPoPKey.from_jwk(key.to_jwk(private=False))
    with pytest.raises(InvalidKeyError, match="public key"):
        DPoPKey.from_pem(key.public_pem())
    with pytest.raises(InvalidKeyError, match="public key"):
        DPoPKey(key.signing_key.public_key())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "jwk",
    [
        "not json",
        "[1, 2]",
        {"kty": "oct", "k": "c2VjcmV0", "d": "x"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "d": "AAAA"},
        {"kty": "EC", "crv": "P-999", "x": "AAAA", "y": "AAAA", "d": "AAAA"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"},
        {"kty": "OKP", "crv": "X25519", "x": "AAAA", "d": "AAAA"},
        {"d": "x"},
    ],
)
def test_malformed_jwk_is_refused(jwk: object) -> None:
    with pytest.raises(InvalidKeyError):
        DPoPKey.from_jwk(jwk)  # type: ignore[arg-type]


def test_jwk_alg_must_fit_key_and_argument(keys: dict[str, DPoPKey]) -> None:
    jwk = keys["ES256"].to_jwk()
    with pytest.raises(InvalidKeyError, match="cannot sign ES384"):
        DPoPKey.from_jwk({**jwk, "alg": "ES384"})
    with pytest.raises(InvalidKeyError, match="not RS256"):
        DPoPKey.from_jwk(jwk, "RS256")
    with pytest.raises(InvalidKeyError, match="cannot sign ES256"):
        DPoPKey(ed25519.Ed25519PrivateKey.generate(), "ES256")


@pytest.mark.parametrize(
    "pem", [b"", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "garbage"]
)
def test_malformed_pem_is_refused(pem: bytes | str) -> None:
    with pytest.raises(InvalidKeyError, match="malformed PEM"):
        DPoPKey.from_pem(pem)


def test_unsupported_curve_is_refused() -> None:
    with pytest.raises(InvalidKeyError, match="curve"):
        DPoPKey(ec.generate_private_key(ec.SECP256K1()))


def test_load_key_refuses_other_text() -> None:
    with pytest.raises(InvalidKeyError, match="neither"):
        load_key("hello")


def test_key_is_immutable(keys: dict[str, DPoPKey]) -> None:
    key = keys["ES256"]
    for name in ("alg", "_alg", "thumbprint", "_private_key", "other"):
        with pytest.raises(AttributeError):
            setattr(key, name, "x")
    with pytest.raises(AttributeError):
        del key._alg
    jwk = key.public_jwk
    jwk["x"] = "tampered"
    assert key.public_jwk["x"] != "tampered"
    assert copy.copy(key) is key and copy.deepcopy(key) is key
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(key)


@pytest.mark.parametrize("alg", ALGS)
def test_repr_never_shows_private_material(keys: dict[str, DPoPKey], alg: str) -> None:
    key = keys[alg]
    private = key.to_jwk()
    text = repr(key) + str(key) + f"{key}"
    assert key.thumbprint in text and alg in text
    for name in ("d", "p", "q", "dp", "dq", "qi"):
        if name in private:
            assert private[name] not in text
    assert "PRIVATE" not in text


def test_errors_never_quote_key_material(keys: dict[str, DPoPKey]) -> None:
    jwk = keys["ES256"].to_jwk()
    broken = {**jwk, "x": jwk["x"][:-4]}
    with pytest.raises(InvalidKeyError) as info:
        DPoPKey.from_jwk(broken)
    assert jwk["d"] not in str(info.value) and info.value.__cause__ is None


def test_shared_key_signs_from_many_threads(keys: dict[str, DPoPKey]) -> None:
    from django_dpop.client import create_proof

    key = keys["ES256"]
    proofs: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        made = [create_proof(key, "GET", "https://rs.example/x") for _ in range(50)]
        with lock:
            proofs.extend(made)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(proofs) == 400
    public = jwt.PyJWK(key.public_jwk, algorithm="ES256").key
    jtis = {jwt.decode(p, public, algorithms=["ES256"])["jti"] for p in proofs}
    assert len(jtis) == 400


@pytest.mark.parametrize(("alg", "curve"), [("Ed25519", "Ed25519"), ("Ed448", "Ed448"), ("EdDSA", "Ed25519")])
def test_fully_specified_eddsa_names(alg: str, curve: str) -> None:
    # RFC 9864 §2.2: Ed25519 / Ed448 name the curve; EdDSA stays available (an Ed25519 key).
    key = DPoPKey.generate(alg)
    assert key.alg == alg and key.public_jwk["crv"] == curve
    assert DPoPKey(key.signing_key, "EdDSA").alg == "EdDSA"  # the same key under the old name
    assert DPoPKey(key.signing_key).alg == "EdDSA"  # inferred: what every EdDSA server accepts


def test_fully_specified_eddsa_name_must_fit_the_curve() -> None:
    with pytest.raises(InvalidKeyError, match="Ed25519 key cannot sign Ed448"):
        DPoPKey(ed25519.Ed25519PrivateKey.generate(), "Ed448")
    with pytest.raises(InvalidKeyError, match="Ed448 key cannot sign Ed25519"):
        DPoPKey(ed448.Ed448PrivateKey.generate(), "Ed25519")
    with pytest.raises(InvalidKeyError, match="cannot sign Ed25519"):
        DPoPKey(ec.generate_private_key(ec.SECP256R1()), "Ed25519")
    jwk = DPoPKey.generate("Ed448").to_jwk()
    with pytest.raises(InvalidKeyError):
        DPoPKey.from_jwk({**jwk, "alg": "Ed25519"})
    assert DPoPKey.from_jwk(jwk).alg == "Ed448"  # control
