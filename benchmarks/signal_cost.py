"""Cost of the observability hooks of ``verify_request_proof`` (signals, log lines, Prometheus).

Run from the repository root::

    .venv/bin/python -m benchmarks.signal_cost

``verify_request_proof`` is timed on a ``RequestFactory`` request carrying a fresh ES256 proof
(replay store off, so only verification and the hooks are measured):

- ``core``: ``verify_proof`` alone, with what ``verify_request_proof`` passes (the floor);
- ``accept, no receivers``: the default; the hooks must cost (close to) nothing;
- ``accept, no-op receiver`` and ``accept, prometheus``: what listening costs;
- ``refuse (htu), no receivers`` / ``refuse (htu), prometheus``: the refusal path, logging off.

The file also runs on a checkout from before the hooks (no ``django_dpop.events``): the
listener cases are then skipped, which gives the before/after of the default path. Rounds are
interleaved; each case reports the median and best of its rounds, in CPU microseconds per call
(``time.process_time``: a shared machine's other processes do not count).
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import sys
import time
from collections.abc import Callable


ROUNDS = 15
CALLS = 400


def configure() -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="benchmark-only",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_dpop"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DPOP_REPLAY_STORE=None,
        DPOP_ALLOWED_ALGORITHMS=["ES256"],
    )
    django.setup()
    logging.getLogger("django_dpop").setLevel(logging.WARNING)  # production default: refusals unlogged


def main() -> None:
    configure()
    import json
    import secrets

    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.test import RequestFactory
    from jwt.algorithms import ECAlgorithm

    from django_dpop import conf as dpop_conf
    from django_dpop.core import verify_proof
    from django_dpop.core.errors import DPoPError
    from django_dpop.http import expected_htu
    from django_dpop.proofs import RESOURCE, verify_request_proof

    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    factory = RequestFactory()

    def requests(htu: str) -> list:
        now = int(time.time())
        return [
            factory.get(
                "/api/",
                HTTP_DPOP=jwt.encode(
                    {"jti": secrets.token_urlsafe(12), "htm": "GET", "htu": htu, "iat": now},
                    private,
                    algorithm="ES256",
                    headers={"typ": "dpop+jwt", "jwk": jwk},
                ),
            )
            for _ in range(CALLS)
        ]

    good, bad = "http://testserver/api/", "http://elsewhere/api/"

    def core_case() -> Callable[[list], None]:
        def run(batch: list) -> None:
            for request in batch:
                verify_proof(
                    request.META["HTTP_DPOP"],
                    method=request.method,
                    url=expected_htu(request),
                    now=time.time(),
                    policy=dpop_conf.proof_policy(),
                    replay_store=dpop_conf.replay_store(),
                )

        return run

    def full(batch: list) -> None:
        for request in batch:
            with contextlib.suppress(DPoPError):
                verify_request_proof(request, purpose=RESOURCE)

    from django_dpop import proofs

    has_signals = hasattr(proofs, "events")  # False on a checkout from before the hooks
    cases: dict[str, tuple[str, Callable[[list], None], str | None]] = {
        "core": (good, core_case(), None),
        "accept, no receivers": (good, full, None),
        "refuse (htu), no receivers": (bad, full, None),
    }
    if has_signals:
        cases["accept, no-op receiver"] = (good, full, "noop")
        cases["accept, prometheus"] = (good, full, "prometheus")
        cases["refuse (htu), prometheus"] = (bad, full, "prometheus")

    def listen(kind: str | None) -> Callable[[], None]:
        if kind is None:
            return lambda: None
        from django_dpop.signals import proof_accepted, proof_rejected

        if kind == "noop":

            def receiver(sender, **kwargs):  # type: ignore[no-untyped-def]
                return None

            proof_accepted.connect(receiver)
            proof_rejected.connect(receiver)
            return lambda: (proof_accepted.disconnect(receiver), proof_rejected.disconnect(receiver))
        from prometheus_client import CollectorRegistry

        from django_dpop.contrib.prometheus import install, uninstall

        install(CollectorRegistry())
        return uninstall

    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(ROUNDS):
        for name, (htu, run, kind) in cases.items():
            batch = requests(htu)
            stop = listen(kind)
            start = time.process_time()  # CPU time: a busy neighbour's time slices do not count
            run(batch)
            timings[name].append((time.process_time() - start) / CALLS)
            stop()
    width = max(map(len, timings))
    print(f"python {sys.version.split()[0]}, {ROUNDS} rounds x {CALLS} calls, signals module: {has_signals}")
    print(f"{'case':<{width}}  {'us/call':>8}  {'best':>8}")
    for name, values in timings.items():
        print(f"{name:<{width}}  {statistics.median(values) * 1e6:8.1f}  {min(values) * 1e6:8.1f}")


if __name__ == "__main__":
    main()
