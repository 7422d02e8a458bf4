"""Hand-assembled JWS for refusal tests: any header, any payload bytes, signed with pyjwt.

``tests.factories.make_proof`` goes through ``jwt.encode``, which picks the signing algorithm from
the header's ``alg`` and normalizes ``typ``; a refusal test needs a header that says one thing
while the signature is made another way, so it assembles the compact JWS itself (RFC 7515 §7.1).
"""

from __future__ import annotations

import json
import time
from typing import Any

from jwt.algorithms import get_default_algorithms
from jwt.utils import base64url_encode

from tests.factories import TestKey


_ALGORITHMS = get_default_algorithms()
# RFC 9864 §2.2: pyjwt (<= 2.15) signs Ed25519 / Ed448 as EdDSA on the key's curve.
for _name in ("Ed25519", "Ed448"):
    _ALGORITHMS.setdefault(_name, _ALGORITHMS["EdDSA"])


def b64(data: bytes | str) -> str:
    return base64url_encode(data.encode() if isinstance(data, str) else data).decode("ascii")


def encode_json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")))


def claims(
    htm: str = "GET", htu: str = "https://server.example.com/resource", **extra: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"jti": "jti-0001", "htm": htm, "htu": htu, "iat": int(time.time())}
    payload.update(extra)
    return payload


def header_for(key: TestKey, **members: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"typ": "dpop+jwt", "alg": key.alg, "jwk": key.public_jwk}
    header.update(members)
    return header


def sign(key: TestKey, header_segment: str, payload_segment: str, alg: str | None = None) -> str:
    """Return ``header.payload.signature`` signed by ``key`` with pyjwt's ``alg`` (default: the key's)."""
    algorithm = _ALGORITHMS[alg or key.alg]
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    signature = algorithm.sign(signing_input, algorithm.prepare_key(key.private_key))
    return f"{header_segment}.{payload_segment}.{b64(signature)}"


def compact(key: TestKey, header: Any, payload: Any, alg: str | None = None) -> str:
    """Sign JSON ``header`` and ``payload`` (or raw ``str`` segments as given) with ``key``."""
    header_segment = header if isinstance(header, str) else encode_json(header)
    payload_segment = payload if isinstance(payload, str) else encode_json(payload)
    return sign(key, header_segment, payload_segment, alg)
