"""The Prometheus adapter against a real CollectorRegistry, fed by real requests."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from prometheus_client import CollectorRegistry

from django_dpop.contrib.prometheus import install, uninstall
from django_dpop.core.errors import DPoPError
from django_dpop.proofs import RESOURCE, TOKEN_ENDPOINT, verify_request_proof
from django_dpop.signals import proof_accepted
from tests.factories import make_proof


URL = "http://testserver/api/"


@pytest.fixture
def registry():
    registry = CollectorRegistry()
    install(registry)
    yield registry
    uninstall()


def _verify(proof, purpose=RESOURCE, **kwargs):
    request = RequestFactory().get("/api/", HTTP_DPOP=proof)
    try:
        return verify_request_proof(request, purpose=purpose, **kwargs)
    except DPoPError:
        return None


@pytest.mark.django_db
def test_counts_accepted_rejected_and_store_failures(registry, key, settings) -> None:
    _verify(make_proof(key, "GET", URL))
    _verify(make_proof(key, "GET", URL))
    _verify(make_proof(key, "GET", "http://elsewhere/"))
    _verify(make_proof(key, "GET", URL), purpose=TOKEN_ENDPOINT, endpoint="par")
    settings.DPOP_REPLAY_STORE = "tests.adversarial.stores.DownReplayStore"
    _verify(make_proof(key, "GET", URL))

    def value(name, **labels):
        return registry.get_sample_value(name, labels)

    assert value("dpop_proofs_accepted_total", endpoint="resource", alg="ES256") == 2
    assert value("dpop_proofs_accepted_total", endpoint="par", alg="ES256") == 1
    assert value("dpop_proofs_rejected_total", endpoint="resource", reason="htu", alg="ES256") == 1
    assert (
        value("dpop_proofs_rejected_total", endpoint="resource", reason="store_unavailable", alg="ES256") == 1
    )
    assert value("dpop_store_failures_total", endpoint="resource", store="replay") == 1
    assert value("dpop_proof_iat_offset_seconds_count", endpoint="resource") == 2
    assert value("dpop_proof_iat_offset_seconds_bucket", endpoint="resource", le="1.0") == 2
    assert value("dpop_proof_iat_offset_seconds_bucket", endpoint="resource", le="-5.0") == 0


@pytest.mark.django_db
def test_iat_offset_histogram_sees_a_skewed_clock(registry, key) -> None:
    import time

    _verify(make_proof(key, "GET", URL, iat=int(time.time()) + 45))
    assert (
        registry.get_sample_value(
            "dpop_proof_iat_offset_seconds_bucket", {"endpoint": "resource", "le": "30.0"}
        )
        == 0
    )
    assert (
        registry.get_sample_value(
            "dpop_proof_iat_offset_seconds_bucket", {"endpoint": "resource", "le": "60.0"}
        )
        == 1
    )


@pytest.mark.django_db
def test_label_values_stay_bounded(registry, key) -> None:
    """A client cannot create series: unknown algs become "other", unknown kinds and reasons too."""
    import base64
    import json

    header = base64.urlsafe_b64encode(json.dumps({"alg": "X" * 64, "typ": "dpop+jwt"}).encode()).rstrip(b"=")
    _verify(header.decode() + ".e30.c2ln")
    assert (
        registry.get_sample_value(
            "dpop_proofs_rejected_total", {"endpoint": "resource", "reason": "alg", "alg": "other"}
        )
        == 1
    )
    from django_dpop.contrib.prometheus.metrics import _installed

    _installed.on_rejected(None, endpoint="weird", reason="made-up", alg="Z")
    assert (
        registry.get_sample_value(
            "dpop_proofs_rejected_total", {"endpoint": "other", "reason": "invalid", "alg": "other"}
        )
        == 1
    )


def test_install_is_idempotent_and_uninstall_disconnects() -> None:
    registry = CollectorRegistry()
    first = install(registry)
    assert install(registry) is first
    assert proof_accepted.has_listeners()
    uninstall()
    assert not proof_accepted.has_listeners()


def test_app_config_installs_on_the_default_registry() -> None:
    from django.apps import apps
    from prometheus_client import REGISTRY

    import django_dpop.contrib.prometheus as module
    from django_dpop.contrib.prometheus.apps import DPoPPrometheusConfig

    config = DPoPPrometheusConfig("django_dpop.contrib.prometheus", module)
    config.apps = apps
    config.ready()
    try:
        assert proof_accepted.has_listeners()
        assert "dpop_proofs_accepted" in {m.name for m in REGISTRY.collect()}
    finally:
        uninstall()
