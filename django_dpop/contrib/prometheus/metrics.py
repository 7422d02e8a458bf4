"""Counters and a histogram fed by the signals of :mod:`django_dpop.signals`.

Every label value comes from a bounded set (endpoint kinds, reason codes, JWS algorithm names or
"other", store names), so a client cannot grow the number of series.
"""

from __future__ import annotations

from typing import Any


try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "django_dpop.contrib.prometheus needs prometheus-client: pip install 'django-dpop[prometheus]'"
    ) from exc

from ...core.errors import REASONS
from ...events import KNOWN_ALGORITHMS
from ...signals import ENDPOINTS, STORES, proof_accepted, proof_rejected, store_failed


#: Buckets of ``dpop_proof_iat_offset_seconds`` (iat minus server time): clock skew both ways.
IAT_OFFSET_BUCKETS = (-300.0, -60.0, -30.0, -10.0, -5.0, -1.0, 0.0, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)
_DISPATCH_UID = "django_dpop.contrib.prometheus"


def _bounded(value: Any, allowed: frozenset[str], fallback: str = "other") -> str:
    return value if isinstance(value, str) and value in allowed else fallback


class DPoPMetrics:
    """The metrics on one registry, and the signal receivers that update them."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY, namespace: str = "") -> None:
        kwargs: dict[str, Any] = {"registry": registry, "namespace": namespace}
        self.accepted = Counter("dpop_proofs_accepted", "DPoP proofs accepted", ["endpoint", "alg"], **kwargs)
        self.rejected = Counter(
            "dpop_proofs_rejected",
            "DPoP proofs refused, by reason code",
            ["endpoint", "reason", "alg"],
            **kwargs,
        )
        self.store_failures = Counter(
            "dpop_store_failures",
            "Replay, nonce and token store failures (503)",
            ["endpoint", "store"],
            **kwargs,
        )
        self.iat_offset = Histogram(
            "dpop_proof_iat_offset_seconds",
            "iat of accepted proofs minus the server's time (positive: client clock ahead)",
            ["endpoint"],
            buckets=IAT_OFFSET_BUCKETS,
            **kwargs,
        )

    # Receivers: keyword arguments of the signals (django_dpop.signals).
    def on_accepted(self, sender: Any, *, endpoint: str, alg: str, iat_offset: float, **_: Any) -> None:
        endpoint = _bounded(endpoint, ENDPOINTS)
        self.accepted.labels(endpoint, _alg(alg)).inc()
        self.iat_offset.labels(endpoint).observe(iat_offset)

    def on_rejected(self, sender: Any, *, endpoint: str, reason: str, alg: str | None, **_: Any) -> None:
        self.rejected.labels(
            _bounded(endpoint, ENDPOINTS), _bounded(reason, REASONS, "invalid"), _alg(alg)
        ).inc()

    def on_store_failed(self, sender: Any, *, endpoint: str, store: str, **_: Any) -> None:
        self.store_failures.labels(_bounded(endpoint, ENDPOINTS), _bounded(store, STORES, "unknown")).inc()

    def connect(self) -> None:
        proof_accepted.connect(self.on_accepted, dispatch_uid=_DISPATCH_UID, weak=False)
        proof_rejected.connect(self.on_rejected, dispatch_uid=_DISPATCH_UID, weak=False)
        store_failed.connect(self.on_store_failed, dispatch_uid=_DISPATCH_UID, weak=False)

    @staticmethod
    def disconnect() -> None:
        for signal in (proof_accepted, proof_rejected, store_failed):
            signal.disconnect(dispatch_uid=_DISPATCH_UID)


def _alg(alg: str | None) -> str:
    # The signals already bound it (django_dpop.events.label_alg); "unknown" when unreadable.
    if alg is None:
        return "unknown"
    return alg if alg in KNOWN_ALGORITHMS else "other"


_installed: DPoPMetrics | None = None


def install(registry: CollectorRegistry | None = REGISTRY, namespace: str = "") -> DPoPMetrics:
    """Create the metrics on ``registry`` and connect them to the signals; idempotent.

    A second call returns the metrics already installed (one set per process: the signals carry
    one receiver each); call :func:`uninstall` first to move them to another registry.
    """
    global _installed
    if _installed is None:
        metrics = DPoPMetrics(registry, namespace)
        metrics.connect()
        _installed = metrics
    return _installed


def uninstall() -> None:
    """Disconnect the receivers (the metrics stay registered on their registry)."""
    global _installed
    DPoPMetrics.disconnect()
    _installed = None
