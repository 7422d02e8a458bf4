"""Whatever the core is handed, it answers with its own ``DPoPError``, never another exception.

A verifier that lets a ``TypeError`` or ``UnicodeEncodeError`` escape turns a bad proof into a
500 (or, behind a careless ``except``, into an accept). These tests feed the public functions
garbage of every shape, then a seeded fuzz loop of mutated and re-signed proofs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
from typing import Any

import pytest

from django_dpop.core import (
    DPoPError,
    InvalidDPoPProof,
    ProofPolicy,
    check_public_jwk,
    htu_matches,
    jwk_thumbprint,
    normalize_htu,
    verify_proof,
)
from tests.core import jws
from tests.core.conftest import key_for
from tests.factories import TestKey, make_proof


NOW = 1_700_000_000
URL = "https://server.example.com/resource"
POLICY = ProofPolicy()
ROOMY = ProofPolicy(max_proof_length=4_000_000, max_jti_length=100_000)  # lets huge inputs reach the parser
TOKEN = "access-token"


class _Store:
    def check_and_add(self, key: str, expires_at: int) -> bool:
        return True


def outcome(proof: Any, policy: ProofPolicy = POLICY, **kwargs: Any) -> str:
    """Verify ``proof``; return "ok" or the DPoPError's class name. Any other exception fails."""
    kwargs.setdefault("method", "GET")
    kwargs.setdefault("url", URL)
    kwargs.setdefault("now", NOW)
    try:
        verify_proof(proof, policy=policy, replay_store=_Store(), **kwargs)
    except DPoPError as exc:
        return type(exc).__name__
    return "ok"


def refused(proof: Any, policy: ProofPolicy = POLICY, **kwargs: Any) -> None:
    assert outcome(proof, policy, **kwargs) == "InvalidDPoPProof"


def raw_proof(key: TestKey, header: bytes | str, payload: bytes | str) -> str:
    """Sign arbitrary header and payload octets (not necessarily JSON, not necessarily UTF-8)."""
    encode = lambda value: jws.b64(value)  # noqa: E731
    return jws.sign(key, encode(header), encode(payload))


def good_header(key: TestKey) -> str:
    return json.dumps(jws.header_for(key), separators=(",", ":"))


def good_payload(**changes: Any) -> str:
    payload = {"jti": "jti-1", "htm": "GET", "htu": URL, "iat": NOW}
    payload.update(changes)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture(scope="module")
def key() -> TestKey:
    return key_for("ES256")


# --- the proof argument itself --------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        0,
        1,
        1.5,
        True,
        b"a.b.c",
        bytearray(b"a.b.c"),
        ["a", "b", "c"],
        {"a": 1},
        ("a", "b", "c"),
        object(),
    ],
)
def test_non_string_proofs(value: Any) -> None:
    refused(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d.e",
        "....",
        "eyJ.eyJ.eyJ",
        "\x00.\x00.\x00",
        "\ud800.\udfff.x",  # lone surrogates
        "😀.😀.😀",
        "%41.%41.%41",
        "=.=.=",
        "-_-_.-_-_.-_-_",
        "A" * 9000,
        ".".join(["A" * 3000] * 3),
    ],
)
def test_garbage_strings(value: str) -> None:
    refused(value)


def test_random_bytes_as_latin1() -> None:
    rng = random.Random(9449)
    for _ in range(300):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))).decode("latin-1")
        refused(junk)
        refused(".".join([junk] * 3))


def test_one_megabyte_proof_refused_by_size(key: TestKey) -> None:
    proof = make_proof(key, "GET", URL, iat=NOW, claims={"pad": "x" * 1_000_000})
    refused(proof)
    # Even when the size limit lets it through, parsing it only yields the core's errors.
    assert outcome(proof, ROOMY) == "ok"


def test_huge_header_refused_by_size(key: TestKey) -> None:
    refused(make_proof(key, "GET", URL, iat=NOW, headers={"x5c": ["A" * 20_000]}))


# --- header and payload that are not what they should be ------------------------------------------


