"""PAR storage on PostgreSQL: one use per request_uri under concurrency, hostile values refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from oauth2_provider.models import get_application_model

from django_dpop.contrib.oauth2_provider import par
from django_dpop.contrib.oauth2_provider.models import PushedAuthorizationRequest
from tests.contrib.oauth2_provider.flows import App, make_app
from tests.contrib.oauth2_provider.par_flows import json_error, push, push_params, pushed
from tests.test_storage import concurrently


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["default", "postgres"], transaction=True),
]


class AllToPostgres:
    """Every model on the ``postgres`` alias (users, DOT's tables, ours)."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        return "postgres"

    db_for_write = db_for_read

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True


@pytest.fixture
def pg_app() -> Any:
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.AllToPostgres"]):
        user = get_user_model().objects.create_user("pg-alice")
        yield make_app(user, "authorization-code", public=True)


def test_concurrent_uses_of_one_request_uri_spend_it_once(pg_app: App) -> None:
    request_uri, _expires_in = par.store(
        pg_app.application, {"client_id": [pg_app.client_id], "state": ["s"]}
    )

    def use() -> Any:
        try:
            return par.consume(request_uri, pg_app.client_id)
        except par.PushedAuthorizationError as exc:
            return exc.error

    results = concurrently(use, threads=8)
    spent = [result for result in results if isinstance(result, dict)]
    assert len(spent) == 1, results
    assert spent[0]["state"] == ["s"]
    assert results.count(par.INVALID_REQUEST_URI) == 7, results
    assert not PushedAuthorizationRequest.objects.using("postgres").exists()
    assert get_application_model().objects.using("postgres").filter(pk=pg_app.application.pk).exists()


def test_push_through_the_view_on_postgres(pg_app: App) -> None:
    client = Client()
    params, _verifier = push_params(pg_app)
    pushed(push(client, pg_app, params))
    assert PushedAuthorizationRequest.objects.using("postgres").count() == 1
    # PostgreSQL cannot store a NUL in JSON: refused as a bad request, never a 500.
    hostile, _verifier = push_params(pg_app, state="a\x00b")
    assert json_error(push(client, pg_app, hostile)) == "invalid_request"
    assert PushedAuthorizationRequest.objects.using("postgres").count() == 1


@pytest.mark.parametrize("request_uri", [par.REQUEST_URI_PREFIX + "\x00", par.REQUEST_URI_PREFIX + "x" * 300])
def test_hostile_request_uri_on_postgres(pg_app: App, request_uri: str) -> None:
    with pytest.raises(par.PushedAuthorizationError) as refused:
        par.consume(request_uri, pg_app.client_id)
    assert refused.value.error == par.INVALID_REQUEST_URI
