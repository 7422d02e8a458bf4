"""RFC 9449 §5 refresh token rules: public clients' refresh tokens are bound, confidential ones not.

Through DOT's three refresh paths: rotation (a fresh pair), ``ROTATE_REFRESH_TOKEN = False``
(the access token row updated in place) and ``REFRESH_TOKEN_GRACE_PERIOD_SECONDS`` (a retry
answered with the access token issued the first time).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding, RefreshTokenBinding
from tests.contrib.oauth2_provider.flows import App, authorize, code_exchange, post_token
from tests.factories import TestKey


def _tokens(client: Client, browser: Client, app: App, key: TestKey | None) -> dict[str, Any]:
    code, verifier = authorize(browser, app, consent=False)
    response = post_token(client, app, code_exchange(code, verifier), key=key)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _refresh(client: Client, app: App, refresh_token: str, key: TestKey | None) -> Any:
    return post_token(client, app, {"grant_type": "refresh_token", "refresh_token": refresh_token}, key=key)


def _at_jkt(value: str) -> str | None:
    row = AccessTokenBinding.objects.filter(access_token__token=value).first()
    return row.jkt if row else None


def _rt_jkt(value: str) -> str | None:
    row = RefreshTokenBinding.objects.filter(refresh_token__token=value).first()
    return row.jkt if row else None


def _error(response: Any) -> str:
    assert response.status_code == 400, response.content
    assert response["Cache-Control"] == "no-store"
    return json.loads(response.content)["error"]


@pytest.fixture
def public_app(app_factory: Any) -> App:
    return app_factory("authorization-code", public=True, skip_authorization=True)


@pytest.fixture
def confidential_app(app_factory: Any) -> App:
    return app_factory("authorization-code", skip_authorization=True)


# -- public clients: bound refresh tokens ---------------------------------------------------------


def test_public_client_refresh_token_is_bound_and_rotation_keeps_the_key(
    client: Client, browser: Client, public_app: App, key: TestKey
) -> None:
    tokens = _tokens(client, browser, public_app, key)
    assert _rt_jkt(tokens["refresh_token"]) == key.jkt

    response = _refresh(client, public_app, tokens["refresh_token"], key)
    assert response.status_code == 200, response.content
    rotated = json.loads(response.content)
    assert rotated["token_type"] == "DPoP"
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert _rt_jkt(rotated["refresh_token"]) == key.jkt
    assert _at_jkt(rotated["access_token"]) == key.jkt


def test_public_client_refresh_without_proof_is_refused(
    client: Client, browser: Client, public_app: App, key: TestKey
) -> None:
    tokens = _tokens(client, browser, public_app, key)
    response = _refresh(client, public_app, tokens["refresh_token"], None)
    assert _error(response) == "invalid_dpop_proof"
    # Nothing was rotated: the refresh token still works with its key.
    assert _refresh(client, public_app, tokens["refresh_token"], key).status_code == 200


def test_public_client_refresh_with_another_key_is_refused(
    client: Client, browser: Client, public_app: App, key: TestKey, other_key: TestKey
) -> None:
    tokens = _tokens(client, browser, public_app, key)
    assert _error(_refresh(client, public_app, tokens["refresh_token"], other_key)) == "invalid_grant"
    assert get_refresh_token_model().objects.get(token=tokens["refresh_token"]).revoked is None


def test_public_client_unbound_refresh_token_gets_bound_by_a_proof(
    client: Client, browser: Client, public_app: App, key: TestKey
) -> None:
    tokens = _tokens(client, browser, public_app, None)
    assert _rt_jkt(tokens["refresh_token"]) is None
    rotated = json.loads(_refresh(client, public_app, tokens["refresh_token"], key).content)
    assert rotated["token_type"] == "DPoP"
    assert _rt_jkt(rotated["refresh_token"]) == key.jkt


def test_public_client_bearer_refresh_stays_bearer(client: Client, browser: Client, public_app: App) -> None:
    tokens = _tokens(client, browser, public_app, None)
    rotated = json.loads(_refresh(client, public_app, tokens["refresh_token"], None).content)
    assert rotated["token_type"] == "Bearer"
    assert _rt_jkt(rotated["refresh_token"]) is None
    assert _at_jkt(rotated["access_token"]) is None


# -- confidential clients: unbound refresh tokens ---------------------------------------------------


def test_confidential_client_refresh_token_is_not_bound(
    client: Client, browser: Client, confidential_app: App, key: TestKey, other_key: TestKey
) -> None:
    tokens = _tokens(client, browser, confidential_app, key)
    assert tokens["token_type"] == "DPoP"
    assert _rt_jkt(tokens["refresh_token"]) is None

    # RFC 9449 §5: the new access token is bound to the key of the refresh request's proof.
    rotated = json.loads(_refresh(client, confidential_app, tokens["refresh_token"], other_key).content)
    assert rotated["token_type"] == "DPoP"
    assert _at_jkt(rotated["access_token"]) == other_key.jkt

    bearer = json.loads(_refresh(client, confidential_app, rotated["refresh_token"], None).content)
    assert bearer["token_type"] == "Bearer"
    assert _at_jkt(bearer["access_token"]) is None


def test_confidential_refresh_tokens_bound_when_configured(
    client: Client, browser: Client, confidential_app: App, key: TestKey, other_key: TestKey, settings: Any
) -> None:
    settings.DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS = True
    tokens = _tokens(client, browser, confidential_app, key)
    assert _rt_jkt(tokens["refresh_token"]) == key.jkt
    assert _error(_refresh(client, confidential_app, tokens["refresh_token"], other_key)) == "invalid_grant"
    assert _error(_refresh(client, confidential_app, tokens["refresh_token"], None)) == "invalid_dpop_proof"
    assert _refresh(client, confidential_app, tokens["refresh_token"], key).status_code == 200


# -- ROTATE_REFRESH_TOKEN = False: the access token row is updated in place -----------------------


def test_no_rotation_public_client_keeps_binding(
    client: Client, browser: Client, public_app: App, key: TestKey, other_key: TestKey, dot_settings: Any
) -> None:
    dot_settings(ROTATE_REFRESH_TOKEN=False)
    tokens = _tokens(client, browser, public_app, key)
    access_token_pk = get_access_token_model().objects.get(token=tokens["access_token"]).pk

    refreshed = json.loads(_refresh(client, public_app, tokens["refresh_token"], key).content)
    assert refreshed["refresh_token"] == tokens["refresh_token"]
    row = get_access_token_model().objects.get(pk=access_token_pk)
    assert row.token == refreshed["access_token"]  # the same row, new value
    assert _at_jkt(refreshed["access_token"]) == key.jkt
    assert _rt_jkt(tokens["refresh_token"]) == key.jkt
    assert _error(_refresh(client, public_app, tokens["refresh_token"], other_key)) == "invalid_grant"


def test_no_rotation_confidential_client_rebinds_in_place(
    client: Client,
    browser: Client,
    confidential_app: App,
    key: TestKey,
    other_key: TestKey,
    dot_settings: Any,
) -> None:
    dot_settings(ROTATE_REFRESH_TOKEN=False)
    tokens = _tokens(client, browser, confidential_app, key)
    access_token_pk = get_access_token_model().objects.get(token=tokens["access_token"]).pk

    moved = json.loads(_refresh(client, confidential_app, tokens["refresh_token"], other_key).content)
    assert moved["token_type"] == "DPoP"
    assert AccessTokenBinding.objects.get(pk=access_token_pk).jkt == other_key.jkt

    bearer = json.loads(_refresh(client, confidential_app, tokens["refresh_token"], None).content)
    assert bearer["token_type"] == "Bearer"
    assert get_access_token_model().objects.get(pk=access_token_pk).token == bearer["access_token"]
    assert not AccessTokenBinding.objects.filter(pk=access_token_pk).exists()


# -- REFRESH_TOKEN_GRACE_PERIOD_SECONDS: a retry gets the access token issued the first time ------


def test_grace_period_retry_needs_the_same_key(
    client: Client,
    browser: Client,
    confidential_app: App,
    key: TestKey,
    other_key: TestKey,
    dot_settings: Any,
) -> None:
    dot_settings(REFRESH_TOKEN_GRACE_PERIOD_SECONDS=120)
    tokens = _tokens(client, browser, confidential_app, None)
    first = json.loads(_refresh(client, confidential_app, tokens["refresh_token"], key).content)
    assert _at_jkt(first["access_token"]) == key.jkt

    # A retry with another key (or none) would be answered with a token bound to the first key.
    assert _error(_refresh(client, confidential_app, tokens["refresh_token"], other_key)) == "invalid_grant"
    assert _error(_refresh(client, confidential_app, tokens["refresh_token"], None)) == "invalid_grant"

    retry = _refresh(client, confidential_app, tokens["refresh_token"], key)
    assert retry.status_code == 200, retry.content
    again = json.loads(retry.content)
    assert again["access_token"] == first["access_token"]
    assert again["token_type"] == "DPoP"


def test_grace_period_bearer_retry(
    client: Client, browser: Client, confidential_app: App, dot_settings: Any
) -> None:
    dot_settings(REFRESH_TOKEN_GRACE_PERIOD_SECONDS=120)
    tokens = _tokens(client, browser, confidential_app, None)
    first = json.loads(_refresh(client, confidential_app, tokens["refresh_token"], None).content)
    again = json.loads(_refresh(client, confidential_app, tokens["refresh_token"], None).content)
    assert again["access_token"] == first["access_token"]
    assert again["token_type"] == "Bearer"


def test_grace_period_public_client(
    client: Client, browser: Client, public_app: App, key: TestKey, other_key: TestKey, dot_settings: Any
) -> None:
    dot_settings(REFRESH_TOKEN_GRACE_PERIOD_SECONDS=120)
    tokens = _tokens(client, browser, public_app, key)
    first = json.loads(_refresh(client, public_app, tokens["refresh_token"], key).content)
    assert _error(_refresh(client, public_app, tokens["refresh_token"], other_key)) == "invalid_grant"
    again = json.loads(_refresh(client, public_app, tokens["refresh_token"], key).content)
    assert again["access_token"] == first["access_token"]
    assert again["refresh_token"] == first["refresh_token"]
    assert _rt_jkt(first["refresh_token"]) == key.jkt


def test_grace_period_reissued_refresh_token_stays_bound(
    client: Client, browser: Client, public_app: App, key: TestKey, dot_settings: Any
) -> None:
    """DOT re-issues a refresh token on a grace retry when the first answer's one is gone."""
    dot_settings(REFRESH_TOKEN_GRACE_PERIOD_SECONDS=120)
    tokens = _tokens(client, browser, public_app, key)
    first = json.loads(_refresh(client, public_app, tokens["refresh_token"], key).content)
    get_refresh_token_model().objects.filter(token=first["refresh_token"]).delete()

    response = _refresh(client, public_app, tokens["refresh_token"], key)
    assert response.status_code == 200, response.content
    again = json.loads(response.content)
    assert again["access_token"] == first["access_token"]
    assert again["refresh_token"] != first["refresh_token"]  # a new one, for the same access token
    assert _rt_jkt(again["refresh_token"]) == key.jkt
    assert _error(_refresh(client, public_app, again["refresh_token"], None)) == "invalid_dpop_proof"


def test_reuse_protection_revokes_a_bound_family(
    client: Client, browser: Client, public_app: App, key: TestKey, dot_settings: Any
) -> None:
    """DOT's REFRESH_TOKEN_REUSE_PROTECTION still works with bound refresh tokens (RFC 9700 §4.14)."""
    dot_settings(REFRESH_TOKEN_REUSE_PROTECTION=True)
    tokens = _tokens(client, browser, public_app, key)
    first = json.loads(_refresh(client, public_app, tokens["refresh_token"], key).content)
    # Replaying the rotated-out token, even with the right key, revokes the whole family.
    assert _error(_refresh(client, public_app, tokens["refresh_token"], key)) == "invalid_grant"
    assert _error(_refresh(client, public_app, first["refresh_token"], key)) == "invalid_grant"
