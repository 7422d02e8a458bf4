"""Claims and time (RFC 9449 §4.3 checks 3, 11; RFC 7519 §4.1.3-4.1.5) through DRF and a plain view.

Every proof here is correctly signed: only its claims are wrong.
"""

from __future__ import annotations

import time

import pytest

from tests.adversarial.conftest import BASE, RESOURCES, assert_refused, call_resource, resource_proof


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.adversarial.urls")]


class At(int):
    """A time relative to the moment the proof is signed (the defaults: max age 300 s, skew 60 s)."""


# (case, make_proof keyword arguments, reason)
REFUSED = [
    ("jti missing", {"drop": ("jti",)}, "claims"),
    ("jti empty", {"claims": {"jti": ""}}, "claims"),
    ("jti a number", {"claims": {"jti": 7}}, "claims"),
    ("jti too long", {"claims": {"jti": "j" * 300}}, "claims"),
    ("htm missing", {"drop": ("htm",)}, "claims"),
    ("htu missing", {"drop": ("htu",)}, "claims"),
    ("iat missing", {"drop": ("iat",)}, "claims"),
    ("iat a string", {"iat": "now"}, "claims"),
    ("iat a boolean", {"iat": True}, "claims"),
    ("iat negative", {"iat": -1}, "claims"),
    ("iat beyond year 9999", {"iat": 253402300800}, "claims"),
    ("iat too old", {"iat": At(-400)}, "iat"),
    ("iat in the future", {"iat": At(120)}, "iat"),
    ("exp in the past", {"claims": {"exp": At(-120)}}, "exp"),
    ("exp not a number", {"claims": {"exp": "tomorrow"}}, "exp"),
    ("nbf in the future", {"claims": {"nbf": At(120)}}, "nbf"),
    ("aud another server", {"claims": {"aud": "https://elsewhere.example/"}}, "aud"),
    ("aud empty list", {"claims": {"aud": []}}, "aud"),
    ("ath missing", {"access_token": None}, "ath"),
]

ACCEPTED = [
    ("plain proof", {}),
    ("iat 250 s old", {"iat": At(-250)}),
    ("iat 30 s ahead", {"iat": At(30)}),
    ("fractional iat", {"iat": 0.5}),
    ("exp in the future", {"claims": {"exp": At(60)}}),
    ("nbf in the past", {"claims": {"nbf": At(-60)}}),
    ("aud this origin", {"claims": {"aud": BASE + "/"}}),
    ("iss and sub ignored", {"claims": {"iss": "x", "sub": "y"}}),
]


def _resolve(value, now):
    if isinstance(value, At) or (type(value) is float and value < 1):
        return now + value
    if isinstance(value, dict):
        return {name: _resolve(item, now) for name, item in value.items()}
    return value


def _proof(key, path, token, kwargs):
    now = int(time.time())
    kwargs = {name: _resolve(value, now) for name, value in kwargs.items()}
    access_token = kwargs.pop("access_token", token)
    if access_token is None:
        from tests.factories import make_proof

        return make_proof(key, "GET", BASE + path, **kwargs)
    return resource_proof(key, path, access_token, **kwargs)


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("case", "kwargs"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_control_claims_accepted(path, case, kwargs, key, bound_token, events) -> None:
    response = call_resource(path, bound_token, _proof(key, path, bound_token, kwargs))
    assert response.status_code == 200, response.content
    assert len(events.accepted) == 1
    assert abs(events.accepted[0]["iat_offset"] - kwargs.get("iat", 0)) < 5


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("case", "kwargs", "reason"), REFUSED, ids=[c[0] for c in REFUSED])
def test_bad_claims_refused(path, case, kwargs, reason, key, bound_token, events) -> None:
    response = call_resource(path, bound_token, _proof(key, path, bound_token, kwargs))
    assert_refused(response, 401, "invalid_dpop_proof")
    assert events.reasons == [reason]


@pytest.mark.parametrize("path", RESOURCES)
def test_rejected_signal_reports_the_clock_offset(path, key, bound_token, events) -> None:
    call_resource(path, bound_token, resource_proof(key, path, bound_token, iat=int(time.time()) - 1000))
    (event,) = events.rejected
    assert event["reason"] == "iat"
    assert -1100 < event["iat_offset"] < -900