@pytest.mark.parametrize("value", ["[]", "[1,2]", "1", "-1.5e3", '"dpop+jwt"', "null", "true", "false", '""'])
@pytest.mark.parametrize("where", ["header", "payload"])
def test_json_that_is_not_an_object(key: TestKey, value: str, where: str) -> None:
    header, payload = good_header(key), good_payload()
    if where == "header":
        header = value
    else:
        payload = value
    refused(raw_proof(key, header, payload))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "{",
        "}",
        "{'a': 1}",
        '{"a":1,}',
        '{"a" 1}',
        "{}{}",
        '{"a":1} x',
        '{"a":NaN}',
        '{"a":Infinity}',
        '{"a":-Infinity}',
        '{"a":01}',
        '{"a":"\\x41"}',
        '{"a":"unterminated}',
        '{"a":1,"a":2}',
        "\ufeff{}",  # a byte order mark is not JSON text (RFC 8259 §8.1)
    ],
)
@pytest.mark.parametrize("where", ["header", "payload"])
def test_not_json(key: TestKey, value: str, where: str) -> None:
    header, payload = good_header(key), good_payload()
    if where == "header":
        header = value
    else:
        payload = value
    refused(raw_proof(key, header, payload))


@pytest.mark.parametrize("where", ["header", "payload"])
@pytest.mark.parametrize("encoding", ["latin-1-invalid", "utf-16", "utf-32", "utf-8-sig", "cp1252"])
def test_not_utf8(key: TestKey, where: str, encoding: str) -> None:
    header, payload = good_header(key).encode(), good_payload(jti="é").encode()
    if encoding == "latin-1-invalid":
        converted = b"\xff\xfe\x00" + (header if where == "header" else payload)
    elif encoding == "cp1252":
        converted = (
            good_payload(jti="é€").encode("cp1252")
            if where == "payload"
            else header.replace(b"dpop", b"dp\xe9op")
        )
    else:
        converted = (header if where == "header" else payload).decode().encode(encoding)
    if where == "header":
        header = converted
    else:
        payload = converted
    refused(raw_proof(key, header, payload))


@pytest.mark.parametrize("where", ["header", "payload"])
@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_deeply_nested_json(key: TestKey, where: str, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    header = good_header(key)[:-1] + f',"x":{nested}}}'
    payload = good_payload()[:-1] + f',"x":{nested}}}'
    proof = raw_proof(
        key,
        header if where == "header" else good_header(key),
        payload if where == "payload" else good_payload(),
    )
    # Shallow nesting is just an extra member; deep nesting must not escape as RecursionError.
    assert outcome(proof, ROOMY) in ("ok", "InvalidDPoPProof")
    assert outcome(proof) in ("ok", "InvalidDPoPProof")


@pytest.mark.parametrize(
    "iat",
    [
        "1e400",
        "-1e400",
        "1" + "0" * 400,
        "1" + "0" * 5000,
        "1.7e9",
        "17e8",
        "1700000000.0",
        "0.0",
        "-0",
        "1e-400",
    ],
)
def test_huge_and_odd_numbers(key: TestKey, iat: str) -> None:
    payload = good_payload()[:-1].replace(f'"iat":{NOW}', f'"iat":{iat}') + "}"
    assert outcome(raw_proof(key, good_header(key), payload), ROOMY) in ("ok", "InvalidDPoPProof")


def test_jti_of_ten_thousand_characters(key: TestKey) -> None:
    proof = make_proof(key, "GET", URL, iat=NOW, jti="j" * 10_000)
    refused(proof)  # too large a proof
    refused(proof, ProofPolicy(max_proof_length=100_000))  # too long a jti
    assert outcome(proof, ROOMY) == "ok"


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "nonce", "ath"])
def test_lone_surrogates_in_claims(key: TestKey, claim: str) -> None:
    payload = json.dumps({**json.loads(good_payload()), claim: "a\ud800b"})  # json.dumps escapes it
    result = outcome(raw_proof(key, good_header(key), payload), access_token=TOKEN)
    assert result in ("ok", "InvalidDPoPProof")
    nonce_policy = ProofPolicy(nonce_required=True)
    result = outcome(
        raw_proof(key, good_header(key), payload), nonce_policy, nonce_checker=lambda nonce: None
    )
    assert result in ("InvalidDPoPProof", "UseDPoPNonce", "StoreUnavailable")


def test_lone_surrogate_jti_gets_a_replay_key(key: TestKey) -> None:
    payload = json.dumps({**json.loads(good_payload()), "jti": "\ud800"})
    assert outcome(raw_proof(key, good_header(key), payload)) == "ok"


@pytest.mark.parametrize("member", ["typ", "alg", "kty", "crv", "x", "y"])
def test_lone_surrogates_in_header(key: TestKey, member: str) -> None:
    header = jws.header_for(key)
    if member in ("typ", "alg"):
        header[member] = "\udc80"
    else:
        header["jwk"] = {**header["jwk"], member: "\udc80"}
    refused(raw_proof(key, json.dumps(header), good_payload()))


# --- the other public functions ---------------------------------------------------------------


