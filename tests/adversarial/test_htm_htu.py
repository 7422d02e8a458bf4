"""Method and URI binding (RFC 9449 §4.3 checks 8, 9; RFC 3986 §6.2) through DRF and a plain view."""

from __future__ import annotations

import logging

import pytest

from tests.adversarial.conftest import RESOURCES, assert_refused, call_resource, resource_proof


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.adversarial.urls")]

# (case, proof htm, proof htu given the path, reason)
REFUSED = [
    ("htm lower case", "get", "http://testserver{path}", "htm"),
    ("htm of another method", "POST", "http://testserver{path}", "htm"),
    ("htu another host", "GET", "http://attacker.example{path}", "htu"),
    ("htu another path", "GET", "http://testserver/api/other/", "htu"),
    ("htu https for http", "GET", "https://testserver{path}", "htu"),
    ("htu another port", "GET", "http://testserver:8080{path}", "htu"),
    ("htu path prefix only", "GET", "http://testserver/api/", "htu"),
    ("htu with user information", "GET", "http://user@testserver{path}", "htu"),
    ("htu relative", "GET", "{path}", "htu"),
    ("htu not http(s)", "GET", "ftp://testserver{path}", "htu"),
    ("htu encoded slash", "GET", "http://testserver/api%2Fdrf/", "htu"),
]

# RFC 9449 §4.3 check 9: query and fragment ignored; RFC 3986 §6.2.2-6.2.3 normalization.
ACCEPTED = [
    ("exact", "http://testserver{path}"),
    ("query ignored", "http://testserver{path}?a=1"),
    ("fragment ignored", "http://testserver{path}#x"),
    ("host case", "http://TESTSERVER{path}"),
    ("scheme case", "HTTP://testserver{path}"),
    ("default port", "http://testserver:80{path}"),
]


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("case", "htu"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_control_equivalent_uris_accepted(path, case, htu, key, bound_token) -> None:
    proof = resource_proof(key, path, bound_token, htu=htu.format(path=path))
    assert call_resource(path, bound_token, proof).status_code == 200


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("case", "htm", "htu", "reason"), REFUSED, ids=[c[0] for c in REFUSED])
def test_htm_htu_mismatch_refused(path, case, htm, htu, reason, key, bound_token, events) -> None:
    proof = resource_proof(key, path, bound_token, htm, htu=htu.format(path=path))
    assert_refused(call_resource(path, bound_token, proof), 401, "invalid_dpop_proof")
    assert events.reasons == [reason]


@pytest.mark.parametrize("path", RESOURCES)
def test_proof_for_get_replayed_on_post(path, key, bound_token, events) -> None:
    proof = resource_proof(key, path, bound_token, "GET")
    assert_refused(call_resource(path, bound_token, proof, method="POST"), 401, "invalid_dpop_proof")
    assert events.reasons == ["htm"]


@pytest.mark.parametrize("path", RESOURCES)
def test_htu_refusal_logs_expected_and_received_without_query(path, key, bound_token, caplog) -> None:
    """Operability (issue 9 item 9): the log line names both URIs, never a query or a token."""
    proof = resource_proof(key, path, bound_token, htu="http://proxy.internal:8000/x/?secret=1")
    with caplog.at_level(logging.INFO, logger="django_dpop"):
        call_resource(path, bound_token, proof, extra={"QUERY_STRING": "q=hidden"})
    (record,) = [r for r in caplog.records if r.name == "django_dpop" and "refused" in r.getMessage()]
    message = record.getMessage()
    assert record.levelno == logging.INFO
    assert f"expected_htu='http://testserver{path}'" in message
    assert "received_htu='http://proxy.internal:8000/x/'" in message
    assert "secret" not in message and "hidden" not in message and bound_token not in message
    assert proof not in message and "reason=htu" in message
