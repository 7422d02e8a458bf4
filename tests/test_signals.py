"""Signals, reason codes and log lines of proof checks (django_dpop.signals, django_dpop.events)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from django.test import RequestFactory

from django_dpop import events
from django_dpop.core.errors import REASONS, DPoPError, InvalidDPoPProof, StoreUnavailable, UseDPoPNonce
from django_dpop.proofs import RESOURCE, TOKEN_ENDPOINT, verify_request_proof
from django_dpop.signals import proof_accepted, proof_rejected, store_failed
from tests.factories import make_proof


URL = "http://testserver/api/"
CORE = Path(__file__).resolve().parent.parent / "django_dpop" / "core"
_ERRORS = {"InvalidDPoPProof", "UseDPoPNonce", "ReplayedProof", "StoreUnavailable", "InvalidRequest"}


def _raise_sites() -> list[tuple[str, int, ast.Call]]:
    sites = []
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in _ERRORS:
                sites.append((path.name, node.lineno, node))
    return sites


def test_every_core_refusal_names_a_known_reason() -> None:
    """Each raise site of the core sets its reason (or its class has one), from REASONS only."""
    sites = _raise_sites()
    assert len(sites) > 50
    for name, line, call in sites:
        reasons = [k.value for k in call.keywords if k.arg == "reason"]
        if call.func.id in {"ReplayedProof", "StoreUnavailable"}:
            continue  # their class default is their reason
        assert reasons, f"{name}:{line} raises {call.func.id} without reason="
        assert isinstance(reasons[0], ast.Constant) and reasons[0].value in REASONS, f"{name}:{line}"


def test_class_default_reasons() -> None:
    from django_dpop.core.errors import ReplayedProof

    assert ReplayedProof().reason == "replayed"
    assert StoreUnavailable().reason == "store_unavailable"
    assert InvalidDPoPProof().reason == "invalid"
    assert UseDPoPNonce("x", nonce="n", reason="nonce_missing").reason == "nonce_missing"
    assert {ReplayedProof().reason, StoreUnavailable().reason, InvalidDPoPProof().reason} <= REASONS
    assert issubclass(UseDPoPNonce, DPoPError)


@pytest.fixture
def captured():
    seen: dict[str, list] = {"accepted": [], "rejected": [], "failed": []}

    def accepted(sender, **kw):
        seen["accepted"].append((sender, kw))

    def rejected(sender, **kw):
        seen["rejected"].append((sender, kw))

    def failed(sender, **kw):
        seen["failed"].append((sender, kw))

    proof_accepted.connect(accepted)
    proof_rejected.connect(rejected)
    store_failed.connect(failed)
    yield seen
    proof_accepted.disconnect(accepted)
    proof_rejected.disconnect(rejected)
    store_failed.disconnect(failed)


def _get(proof: str | None):
    extra = {"HTTP_DPOP": proof} if proof is not None else {}
    return RequestFactory().get("/api/", **extra)


@pytest.mark.django_db
def test_accepted_payload_holds_no_secret(key, captured) -> None:
    proof = make_proof(key, "GET", URL, access_token="tok")
    request = _get(proof)
    verify_request_proof(request, purpose=RESOURCE, access_token="tok")
    ((sender, payload),) = captured["accepted"]
    assert sender is None
    assert set(payload) == {"signal", "request", "endpoint", "alg", "iat_offset"}
    assert payload["request"] is request
    assert (payload["endpoint"], payload["alg"]) == ("resource", "ES256")
    assert -5 < payload["iat_offset"] <= 1
    values = repr({k: v for k, v in payload.items() if k != "request"})
    assert proof not in values and "tok" not in values and key.public_jwk["x"] not in values


@pytest.mark.django_db
def test_rejected_payload(key, captured) -> None:
    proof = make_proof(key, "GET", "http://elsewhere/")
    with pytest.raises(InvalidDPoPProof):
        verify_request_proof(_get(proof), purpose=TOKEN_ENDPOINT)
    ((_, payload),) = captured["rejected"]
    assert {k: payload[k] for k in ("endpoint", "reason", "error", "alg")} == {
        "endpoint": "token",
        "reason": "htu",
        "error": "invalid_dpop_proof",
        "alg": "ES256",
    }
    assert captured["accepted"] == [] and captured["failed"] == []


@pytest.mark.django_db
def test_endpoint_kind_par(key, captured) -> None:
    verify_request_proof(_get(make_proof(key, "GET", URL)), purpose=TOKEN_ENDPOINT, endpoint="par")
    assert captured["accepted"][0][1]["endpoint"] == "par"


@pytest.mark.parametrize(
    ("alg", "label"),
    [("ES256", "ES256"), ("none", "none"), ("HS256", "HS256"), ("x" * 500, "other"), (7, "other")],
)
def test_alg_labels_are_bounded(alg, label) -> None:
    assert events.label_alg(alg) == label


def test_peek_survives_garbage() -> None:
    for proof in (None, "", "a.b.c", "...", "x" * 20000, "eyJ9.eyJ9.x", "W10.W10.x"):
        assert events.peek(proof) == (None, None)


@pytest.mark.django_db
def test_no_receivers_no_payload(key, monkeypatch) -> None:
    """Nobody listens and logging is off: a refusal never even decodes the proof for them."""

    def forbidden(proof):
        raise AssertionError("payload computed without a receiver")

    monkeypatch.setattr(events, "peek", forbidden)
    logging.getLogger("django_dpop").setLevel(logging.WARNING)
    try:
        with pytest.raises(InvalidDPoPProof):
            verify_request_proof(_get(make_proof(key, "GET", "http://elsewhere/")), purpose=RESOURCE)
        verify_request_proof(_get(make_proof(key, "GET", URL)), purpose=RESOURCE)
    finally:
        logging.getLogger("django_dpop").setLevel(logging.NOTSET)
    assert not proof_accepted.receivers and not proof_rejected.receivers


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "reason", "level"),
    [
        (lambda key: make_proof(key, "GET", "http://elsewhere/"), "htu", logging.INFO),
        (lambda key: make_proof(key, "POST", URL), "htm", logging.INFO),
        (lambda key: make_proof(key, "GET", URL, iat=1000), "iat", logging.INFO),
        (lambda key: None, "missing", logging.DEBUG),
        (lambda key: "garbage", "malformed", logging.DEBUG),
    ],
)
def test_refusal_log_levels(make, reason, level, key, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="django_dpop"), pytest.raises(DPoPError):
        verify_request_proof(_get(make(key)), purpose=RESOURCE)
    (record,) = [r for r in caplog.records if "DPoP proof refused" in r.getMessage()]
    assert record.levelno == level
    assert f"reason={reason}" in record.getMessage() and record.dpop_reason == reason


@pytest.mark.django_db
def test_htm_log_names_both_methods(key, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="django_dpop"), pytest.raises(DPoPError):
        verify_request_proof(_get(make_proof(key, "POST", URL)), purpose=RESOURCE)
    assert "expected_htm='GET' received_htm='POST'" in caplog.text


@pytest.mark.django_db
def test_store_failed_from_nonce_issue(settings, captured) -> None:
    settings.DPOP_NONCE_STORE = "tests.adversarial.stores.DownNonceStore"
    from django_dpop.proofs import issue_nonce

    with pytest.raises(StoreUnavailable):
        issue_nonce(RESOURCE)
    ((_, payload),) = captured["failed"]
    assert (payload["request"], payload["endpoint"], payload["store"]) == (None, "resource", "nonce")
    assert payload["exception_class"] == "builtins.ConnectionError"