JUNK: list[Any] = [
    None,
    0,
    1.5,
    True,
    b"https://server.example.com/",
    ["https://server.example.com/"],
    {"url": "x"},
    object(),
    "",
    " ",
    "http://",
    "https://",
    "//server.example.com/",
    "https://[::1",
    "https://[v1.x]/",
    "https://server.example.com:port/",
    "https://server.example.com/\ud800",
    "https://\ud800/",
    "https://%00/",
    "https://%ff/",
    "https://server.example.com/%zz",
    "https://" + "a" * 5000 + "/",
    "javascript:alert(1)",
    "\x00",
]


@pytest.mark.parametrize("value", JUNK)
def test_normalize_htu_junk(value: Any) -> None:
    try:
        normalized = normalize_htu(value)
    except InvalidDPoPProof:
        return
    assert isinstance(normalized, str) and normalized.startswith(("http://", "https://"))


@pytest.mark.parametrize("value", JUNK)
def test_htu_matches_junk(value: Any) -> None:
    for pair in ((value, URL), (URL, value)):
        with contextlib.suppress(InvalidDPoPProof):
            htu_matches(*pair)


JWK_JUNK: list[Any] = [
    None,
    "",
    "{}",
    1,
    [],
    {},
    {"kty": None},
    {"kty": []},
    {"kty": {}},
    {"kty": "EC"},
    {"kty": "EC", "crv": "P-256", "x": 1, "y": "AQAB"},
    {"kty": "EC", "crv": ["P-256"], "x": "AQAB", "y": "AQAB"},
    {"kty": "EC", "crv": "P-256", "x": "\ud800", "y": "AQAB"},
    {"kty": "RSA", "n": "", "e": "AQAB"},
    {"kty": "RSA", "n": None, "e": "AQAB"},
    {"kty": "OKP", "crv": "Ed25519"},
    {"kty": "oct", "k": "AQAB"},
    {"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"},
]


@pytest.mark.parametrize("value", JWK_JUNK)
def test_jwk_functions_junk(value: Any) -> None:
    for function in (jwk_thumbprint, check_public_jwk):
        with contextlib.suppress(InvalidDPoPProof):
            function(value)


# --- seeded fuzzing -----------------------------------------------------------------------


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/, \x00é"


def _mutate(rng: random.Random, proof: str, others: list[str]) -> str:
    operation = rng.randrange(7)
    if operation == 0:  # flip characters
        chars = list(proof)
        for _ in range(rng.randrange(1, 4)):
            chars[rng.randrange(len(chars))] = rng.choice(_ALPHABET)
        return "".join(chars)
    if operation == 1:  # truncate
        return proof[: rng.randrange(len(proof))]
    if operation == 2:  # splice segments of two proofs
        mine, theirs = proof.split("."), rng.choice(others).split(".")
        return ".".join(rng.choice((mine[i], theirs[i])) for i in range(3))
    if operation == 3:  # drop, repeat or swap segments
        segments = proof.split(".")
        rng.shuffle(segments)
        return ".".join(segments[: rng.randrange(1, 4)] + segments[: rng.randrange(0, 3)])
    if operation == 4:  # insert a chunk
        at = rng.randrange(len(proof))
        return proof[:at] + "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(1, 8))) + proof[at:]
    if operation == 5:  # re-encode a segment with a small change of its JSON text
        segments = proof.split(".")
        index = rng.randrange(2)
        text = base64.urlsafe_b64decode(segments[index] + "==").decode()
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice('{}[]":,0 aé\\') + text[at + 1 :]
        segments[index] = jws.b64(text.encode("utf-8", "surrogatepass"))
        return ".".join(segments)
    return proof  # unchanged: must still verify


def test_fuzz_mutated_proofs() -> None:
    rng = random.Random(20_230_917)
    keys = [key_for(alg) for alg in ("ES256", "EdDSA", "RS256", "ES384")]
    proofs = [
        make_proof(k, "GET", URL, iat=NOW, access_token=TOKEN, jti=f"jti-{i}") for i, k in enumerate(keys)
    ]
    outcomes: dict[str, int] = {}
    for _ in range(3000):
        mutated = _mutate(rng, rng.choice(proofs), proofs)
        result = outcome(mutated, access_token=TOKEN)
        outcomes[result] = outcomes.get(result, 0) + 1
    assert set(outcomes) <= {"ok", "InvalidDPoPProof"}
    assert outcomes["InvalidDPoPProof"] > 2000 and outcomes.get("ok", 0) > 0


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    return [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randrange(-(10**20), 10**20),
        lambda: rng.choice([0.5, -1e308, 1e-300, NOW + 0.25]),
        lambda: "".join(rng.choice(_ALPHABET + "\ud800") for _ in range(rng.randrange(0, 12))),
        lambda: rng.choice(["GET", URL, "dpop+jwt", "ES256", "EC", "P-256", ""]),
        lambda: [_random_json(rng, depth + 1) for _ in range(rng.randrange(3))],
        lambda: {
            rng.choice(["a", "jti", "kty", "x"]): _random_json(rng, depth + 1)
            for _ in range(rng.randrange(3))
        },
        lambda: {"kty": "EC", "crv": _random_json(rng, depth + 1), "x": _random_json(rng, depth + 1)},
    ][kind]()


