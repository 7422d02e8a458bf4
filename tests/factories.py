"""Test keys and DPoP proofs signed with pyjwt (an implementation independent of the verifier)."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from django_dpop.core import compute_ath, jwk_thumbprint


@dataclass(frozen=True)
class TestKey:
    """A private key with its public JWK, thumbprint and JWS algorithm."""

    __test__ = False  # not a pytest class

    alg: str
    private_key: Any
    public_jwk: dict[str, str]

    @property
    def jkt(self) -> str:
        return jwk_thumbprint(self.public_jwk)


def make_key(alg: str = "ES256") -> TestKey:
    if alg.startswith("ES"):
        curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
        private = ec.generate_private_key(curve)
        public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    elif alg in ("EdDSA", "Ed25519", "Ed448"):
        private = (ed448.Ed448PrivateKey if alg == "Ed448" else ed25519.Ed25519PrivateKey).generate()
        public = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    elif alg[:2] in ("RS", "PS"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    else:
        raise ValueError(alg)
    return TestKey(alg=alg, private_key=private, public_jwk=public)


def make_proof(
    key: TestKey,
    htm: str = "GET",
    htu: str = "http://testserver/",
    *,
    access_token: str | None = None,
    nonce: str | None = None,
    iat: float | None = None,
    jti: str | None = None,
    claims: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """Sign a DPoP proof; ``claims``/``headers`` override or add members, ``drop`` removes claims."""
    payload: dict[str, Any] = {
        "jti": jti or secrets.token_urlsafe(16),
        "htm": htm,
        "htu": htu,
        "iat": int(time.time()) if iat is None else iat,
    }
    if access_token is not None:
        payload["ath"] = compute_ath(access_token)
    if nonce is not None:
        payload["nonce"] = nonce
    payload.update(claims or {})
    for name in drop:
        payload.pop(name, None)
    header: dict[str, Any] = {"typ": "dpop+jwt", "jwk": key.public_jwk}
    header.update(headers or {})
    return jwt.encode(payload, key.private_key, algorithm=key.alg, headers=header)
