"""The compiled token lookup returns exactly what the ORM returns, in one query."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding
from django_dpop.contrib.oauth2_provider.resource import binding_jkt, load_access_token, token_checksum
from django_dpop.contrib.oauth2_provider.token_lookup import RELATED, _CompiledLookup, find_access_token


AccessToken = get_access_token_model()


def snapshot(token: Any) -> dict[str, Any]:
    """Every concrete field of the token and of its related rows, as loaded."""
    values: dict[str, Any] = {f.attname: getattr(token, f.attname) for f in AccessToken._meta.concrete_fields}
    for name in ("application", "user"):
        related = getattr(token, name)
        values[name] = (
            None
            if related is None
            else {f.attname: getattr(related, f.attname) for f in related._meta.concrete_fields}
        )
    values["jkt"] = binding_jkt(token)
    return values


@pytest.mark.django_db
@pytest.mark.parametrize("bound", [True, False])
@pytest.mark.parametrize("with_user", [True, False])
def test_same_objects_as_the_orm(make_token, key, bound, with_user, django_assert_num_queries, user):
    token = make_token(
        jkt=key.jkt if bound else None,
        user=user if with_user else None,
        resource=["https://api.example.com/"],
    )
    checksum = token_checksum(token.token)
    with django_assert_num_queries(1):
        compiled = find_access_token(AccessToken, checksum)
        # Everything the resource checks touch is already loaded.
        assert binding_jkt(compiled) == (key.jkt if bound else None)
        assert compiled.application.client_id
        assert (compiled.user is not None) is with_user
        assert compiled.is_valid()
    orm = find_access_token(AccessToken, checksum, compiled=False)
    assert snapshot(compiled) == snapshot(orm)
    assert compiled.resource == ["https://api.example.com/"]
    assert timezone.is_aware(compiled.expires)
    assert compiled._state.db == "default" and not compiled._state.adding


@pytest.mark.django_db
def test_unknown_token(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert load_access_token("never-issued") is None


@pytest.mark.django_db
def test_expired_token_is_loaded_and_invalid(make_token):
    token = make_token(expires_in=-5)
    loaded = load_access_token(token.token)
    assert loaded.pk == token.pk and not loaded.is_valid()


def test_compiled_sql_has_one_parameter_and_the_joins(db):
    lookup = _CompiledLookup(AccessToken, "default")
    assert lookup.sql.count("%s") == 1
    assert lookup.sql.count("LEFT OUTER JOIN") == len(RELATED)
    assert "ORDER BY" not in lookup.sql


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_postgres(key):
    user = get_user_model().objects.db_manager("postgres").create_user("pg-user")
    application = (
        get_application_model()
        .objects.using("postgres")
        .create(name="pg", user=user, client_type="public", authorization_grant_type="client-credentials")
    )
    token = AccessToken.objects.using("postgres").create(
        token="pg-token",
        user=user,
        application=application,
        scope="read",
        expires=timezone.now() + datetime.timedelta(hours=1),
    )
    AccessTokenBinding.objects.using("postgres").create(access_token=token, jkt=key.jkt)
    lookup = _CompiledLookup(AccessToken, "postgres")
    loaded = lookup(token_checksum("pg-token"))
    orm = AccessToken.objects.using("postgres").select_related(*RELATED).get(pk=token.pk)
    assert snapshot(loaded) == snapshot(orm)
    assert binding_jkt(loaded) == key.jkt
    assert lookup(token_checksum("other")) is None