def test_fuzz_signed_proofs_with_random_members() -> None:
    """Validly signed proofs whose header and claims take random JSON values: the checks after
    the signature's own (types, keys, URIs, stores) see them all."""
    rng = random.Random(7638)
    key = key_for("ES256")
    header_members = ["typ", "alg", "jwk", "crit", "kid"]
    claim_names = ["jti", "htm", "htu", "iat", "ath", "nonce"]
    outcomes: dict[str, int] = {}
    for _ in range(1500):
        header = jws.header_for(key)
        payload: dict[str, Any] = {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW, "ath": "x", "nonce": "n"}
        if rng.random() < 0.5:
            header[rng.choice(header_members)] = _random_json(rng)
        else:
            for _ in range(rng.randrange(1, 3)):
                payload[rng.choice(claim_names)] = _random_json(rng)
        proof = jws.compact(key, header, payload)
        for policy, extra in (
            (POLICY, {}),
            (ProofPolicy(nonce_required=True), {"nonce_checker": lambda n: None}),
        ):
            result = outcome(proof, policy, access_token=TOKEN if rng.random() < 0.5 else None, **extra)
            outcomes[result] = outcomes.get(result, 0) + 1
    assert set(outcomes) <= {"ok", "InvalidDPoPProof", "UseDPoPNonce", "StoreUnavailable"}


def test_fuzz_random_public_keys_and_signatures() -> None:
    """Well-formed headers naming random key material (points off the curve, even or tiny RSA
    moduli, exponents 0 or 1, wrong lengths) and random signatures of every length: building the
    key and checking the signature refuse with the core's error, never another exception."""
    rng = random.Random(7518)
    policy = ProofPolicy(allowed_algorithms=("ES256", "ES384", "ES512", "EdDSA", "RS256", "PS256"))
    sizes = {"ES256": 32, "ES384": 48, "ES512": 66, "EdDSA": 32, "RS256": 256, "PS256": 256}

    def material(octets: int) -> str:
        value = rng.getrandbits(8 * octets).to_bytes(octets, "big") if octets else b""
        return jws.b64(rng.choice([value, value.lstrip(b"\0"), b"\0" + value, value[:-1] or b"\x01"]))

    def random_jwk(alg: str) -> dict[str, Any]:
        if alg.startswith("ES"):
            crv = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
            return {"kty": "EC", "crv": crv, "x": material(sizes[alg]), "y": material(sizes[alg])}
        if alg == "EdDSA":
            return {
                "kty": "OKP",
                "crv": rng.choice(["Ed25519", "Ed448"]),
                "x": material(rng.choice([32, 57, 31])),
            }
        n = rng.getrandbits(rng.choice([512, 2048, 2049, 4096])) | rng.choice([0, 1])
        e = rng.choice([0, 1, 2, 3, 65537, 2**256 + 1, rng.getrandbits(64)])
        return {
            "kty": "RSA",
            "n": jws.b64(n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")),
            "e": jws.b64(e.to_bytes((e.bit_length() + 7) // 8 or 1, "big")),
        }

    outcomes: dict[str, int] = {}
    for attempt in range(600):
        alg = rng.choice(list(sizes))
        key = key_for(alg)
        header = jws.header_for(key, jwk=random_jwk(alg)) if rng.random() < 0.7 else jws.header_for(key)
        payload = jws.claims(iat=NOW, htu=URL, jti=f"fuzz-{attempt}")
        proof = jws.compact(key, header, payload)
        head, body, _ = proof.split(".")
        length = rng.choice([0, 1, sizes[alg] * 2 - 1, sizes[alg] * 2, sizes[alg] * 2 + 1, sizes[alg]])
        signature = jws.b64(rng.getrandbits(8 * length).to_bytes(length, "big")) if length else "AA"
        result = outcome(f"{head}.{body}.{signature}", policy)
        outcomes[result] = outcomes.get(result, 0) + 1
    assert set(outcomes) == {"InvalidDPoPProof"}, outcomes
