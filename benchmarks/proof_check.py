"""Micro-benchmark: one full DPoP proof check against one raw ECDSA P-256 verification.

Run from the repository root::

    .venv/bin/python -m benchmarks.proof_check            # or: python benchmarks/proof_check.py
    .venv/bin/python -m benchmarks.proof_check --repeat 100 --number 200 --timer wall

All cases are timed in one process, interleaved (each round runs every case once, so a noisy
neighbour slows all of them alike), and each reports the minimum over the rounds: the least
disturbed run, the usual choice for micro-benchmarks (``timeit`` documentation). Rounds are short
and timed by default with the thread's CPU clock (``time.thread_time``), so that time spent
descheduled on a busy machine is not counted; ``--timer wall`` uses ``time.perf_counter``.
Ratios are to the raw verification measured in the same run. The project's target:
``verify_proof`` within 1.3x of the raw verification.

Cases:

- ``raw ECDSA P-256 verify``: ``cryptography``'s ``EllipticCurvePublicKey.verify`` of a DER
  signature over the proof's signing input, nothing else: the floor any DPoP check pays.
- ``verify_proof (ES256, ath)``: :func:`django_dpop.core.verify_proof` with an access token
  (``ath``), every RFC 9449 §4.3 check, a warmed header cache (the steady state of a client that
  keeps its key), no replay store (a store costs its own round trip, measured elsewhere).
- ``naive pyjwt check``: what a straightforward implementation does on each request: read the
  unverified header, build ``PyJWK`` from its ``jwk``, ``jwt.decode`` with it, then compare
  ``htm``, ``htu`` and ``ath`` and compute the thumbprint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import timeit
from collections.abc import Callable

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm
from jwt.utils import base64url_decode, base64url_encode

from django_dpop.core import ProofPolicy, compute_ath, jwk_thumbprint, verify_proof


URL = "https://resource.example.org/protectedresource"
ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"


def build_cases() -> dict[str, Callable[[], object]]:
    """Return the benchmarked callables, each checked once to do what its name says."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_key = private_key.public_key()
    public_jwk = json.loads(ECAlgorithm.to_jwk(public_key))
    now = int(time.time())
    proof = jwt.encode(
        {"jti": "bench-jti-0001", "htm": "GET", "htu": URL, "iat": now, "ath": compute_ath(ACCESS_TOKEN)},
        private_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": public_jwk},
    )
    signing_input, _, signature_segment = proof.rpartition(".")
    raw_signature = base64url_decode(signature_segment)
    der_signature = encode_dss_signature(
        int.from_bytes(raw_signature[:32], "big"), int.from_bytes(raw_signature[32:], "big")
    )
    message = signing_input.encode("ascii")
    ecdsa = ec.ECDSA(hashes.SHA256())
    policy = ProofPolicy(allowed_algorithms=("ES256",))

    def raw() -> None:
        public_key.verify(der_signature, message, ecdsa)

    def full() -> object:
        return verify_proof(proof, method="GET", url=URL, now=now, policy=policy, access_token=ACCESS_TOKEN)

    def naive() -> object:
        header = jwt.get_unverified_header(proof)
        if header.get("typ") != "dpop+jwt":
            raise ValueError("typ")
        key = jwt.PyJWK(header["jwk"], algorithm="ES256")
        claims = jwt.decode(proof, key=key, algorithms=["ES256"], options={"require": ["jti", "iat"]})
        expected_ath = base64url_encode(hashlib.sha256(ACCESS_TOKEN.encode("ascii")).digest()).decode()
        if claims["htm"] != "GET" or claims["htu"] != URL or claims["ath"] != expected_ath:
            raise ValueError("claims")
        return jwk_thumbprint(header["jwk"])

    # Each case must really accept the proof (the raw verify raises on a bad signature).
    raw()
    assert full().jkt == naive() == jwk_thumbprint(public_jwk)  # type: ignore[attr-defined]
    return {
        "raw ECDSA P-256 verify": raw,
        "verify_proof (ES256, ath)": full,
        "naive pyjwt check": naive,
    }


def measure(
    cases: dict[str, Callable[[], object]], repeat: int, number: int, timer: Callable[[], float]
) -> dict[str, float]:
    """Return the best time per call (seconds) of each case over ``repeat`` interleaved rounds."""
    timers = {name: timeit.Timer(function, timer=timer) for name, function in cases.items()}
    for timer in timers.values():  # warm-up: caches, branch predictors, lazy imports
        timer.timeit(number=max(1, number // 10))
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(repeat):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(number=number) / number)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60, help="interleaved rounds (default 60)")
    parser.add_argument("--number", type=int, default=200, help="calls per case and round (default 200)")
    parser.add_argument(
        "--timer", choices=("cpu", "wall"), default="cpu", help="thread CPU time or wall clock"
    )
    args = parser.parse_args(argv)
    timer = time.thread_time if args.timer == "cpu" else time.perf_counter
    results = measure(build_cases(), args.repeat, args.number, timer)
    baseline = results["raw ECDSA P-256 verify"]
    width = max(map(len, results))
    print(f"{'case':<{width}}  {'us/call':>8}  {'ratio':>6}")
    for name, seconds in results.items():
        print(f"{name:<{width}}  {seconds * 1e6:8.1f}  {seconds / baseline:5.2f}x")
    print(
        f"(min of {args.repeat} interleaved rounds of {args.number} calls, {args.timer} time;"
        " target: verify_proof <= 1.30x)"
    )


if __name__ == "__main__":
    main()
