"""Stores and faults: a failing replay, nonce or token store is a 503 with ``Retry-After``.

Never a 500 and never an acceptance; ``store_failed`` names the store and the exception class.
"""

from __future__ import annotations

import pytest
from django.test import Client

from django_dpop.tokens import AccessTokenValidator
from tests.adversarial.conftest import RESOURCES, call_resource, resource_proof
from tests.contrib.oauth2_provider.flows import make_app, post_token


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.adversarial.urls")]
STORES = "tests.adversarial.stores."

# (case, settings, store reported, exception class reported)
FAULTS = [
    (
        "replay store down",
        {"DPOP_REPLAY_STORE": STORES + "DownReplayStore"},
        "replay",
        "django.db.utils.OperationalError",
    ),
    (
        "replay store answers nonsense",
        {"DPOP_REPLAY_STORE": STORES + "NonsenseReplayStore"},
        "replay",
        "django_dpop.core.errors.StoreUnavailable",
    ),
    (
        "replay store cannot be built",
        {"DPOP_REPLAY_STORE": STORES + "UnbuildableStore"},
        "replay",
        "builtins.RuntimeError",
    ),
    (
        "replay store path wrong",
        {"DPOP_REPLAY_STORE": "tests.adversarial.stores.Missing"},
        "replay",
        "builtins.ImportError",
    ),
    (
        "nonce store down",
        {"DPOP_NONCE_REQUIRED": True, "DPOP_NONCE_STORE": STORES + "DownNonceStore"},
        "nonce",
        "builtins.ConnectionError",
    ),
    (
        "nonce store answers nonsense",
        {"DPOP_NONCE_REQUIRED": True, "DPOP_NONCE_STORE": STORES + "NonsenseNonceStore"},
        "nonce",
        "django_dpop.core.errors.StoreUnavailable",
    ),
]
IDS = [f[0] for f in FAULTS]


def _apply(settings, values) -> None:
    for name, value in values.items():
        setattr(settings, name, value)


@pytest.mark.parametrize("path", RESOURCES)
def test_control_working_stores(path, key, bound_token, events) -> None:
    assert call_resource(path, bound_token, resource_proof(key, path, bound_token)).status_code == 200
    assert events.store_failed == []


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("case", "values", "store", "exception"), FAULTS, ids=IDS)
def test_resource_store_fault_is_503(
    path, case, values, store, exception, key, bound_token, settings, events
) -> None:
    _apply(settings, values)
    nonce = "n" * 32 if values.get("DPOP_NONCE_REQUIRED") else None
    response = call_resource(path, bound_token, resource_proof(key, path, bound_token, nonce=nonce))
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert "DPoP-Nonce" not in response
    assert [(e["endpoint"], e["store"], e["exception_class"]) for e in events.store_failed] == [
        ("resource", store, exception)
    ]
    assert events.reasons == ["store_unavailable"] and events.accepted == []


@pytest.mark.parametrize(("case", "values", "store", "exception"), FAULTS, ids=IDS)
def test_token_endpoint_store_fault_is_503(
    case, values, store, exception, user, key, settings, events
) -> None:
    from oauth2_provider.models import get_access_token_model

    _apply(settings, values)
    app = make_app(user, "client-credentials")
    nonce = "n" * 32 if values.get("DPOP_NONCE_REQUIRED") else None
    response = post_token(Client(), app, {"grant_type": "client_credentials"}, key=key, nonce=nonce)
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Cache-Control"] == "no-store"
    assert response["Retry-After"]
    assert not get_access_token_model().objects.exists()
    assert [(e["endpoint"], e["store"]) for e in events.store_failed] == [("token", store)]


class _DownValidator(AccessTokenValidator):
    def validate(self, request, token, *, scheme):
        raise OSError("introspection endpoint unreachable")


@pytest.mark.parametrize("path", RESOURCES)
def test_token_validator_fault_is_503(path, key, bound_token, settings, events) -> None:
    settings.DPOP_TOKEN_VALIDATORS = [_DownValidator()]
    response = call_resource(path, bound_token, resource_proof(key, path, bound_token))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert [(e["store"], e["exception_class"]) for e in events.store_failed] == [
        ("token", "builtins.OSError")
    ]


@pytest.mark.parametrize("path", RESOURCES)
def test_a_failing_signal_receiver_changes_nothing(path, key, bound_token) -> None:
    from django_dpop.signals import proof_accepted, proof_rejected

    def explode(sender, **kwargs):
        raise RuntimeError("receiver bug")

    proof_accepted.connect(explode)
    proof_rejected.connect(explode)
    try:
        assert call_resource(path, bound_token, resource_proof(key, path, bound_token)).status_code == 200
        refused = call_resource(path, bound_token, resource_proof(key, path, bound_token, htu="http://x/"))
        assert refused.status_code == 401
    finally:
        proof_accepted.disconnect(explode)
        proof_rejected.disconnect(explode)
