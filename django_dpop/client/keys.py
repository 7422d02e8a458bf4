"""DPoP key pairs for clients: generate, export and load (JWK and PEM), thumbprint (RFC 7638).

A :class:`DPoPKey` is immutable and holds a ``cryptography`` private key, whose signing methods
are safe to call from several threads, so one key can be shared by every thread of a process.
Its repr and its exceptions never show private material.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import Algorithm, ECAlgorithm, OKPAlgorithm, RSAAlgorithm, get_default_algorithms
from jwt.exceptions import PyJWTError
from jwt.utils import base64url_encode

from django_dpop.core import jwk_thumbprint
from django_dpop.core.jwk import PRIVATE_MEMBERS, THUMBPRINT_MEMBERS

from .errors import InvalidKeyError


DEFAULT_ALGORITHM = "ES256"
MIN_RSA_BITS = 2048  # RFC 7518 §3.3 / §3.5: 2048 bits or more
MAX_RSA_BITS = 16384  # refuse absurd sizes that would stall a signer

# RFC 7518 §3.1, RFC 8037 §3.1 and RFC 9864 §2.2: the JWS algorithms a client can sign DPoP
# proofs with, and the key type (and curves) each one needs. Every one is in the core's
# asymmetric allowlist.
_EC_CURVES: dict[str, tuple[str, type[ec.EllipticCurve]]] = {
    "ES256": ("P-256", ec.SECP256R1),
    "ES384": ("P-384", ec.SECP384R1),
    "ES512": ("P-521", ec.SECP521R1),
}
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
# RFC 9864 §2.2: the fully-specified names of EdDSA on one curve. A key loaded or generated
# without a name signs "EdDSA", which every EdDSA server accepts; ask for "Ed25519" / "Ed448"
# to sign with the fully-specified name.
_EDDSA_CURVES: dict[str, type[ed25519.Ed25519PrivateKey] | type[ed448.Ed448PrivateKey]] = {
    "Ed25519": ed25519.Ed25519PrivateKey,
    "Ed448": ed448.Ed448PrivateKey,
}
SUPPORTED_ALGORITHMS: tuple[str, ...] = (*_EC_CURVES, "EdDSA", *_EDDSA_CURVES, *_RSA_ALGORITHMS)
_ALG_FOR_CURVE = {curve: alg for alg, (curve, _) in _EC_CURVES.items()}

_PrivateKey = (
    ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
)
_PUBLIC_TYPES = (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)


def _check_alg(alg: object) -> str:
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        supported = ", ".join(SUPPORTED_ALGORITHMS)
        raise InvalidKeyError(f"unsupported DPoP algorithm {alg!r}; use one of {supported}")
    return alg


def _alg_for_key(private_key: _PrivateKey, alg: str | None) -> str:
    """Return the JWS ``alg`` for ``private_key``: the requested one if the key fits it, else inferred.

    EC keys infer from their curve (RFC 7518 §3.4), OKP keys are ``EdDSA`` (RFC 8037 §3.1) and RSA
    keys default to ``RS256``, the RSA algorithm every DPoP server supports.
    """
    if alg is not None:
        _check_alg(alg)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        inferred = next(
            (a for a, (_, curve) in _EC_CURVES.items() if isinstance(private_key.curve, curve)), None
        )
        if inferred is None:
            raise InvalidKeyError(f"unsupported elliptic curve {private_key.curve.name}")
        if alg is not None and alg != inferred:
            raise InvalidKeyError(
                f"an EC key on {private_key.curve.name} cannot sign {alg}; it signs {inferred}"
            )
        return inferred
    if isinstance(private_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        curve = "Ed25519" if isinstance(private_key, ed25519.Ed25519PrivateKey) else "Ed448"
        if alg is not None and alg not in ("EdDSA", curve):
            raise InvalidKeyError(f"an {curve} key cannot sign {alg}; it signs {curve} or EdDSA")
        return alg or "EdDSA"
    if isinstance(private_key, rsa.RSAPrivateKey):
        if not MIN_RSA_BITS <= private_key.key_size <= MAX_RSA_BITS:
            raise InvalidKeyError(
                f"RSA key of {private_key.key_size} bits; DPoP needs {MIN_RSA_BITS} to {MAX_RSA_BITS} bits"
            )
        if alg is not None and alg not in _RSA_ALGORITHMS:
            raise InvalidKeyError(
                f"an RSA key cannot sign {alg}; it signs one of {', '.join(_RSA_ALGORITHMS)}"
            )
        return alg or "RS256"
    if isinstance(private_key, _PUBLIC_TYPES):
        raise InvalidKeyError("this is a public key; signing DPoP proofs needs the private key")
    raise InvalidKeyError(f"unsupported key type {type(private_key).__name__}")


def _jwk_of(private_key: _PrivateKey, *, private: bool) -> dict[str, str]:
    """Export with pyjwt: the public JWK has exactly the RFC 7638 required members."""
    target: Any = private_key if private else private_key.public_key()
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        jwk = dict(ECAlgorithm.to_jwk(target, as_dict=True))
    elif isinstance(private_key, rsa.RSAPrivateKey):
        jwk = dict(RSAAlgorithm.to_jwk(target, as_dict=True))
    else:
        jwk = dict(OKPAlgorithm.to_jwk(target, as_dict=True))
    # pyjwt adds "key_ops" to RSA keys; keep the key members only (RFC 7518 §6, RFC 8037 §2).
    allowed = set(THUMBPRINT_MEMBERS[jwk["kty"]]) | (PRIVATE_MEMBERS if private else set())
    return {name: value for name, value in jwk.items() if name in allowed}


class DPoPKey:
    """A private key a client signs DPoP proofs with (RFC 9449 §4.2), and its public JWK.

    Build one with :meth:`generate`, :meth:`from_jwk` or :meth:`from_pem`. Instances are frozen:
    no attribute can be set or deleted, and :attr:`public_jwk` returns a fresh copy each time.
    """

    __slots__ = ("_alg", "_header_segment", "_jws_algorithm", "_private_key", "_public_jwk", "_thumbprint")

    _alg: str
    _private_key: _PrivateKey
    _public_jwk: Mapping[str, str]
    _thumbprint: str
    _header_segment: bytes
    _jws_algorithm: Algorithm

    def __init__(self, private_key: _PrivateKey, alg: str | None = None) -> None:
        """Wrap a ``cryptography`` private key; ``alg`` is inferred from the key when omitted."""
        resolved = _alg_for_key(private_key, alg)
        public_jwk = _jwk_of(private_key, private=False)
        object.__setattr__(self, "_alg", resolved)
        object.__setattr__(self, "_private_key", private_key)
        object.__setattr__(self, "_public_jwk", MappingProxyType(public_jwk))
        # RFC 7638 through the core: the same function the server binds tokens with.
        object.__setattr__(self, "_thumbprint", jwk_thumbprint(public_jwk))
        # RFC 9449 §4.2: every proof this key signs has the same JOSE header (typ, alg and the
        # public JWK only), so encode it once.
        header = {"alg": resolved, "jwk": public_jwk, "typ": "dpop+jwt"}
        segment = base64url_encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())
        object.__setattr__(self, "_header_segment", segment)
        # pyjwt's EdDSA implementation signs with whichever curve the key is on: it is the
        # implementation of Ed25519 and Ed448 too (RFC 9864 §2.2), for a pyjwt without them.
        algorithms = get_default_algorithms()
        object.__setattr__(
            self, "_jws_algorithm", algorithms["EdDSA" if resolved in _EDDSA_CURVES else resolved]
        )

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def generate(cls, alg: str = DEFAULT_ALGORITHM, *, rsa_bits: int = MIN_RSA_BITS) -> DPoPKey:
        """Generate a new key for ``alg`` (ES256 by default; RSA keys of ``rsa_bits``, >= 2048)."""
        _check_alg(alg)
        private_key: _PrivateKey
        if alg in _EC_CURVES:
            private_key = ec.generate_private_key(_EC_CURVES[alg][1]())
        elif alg == "EdDSA":
            private_key = ed25519.Ed25519PrivateKey.generate()
        elif alg in _EDDSA_CURVES:
            private_key = _EDDSA_CURVES[alg].generate()
        else:
            if isinstance(rsa_bits, bool) or not isinstance(rsa_bits, int):
                raise InvalidKeyError("rsa_bits must be an integer")
            if not MIN_RSA_BITS <= rsa_bits <= MAX_RSA_BITS:
                raise InvalidKeyError(f"rsa_bits must be between {MIN_RSA_BITS} and {MAX_RSA_BITS}")
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        return cls(private_key, alg)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any] | str | bytes, alg: str | None = None) -> DPoPKey:
        """Load a private JWK (a mapping or JSON text), as written by :meth:`to_jwk`.

        The algorithm is ``alg``, else the JWK's own ``alg`` member, else inferred from the key.
        A public JWK, a symmetric key or malformed JSON raises :class:`InvalidKeyError`.
        """
        if isinstance(jwk, bytes | str):
            try:
                jwk = json.loads(jwk)
            except (ValueError, RecursionError):
                raise InvalidKeyError("the JWK is not valid JSON") from None
        if not isinstance(jwk, Mapping):
            raise InvalidKeyError("the JWK is not a JSON object")
        data = dict(jwk)
        kty = data.get("kty")
        if "d" not in data:
            raise InvalidKeyError(
                "this JWK has no private part ('d'); signing DPoP proofs needs the private key"
            )
        jwk_alg = data.get("alg")
        if jwk_alg is not None:
            _check_alg(jwk_alg)
            if alg is not None and alg != jwk_alg:
                raise InvalidKeyError(f"the JWK is for {jwk_alg}, not {alg}")
        loader: Any = {"EC": ECAlgorithm, "RSA": RSAAlgorithm, "OKP": OKPAlgorithm}.get(kty)  # type: ignore[arg-type]
        if loader is None:
            raise InvalidKeyError(f"unsupported JWK key type {kty!r}; DPoP needs EC, RSA or OKP")
        try:
            private_key = loader.from_jwk(data)
        except (PyJWTError, ValueError, TypeError, KeyError, AttributeError):
            # pyjwt's messages can quote member values; ours never do.
            raise InvalidKeyError(f"malformed {kty} JWK") from None
        return cls(private_key, alg or jwk_alg)

    @classmethod
    def from_pem(cls, pem: bytes | str, alg: str | None = None, *, password: bytes | None = None) -> DPoPKey:
        """Load a PEM private key (PKCS #8, or traditional EC/RSA), optionally encrypted."""
        data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
        if not isinstance(data, bytes):
            raise InvalidKeyError("PEM data must be bytes or str")
        try:
            private_key = serialization.load_pem_private_key(data, password=password)
        except TypeError:
            raise InvalidKeyError(
                "the PEM key is encrypted and needs a password (or the password is unexpected)"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            if _is_public_pem(data):
                raise InvalidKeyError(
                    "this PEM holds a public key; signing DPoP proofs needs the private key"
                ) from None
            raise InvalidKeyError("malformed PEM private key (or a wrong password)") from None
        return cls(private_key, alg)  # type: ignore[arg-type]

    # -- properties ---------------------------------------------------------------------------

    @property
    def alg(self) -> str:
        """The JWS ``alg`` of the proofs this key signs."""
        return self._alg

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public JWK (only its RFC 7638 required members): what goes in the proof header."""
        return dict(self._public_jwk)

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint: ``jkt`` of RFC 9449 §6 and the ``dpop_jkt`` of §10."""
        return self._thumbprint

    @property
    def jkt(self) -> str:
        """Alias of :attr:`thumbprint`, the RFC 9449 name."""
        return self._thumbprint

    # -- export -------------------------------------------------------------------------------

    def to_jwk(self, private: bool = True) -> dict[str, str]:
        """Return the key as a JWK dict with its ``alg``; ``private=False`` for the public half."""
        jwk = _jwk_of(self._private_key, private=private)
        jwk["alg"] = self._alg
        return jwk

    def to_pem(self, password: bytes | None = None) -> bytes:
        """Return the private key as PKCS #8 PEM, encrypted when a ``password`` is given.

        PEM does not record the JWS algorithm: pass ``alg`` to :meth:`from_pem` for RSA keys used
        with anything but RS256.
        """
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def public_pem(self) -> bytes:
        """Return the public key as SubjectPublicKeyInfo PEM."""
        return self._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # -- signing (used by django_dpop.client.proofs) -----------------------------------------

    def sign_proof(self, claims: Mapping[str, Any]) -> str:
        """Return the compact JWS (RFC 7515 §7.1) of ``claims`` under this key's DPoP header.

        The signature is pyjwt's implementation of :attr:`alg` (for ECDSA the raw ``R || S`` of
        RFC 7518 §3.4). Use :func:`django_dpop.client.create_proof`, which builds the claims.
        """
        payload = base64url_encode(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = self._header_segment + b"." + payload
        signature = base64url_encode(self._jws_algorithm.sign(signing_input, self._private_key))
        return (signing_input + b"." + signature).decode("ascii")

    @property
    def signing_key(self) -> _PrivateKey:
        """The ``cryptography`` private key, for pyjwt. Treat it as secret."""
        return self._private_key

    # -- immutability, equality, safe repr ----------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __copy__(self) -> DPoPKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> DPoPKey:
        return self

    def __reduce__(self) -> Any:
        # Pickling would copy the private key into caches, queues and logs; export it explicitly.
        raise TypeError("DPoPKey is not picklable; use to_jwk() or to_pem() and store the key securely")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DPoPKey):
            return NotImplemented
        return self._alg == other._alg and self._thumbprint == other._thumbprint

    def __hash__(self) -> int:
        return hash((self._alg, self._thumbprint))

    def __repr__(self) -> str:
        return f"<DPoPKey alg={self._alg} thumbprint={self._thumbprint}>"

    __str__ = __repr__


def _is_public_pem(data: bytes) -> bool:
    try:
        serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def load_key(data: bytes | str, alg: str | None = None) -> DPoPKey:
    """Load a private key from JWK JSON or PEM text, whichever ``data`` holds (used by the CLI)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if not isinstance(text, str):
        raise InvalidKeyError("key data must be bytes or str")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return DPoPKey.from_jwk(stripped, alg)
    if stripped.startswith("-----BEGIN"):
        return DPoPKey.from_pem(stripped, alg)
    raise InvalidKeyError("key data is neither a JWK (JSON) nor a PEM private key")


__all__ = [
    "DEFAULT_ALGORITHM",
    "MIN_RSA_BITS",
    "SUPPORTED_ALGORITHMS",
    "DPoPKey",
    "InvalidKeyError",
    "load_key",
]
