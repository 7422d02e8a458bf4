"""The introspection validator against our own DOT authorization server, served on ``live_server``.

The resource server authenticates with a confidential client's id and secret (HTTP Basic); the
authorization server's introspection endpoint (``DPoPIntrospectTokenView``) answers ``cnf.jkt``
and ``token_type`` (RFC 9449 §6.2) for a bound token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import RequestFactory

from django_dpop.core.errors import InvalidToken, StoreUnavailable
from django_dpop.tokens import introspection
from django_dpop.tokens.introspection import IntrospectionTokenValidator
from tests.contrib.oauth2_provider.flows import App, make_app
from tests.factories import TestKey


@pytest.fixture
def resource_server(live_server: Any, user: Any, settings: Any) -> Iterator[App]:
    """The resource server's own client at the authorization server, and the settings to use it."""
    app = make_app(user, "client-credentials")
    settings.DPOP_INTROSPECTION_URL = f"{live_server.url}/o/introspect/"
    settings.DPOP_INTROSPECTION_ALLOW_HTTP = True
    settings.DPOP_INTROSPECTION_CLIENT_ID = app.client_id
    settings.DPOP_INTROSPECTION_CLIENT_SECRET = app.secret
    introspection.cache.clear()
    yield app
    introspection.cache.clear()


def validate(token: str, scheme: str = "dpop") -> Any:
    return IntrospectionTokenValidator().validate(RequestFactory().get("/api/"), token, scheme=scheme)


def test_bound_token(resource_server: App, make_token: Callable[..., Any], key: TestKey) -> None:
    token = make_token(jkt=key.jkt, scope="read")
    validated = validate(token.token)
    assert validated.jkt == key.jkt
    assert validated.scopes == {"read"}
    assert validated.auth.client_id == token.application.client_id
    assert validated.auth["token_type"] == "DPoP"
    assert validated.auth["username"] == "alice"
    # Presented as Bearer, DOT's token_type "DPoP" refuses it (RFC 9449 §7.2).
    with pytest.raises(InvalidToken, match="presented as Bearer"):
        validate(token.token, "bearer")


def test_unbound_token(resource_server: App, make_token: Callable[..., Any]) -> None:
    token = make_token()
    assert validate(token.token, "bearer").jkt is None
    # DOT says token_type "Bearer": never a DPoP token.
    with pytest.raises(InvalidToken, match="not a DPoP token"):
        validate(token.token)


def test_unknown_and_expired_tokens(
    resource_server: App, make_token: Callable[..., Any], key: TestKey
) -> None:
    with pytest.raises(InvalidToken, match="not active"):
        validate("no-such-token")
    expired = make_token(jkt=key.jkt, expires_in=-10)
    with pytest.raises(InvalidToken, match="not active"):
        validate(expired.token)


def test_audience(resource_server: App, make_token: Callable[..., Any], key: TestKey, settings: Any) -> None:
    settings.DPOP_RESOURCE_IDENTIFIER = "https://api.example.com"
    mine = make_token(jkt=key.jkt, resource=["https://api.example.com"])
    other = make_token(jkt=key.jkt, resource=["https://other.example.com"])
    assert validate(mine.token).jkt == key.jkt
    with pytest.raises(InvalidToken, match="not valid for this resource"):
        validate(other.token)


def test_wrong_client_secret_is_unavailable(
    resource_server: App, make_token: Callable[..., Any], key: TestKey, settings: Any
) -> None:
    token = make_token(jkt=key.jkt)
    settings.DPOP_INTROSPECTION_CLIENT_SECRET = "not-the-secret"
    with pytest.raises(StoreUnavailable):
        validate(token.token)
