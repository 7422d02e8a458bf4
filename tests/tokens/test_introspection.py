"""RFC 7662 introspection validator against a real local endpoint: each refusal beside the success."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import RequestFactory

from django_dpop.core.errors import InvalidToken, StoreUnavailable
from django_dpop.tokens import TokenClaims, introspection
from django_dpop.tokens.introspection import IntrospectionTokenValidator, cache_key
from tests.factories import TestKey
from tests.tokens.introspection_server import IntrospectionServer, serve


TOKEN = "tok-" + "a" * 40
AUDIENCE = "https://api.example.com"


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    introspection.cache.clear()
    yield
    introspection.cache.clear()


@pytest.fixture
def idp(settings: Any) -> Iterator[IntrospectionServer]:
    for server in serve():
        settings.DPOP_INTROSPECTION_URL = server.url
        settings.DPOP_INTROSPECTION_ALLOW_HTTP = True
        settings.DPOP_INTROSPECTION_CLIENT_ID = server.client_id
        settings.DPOP_INTROSPECTION_CLIENT_SECRET = server.client_secret
        settings.DPOP_INTROSPECTION_TIMEOUT = 2
        yield server


def _active(key: TestKey | None = None, **members: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "active": True,
        "client_id": "app-1",
        "sub": "alice",
        "scope": "read write",
        "exp": int(time.time()) + 600,
    }
    if key is not None:
        answer["token_type"] = "DPoP"
        answer["cnf"] = {"jkt": key.jkt}
    answer.update(members)
    return answer


def validate(scheme: str = "dpop", token: str = TOKEN, validator: Any = None) -> Any:
    request = RequestFactory().get("/api/")
    return (validator or IntrospectionTokenValidator()).validate(request, token, scheme=scheme)


# -- success, and what is reported ------------------------------------------------------------------


def test_active_bound_token(idp: IntrospectionServer, key: TestKey) -> None:
    idp.answers[TOKEN] = _active(key, username="alice@example.org")
    validated = validate()
    assert validated.jkt == key.jkt
    assert validated.scopes == {"read", "write"}
    assert validated.user is None
    assert isinstance(validated.auth, TokenClaims)
    assert validated.auth.source == "introspection"
    assert validated.auth.client_id == "app-1"
    assert validated.auth.sub == "alice"
    assert validated.auth["username"] == "alice@example.org"
    assert validated.auth.jkt == key.jkt
    assert validated.auth.is_valid(["read"]) and not validated.auth.is_valid(["admin"])
    (call,) = idp.calls
    assert call.form["token"] == TOKEN
    assert call.form["token_type_hint"] == "access_token"


def test_active_unbound_token_as_bearer(idp: IntrospectionServer) -> None:
    idp.answers[TOKEN] = _active(token_type="Bearer")
    validated = validate("bearer")
    assert validated.jkt is None
    assert validated.auth.scope == "read write"


def test_unbound_token_on_the_dpop_scheme_reports_no_jkt(idp: IntrospectionServer) -> None:
    # No cnf: jkt None, which the pipeline refuses on the DPoP scheme (RFC 9449 §7.1).
    idp.answers[TOKEN] = _active()
    assert validate("dpop").jkt is None


def test_cnf_of_another_key_is_reported_as_is(
    idp: IntrospectionServer, key: TestKey, other_key: TestKey
) -> None:
    # The pipeline compares it with the proof's key; the validator reports the AS's binding.
    idp.answers[TOKEN] = _active(other_key)
    assert validate().jkt == other_key.jkt != key.jkt


def test_cnf_token_as_bearer_reports_its_jkt(idp: IntrospectionServer, key: TestKey) -> None:
    # token_type absent: the binding alone tells the pipeline to refuse the downgrade (§7.2).
    answer = _active(key)
    del answer["token_type"]
    idp.answers[TOKEN] = answer
    assert validate("bearer").jkt == key.jkt


def test_view_cannot_change_the_cached_answer(idp: IntrospectionServer, key: TestKey) -> None:
    idp.answers[TOKEN] = _active(key)
    first = validate()
    with pytest.raises(TypeError):
        first.auth.claims["sub"] = "mallory"  # type: ignore[index]
    first.auth.claims["cnf"]["jkt"] = "x" * 43
    assert validate().jkt == key.jkt
    assert len(idp.calls) == 1


# -- refusals: InvalidToken ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "members", "message"),
    [
        ("dpop", {"active": False}, "not active"),
        ("dpop", {"token_type": "Bearer"}, "not a DPoP token"),
        ("dpop", {"token_type": "N_A"}, "not a DPoP token"),
        ("bearer", {"token_type": "DPoP"}, "presented as Bearer"),
        ("bearer", {"token_type": "dpop"}, "presented as Bearer"),
        ("dpop", {"token_type": 1}, "malformed token_type"),
        ("dpop", {"exp": int(time.time()) - 3600}, "expired"),
        ("dpop", {"exp": "tomorrow"}, "malformed exp"),
        ("dpop", {"exp": True}, "malformed exp"),
        ("dpop", {"nbf": int(time.time()) + 3600}, "not valid yet"),
        ("dpop", {"nbf": "now"}, "malformed nbf"),
        ("dpop", {"scope": [5]}, "malformed scope"),
        ("dpop", {"cnf": {"x5t#S256": "A" * 43}}, "confirmation"),
        ("dpop", {"cnf": {"jkt": "short"}}, "confirmation"),
        ("dpop", {"cnf": "jkt"}, "confirmation"),
        ("bearer", {"cnf": {"jkt": None}, "token_type": "Bearer"}, "confirmation"),
    ],
)
def test_refused_answers(
    idp: IntrospectionServer, key: TestKey, scheme: str, members: dict[str, Any], message: str
) -> None:
    idp.answers[TOKEN] = _active(key, **members) if scheme == "dpop" else _active(**members)
    with pytest.raises(InvalidToken, match=message):
        validate(scheme)


def test_active_must_be_json_true(idp: IntrospectionServer, key: TestKey) -> None:
    # RFC 7662 §2.2: "active" is a boolean; the string "true" is a broken answer, never accepted.
    idp.answers[TOKEN] = _active(key, active="true")
    with pytest.raises(StoreUnavailable):
        validate()
    idp.answers[TOKEN] = _active(key, active=1)
    with pytest.raises(StoreUnavailable):
        validate()


def test_clock_skew_applies_to_exp_and_nbf(idp: IntrospectionServer, key: TestKey, settings: Any) -> None:
    settings.DPOP_CLOCK_SKEW = 60
    idp.answers[TOKEN] = _active(key, exp=int(time.time()) - 30, nbf=int(time.time()) + 30)
    assert validate().jkt == key.jkt
    settings.DPOP_CLOCK_SKEW = 0
    with pytest.raises(InvalidToken, match="expired"):
        validate()


@pytest.mark.parametrize("exp", [10**400, -(10**400)])
def test_huge_integer_exp_is_compared_exactly(idp: IntrospectionServer, key: TestKey, exp: int) -> None:
    """An ``exp`` beyond float range (JSON allows it) is a date like any other: never a 503."""
    idp.answers[TOKEN] = _active(key, exp=exp)
    if exp > 0:
        assert validate().jkt == key.jkt
        assert validate().jkt == key.jkt  # cached (until the configured maximum)
        assert len(idp.calls) == 1
    else:
        with pytest.raises(InvalidToken, match="expired"):
            validate()


def test_audience(idp: IntrospectionServer, key: TestKey, settings: Any) -> None:
    settings.DPOP_RESOURCE_IDENTIFIER = AUDIENCE
    idp.answers["mine"] = _active(key, aud=AUDIENCE)
    idp.answers["listed"] = _active(key, aud=["https://other.example.com", AUDIENCE])
    idp.answers["other"] = _active(key, aud="https://other.example.com")
    idp.answers["prefix"] = _active(key, aud=AUDIENCE + ".evil.example")
    idp.answers["none"] = _active(key)
    assert validate(token="mine").jkt == key.jkt
    assert validate(token="listed").jkt == key.jkt
    for token in ("other", "prefix", "none"):
        with pytest.raises(InvalidToken, match="not valid for this resource"):
            validate(token=token)
    # Without a configured audience aud is not checked (system check W011 says so).
    settings.DPOP_RESOURCE_IDENTIFIER = None
    assert validate(token="other").jkt == key.jkt


def test_no_url_means_not_mine(settings: Any) -> None:
    settings.DPOP_INTROSPECTION_URL = None
    assert validate() is None


# -- client authentication -------------------------------------------------------------------------


def test_client_secret_basic_is_sent_form_urlencoded(idp: IntrospectionServer, key: TestKey) -> None:
    idp.answers[TOKEN] = _active(key)
    validate()
    # RFC 6749 §2.3.1: ':' '/' '+' of the secret are form-urlencoded inside the Basic credentials.
    assert idp.calls[0].headers["authorization"].startswith("Basic ")
    assert "client_secret" not in idp.calls[0].form


def test_wrong_client_credentials_are_503_never_accepted(
    idp: IntrospectionServer, key: TestKey, settings: Any
) -> None:
    idp.answers[TOKEN] = _active(key)
    settings.DPOP_INTROSPECTION_CLIENT_SECRET = "wrong"
    with pytest.raises(StoreUnavailable):
        validate()


def test_client_secret_post(idp: IntrospectionServer, key: TestKey, settings: Any) -> None:
    idp.auth_method = settings.DPOP_INTROSPECTION_AUTH_METHOD = "client_secret_post"
    idp.answers[TOKEN] = _active(key)
    assert validate().jkt == key.jkt
    assert idp.calls[0].form["client_secret"] == idp.client_secret
    # The server refuses Basic when it expects form credentials: the setting decides.
    settings.DPOP_INTROSPECTION_AUTH_METHOD = "client_secret_basic"
    introspection.cache.clear()
    with pytest.raises(StoreUnavailable):
        validate()


def test_bearer_authentication(idp: IntrospectionServer, key: TestKey, settings: Any) -> None:
    idp.auth_method = settings.DPOP_INTROSPECTION_AUTH_METHOD = "bearer"
    settings.DPOP_INTROSPECTION_BEARER_TOKEN = idp.bearer_token
    idp.answers[TOKEN] = _active(key)
    assert validate().jkt == key.jkt
    settings.DPOP_INTROSPECTION_BEARER_TOKEN = "other"
    introspection.cache.clear()
    with pytest.raises(StoreUnavailable):
        validate()


def test_constructor_arguments_override_settings(
    idp: IntrospectionServer, key: TestKey, settings: Any
) -> None:
    idp.answers[TOKEN] = _active(key)
    settings.DPOP_INTROSPECTION_URL = "https://unused.example/introspect"
    validator = IntrospectionTokenValidator(url=idp.url, client_secret=idp.client_secret)
    assert validate(validator=validator).jkt == key.jkt


# -- failures: StoreUnavailable (503), never accepted, logged without the token ---------------------


def _refused_as_unavailable(caplog: pytest.LogCaptureFixture, cause: str) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="django_dpop.introspection"),
        pytest.raises(StoreUnavailable),
    ):
        validate()
    text = caplog.text
    assert cause in text
    assert TOKEN not in text
    assert "s3cret" not in text


@pytest.mark.parametrize(
    ("status", "body", "cause"),
    [
        (500, b'{"active": true}', "HTTP status 500"),
        (401, b'{"error": "invalid_client"}', "HTTP status 401"),
        (204, b"", "HTTP status 204"),
        (200, b"<html>active</html>", "not JSON"),
        (200, b'{"active": true, "exp": NaN}', "not JSON"),
        (200, b"\xff\xfe", "not JSON"),
        (200, b"[true]", "not a JSON object"),
        (200, b'"active"', "not a JSON object"),
        (200, b"{}", "no boolean 'active'"),
        (200, b'{"active": true, "pad": "' + b"x" * 70_000 + b'"}', "exceeds"),
    ],
)
def test_broken_answers(
    idp: IntrospectionServer, caplog: pytest.LogCaptureFixture, status: int, body: bytes, cause: str
) -> None:
    idp.raw = (status, body)
    _refused_as_unavailable(caplog, cause)
    assert len(introspection.cache) == 0


def test_unreachable_endpoint(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.DPOP_INTROSPECTION_URL = f"http://127.0.0.1:{port}/introspect"
    settings.DPOP_INTROSPECTION_ALLOW_HTTP = True
    _refused_as_unavailable(caplog, "URLError")


def test_timeout(
    idp: IntrospectionServer, settings: Any, caplog: pytest.LogCaptureFixture, key: TestKey
) -> None:
    idp.answers[TOKEN] = _active(key)
    idp.delay = 1.0
    settings.DPOP_INTROSPECTION_TIMEOUT = 0.2
    _refused_as_unavailable(caplog, "timed out")


def test_redirect_is_not_followed(
    idp: IntrospectionServer, caplog: pytest.LogCaptureFixture, key: TestKey
) -> None:
    idp.redirect_to = idp.url + "/elsewhere"
    _refused_as_unavailable(caplog, "HTTP status 307")
    assert len(idp.calls) == 1  # the token went nowhere else


def test_http_url_refused_unless_allowed(
    idp: IntrospectionServer, settings: Any, caplog: pytest.LogCaptureFixture, key: TestKey
) -> None:
    idp.answers[TOKEN] = _active(key)
    settings.DPOP_INTROSPECTION_ALLOW_HTTP = False
    _refused_as_unavailable(caplog, "not https")
    assert idp.calls == []  # nothing was sent in clear
    settings.DPOP_INTROSPECTION_ALLOW_HTTP = True
    assert validate().jkt == key.jkt


# -- cache ---------------------------------------------------------------------------------------


def test_cache_hit_one_call_for_many_requests(idp: IntrospectionServer, key: TestKey) -> None:
    idp.answers[TOKEN] = _active(key)
    for _ in range(10):
        assert validate().jkt == key.jkt
    assert len(idp.calls) == 1
    # The scheme is checked on every hit: the cached DPoP answer is still refused as Bearer.
    with pytest.raises(InvalidToken):
        validate("bearer")
    assert len(idp.calls) == 1


def test_cache_key_is_never_the_token(idp: IntrospectionServer, key: TestKey) -> None:
    idp.answers[TOKEN] = _active(key)
    validate()
    (key_,) = introspection.cache.keys()
    assert key_ == cache_key(idp.url, TOKEN)
    assert TOKEN not in repr(introspection.cache.keys())
    assert len(key_[1]) == 64


def test_cache_is_bounded(idp: IntrospectionServer, key: TestKey, settings: Any) -> None:
    settings.DPOP_INTROSPECTION_CACHE_SIZE = 3
    for index in range(5):
        idp.answers[f"t{index}"] = _active(key)
        validate(token=f"t{index}")
    assert len(introspection.cache) == 3
    # Least recently used went first: t0 and t1 are asked again, t4 is not.
    validate(token="t4")
    validate(token="t0")
    assert [call.form["token"] for call in idp.calls] == ["t0", "t1", "t2", "t3", "t4", "t0"]


def test_cache_ends_at_exp(idp: IntrospectionServer, key: TestKey, settings: Any) -> None:
    settings.DPOP_CLOCK_SKEW = 0
    idp.answers[TOKEN] = _active(key, exp=time.time() + 0.3)
    validate()
    validate()
    assert len(idp.calls) == 1
    time.sleep(0.4)
    with pytest.raises(InvalidToken, match="expired"):
        validate()
    assert len(idp.calls) == 2


def test_cache_ends_at_the_configured_maximum(idp: IntrospectionServer, key: TestKey, settings: Any) -> None:
    settings.DPOP_INTROSPECTION_CACHE_SECONDS = 0
    idp.answers[TOKEN] = _active(key)
    validate()
    validate()
    assert len(idp.calls) == 2
    settings.DPOP_INTROSPECTION_CACHE_SECONDS = 60
    validate()
    validate()
    assert len(idp.calls) == 3


def test_inactive_answers_are_not_cached(idp: IntrospectionServer, key: TestKey) -> None:
    idp.answers[TOKEN] = {"active": False}
    for _ in range(2):
        with pytest.raises(InvalidToken):
            validate()
    assert len(idp.calls) == 2
    assert len(introspection.cache) == 0


def test_cache_is_thread_safe(idp: IntrospectionServer, key: TestKey, settings: Any) -> None:
    settings.DPOP_INTROSPECTION_CACHE_SIZE = 8
    for index in range(16):
        idp.answers[f"t{index}"] = _active(key)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for index in range(40):
                assert validate(token=f"t{(index + offset) % 16}").jkt == key.jkt
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(introspection.cache) <= 8


# -- other servers' forms: scope arrays, scp, azp (the JWT side: test_jwt_interop.py) --------


@pytest.mark.parametrize(
    ("members", "scopes"),
    [
        ({"scope": ["read", "write"]}, {"read", "write"}),
        ({"scope": None, "scp": "read"}, {"read"}),
        ({"scope": None}, set()),
    ],
)
def test_introspection_scope_forms(
    idp: IntrospectionServer, key: TestKey, members: dict[str, Any], scopes: set[str]
) -> None:
    answer = {name: value for name, value in _active(key, **members).items() if value is not None}
    idp.answers[TOKEN] = answer
    validated = validate()
    assert validated.scopes == scopes
    assert validated.auth.scopes == scopes


@pytest.mark.parametrize("value", [5, [5], ["read write"], [""], {"read": True}])
def test_introspection_malformed_scope_is_refused(idp: IntrospectionServer, key: TestKey, value: Any) -> None:
    idp.answers[TOKEN] = _active(key, scope=value)
    with pytest.raises(InvalidToken, match="malformed scope"):
        validate()


def test_introspection_client_id_from_azp(idp: IntrospectionServer, key: TestKey) -> None:
    answer = _active(key, azp="web-app")
    del answer["client_id"]
    idp.answers[TOKEN] = answer
    assert validate().auth.client_id == "web-app"
