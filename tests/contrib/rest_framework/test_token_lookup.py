"""The compiled token lookup returns exactly what the ORM returns, in one query."""

from __future__ import annotations

import datetime
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections, models, router
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from django_dpop.contrib.oauth2_provider import token_lookup
from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding
from django_dpop.contrib.oauth2_provider.token_lookup import RELATED, _CompiledLookup, find_access_token
from django_dpop.contrib.oauth2_provider.tokens import binding_jkt, load_access_token, token_checksum


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


# -- never a wrong or stale object ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_changed_token_is_found_only_by_its_new_checksum(make_token):
    token = make_token(token="before-rotation")
    assert load_access_token("before-rotation").pk == token.pk
    token.token = "after-rotation"
    token.save()  # DOT recomputes token_checksum on save
    assert load_access_token("before-rotation") is None
    assert load_access_token("after-rotation").token == "after-rotation"


@pytest.mark.django_db
def test_each_call_reads_the_row_afresh(make_token, key):
    token = make_token(jkt=key.jkt)
    first = load_access_token(token.token)
    AccessToken.objects.filter(pk=token.pk).update(scope="changed")
    AccessTokenBinding.objects.filter(access_token=token).delete()
    second = load_access_token(token.token)
    assert second is not first
    assert second.scope == "changed" and binding_jkt(second) is None
    assert first.scope == "read write" and binding_jkt(first) == key.jkt


class _Filtered(models.Manager):
    def get_queryset(self) -> Any:
        return super().get_queryset().filter(scope__contains="read")


@pytest.fixture
def filtering_manager(monkeypatch):
    manager = _Filtered()
    manager.model = AccessToken
    monkeypatch.setattr(AccessToken._meta, "default_manager", manager, raising=False)
    monkeypatch.setattr(token_lookup, "_LOOKUPS", {})
    return manager


@pytest.mark.django_db
def test_manager_filters_turn_the_fast_path_off(filtering_manager):
    with pytest.raises(ValueError, match="unexpected shape"):
        _CompiledLookup(AccessToken, "default")


@pytest.mark.django_db
def test_fallback_to_the_orm_logs_one_line_and_applies_the_manager(
    make_token, key, filtering_manager, caplog
):
    """A shape the query cannot express: the ORM (and so the manager's filter), one warning line."""
    token = make_token(jkt=key.jkt)
    hidden = make_token(scope="write")
    with caplog.at_level(logging.WARNING, logger="django_dpop"):
        loaded = find_access_token(AccessToken, token_checksum(token.token))
        again = find_access_token(AccessToken, token_checksum(token.token))
        assert find_access_token(AccessToken, token_checksum(hidden.token)) is None  # filtered out
    messages = [record for record in caplog.records if "fast token lookup unavailable" in record.getMessage()]
    assert len(messages) == 1  # decided once per model and alias
    assert messages[0].exc_info is None  # a line, not a traceback
    assert next(iter(token_lookup._LOOKUPS.values())) is None
    assert snapshot(loaded) == snapshot(again) == snapshot(AccessToken.objects.get(pk=token.pk))


def test_no_private_orm_machinery_is_imported():
    """Built on documented APIs only: the module reaches no ``django.db.models.sql`` internals."""
    source = Path(token_lookup.__file__).read_text()
    for private in ("get_related_populators", "SQLCompiler", "get_compiler", "klass_info", ".query."):
        assert private not in source


@pytest.mark.django_db
def test_duplicate_rows_are_refused_like_the_orm(make_token):
    """Two rows for one checksum (a broken table) raise, as ``.get()`` does, never pick one."""
    first, second = make_token(), make_token()
    lookup = _CompiledLookup(AccessToken, "default")
    # Stand in for a table without its unique index: the query matches the second row as well.
    assert lookup.sql.count('"token_checksum" = %s') == 1
    lookup.sql = lookup.sql.replace(
        '"token_checksum" = %s', f"\"token_checksum\" IN (%s, '{token_checksum(second.token)}')"
    )
    with pytest.raises(AccessToken.MultipleObjectsReturned):
        lookup(token_checksum(first.token))
    assert lookup(token_checksum(second.token)).pk == second.pk


class ReadsFrom:
    """A router sending every read to one alias."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return self.alias


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_the_alias_the_router_picks(key, settings, monkeypatch):
    """One compiled lookup per alias: a token of the postgres alias is never looked up in default."""
    user = get_user_model().objects.db_manager("postgres").create_user("router-user")
    application = (
        get_application_model()
        .objects.using("postgres")
        .create(name="pg", user=user, client_type="public", authorization_grant_type="client-credentials")
    )
    token = AccessToken.objects.using("postgres").create(
        token="only-in-postgres",
        user=user,
        application=application,
        scope="read",
        expires=timezone.now() + datetime.timedelta(hours=1),
    )
    AccessTokenBinding.objects.using("postgres").create(access_token=token, jkt=key.jkt)
    assert load_access_token("only-in-postgres") is None  # default alias
    monkeypatch.setattr(router, "routers", [ReadsFrom("postgres")])
    loaded = load_access_token("only-in-postgres")
    assert loaded is not None and loaded._state.db == "postgres"
    assert loaded.user._state.db == "postgres" and binding_jkt(loaded) == key.jkt
    assert {k[1] for k in token_lookup._LOOKUPS} >= {"default", "postgres"}


def each_thread_sees_its_own_token(lookup: Any, tokens: list[Any], rounds: int = 200) -> list[Any]:
    """Threads each loading their own token many times at once; return what went wrong."""
    barrier = threading.Barrier(len(tokens))
    errors: list[Any] = []

    def run(token: Any) -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                loaded = lookup(token_checksum(token.token))
                if loaded is None or loaded.pk != token.pk or loaded.token != token.token:
                    errors.append((token.token, loaded and loaded.token))
                elif binding_jkt(loaded) != token.dpop_binding.jkt:
                    errors.append((token.token, "binding"))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run, args=(token,)) for token in tokens]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_threads_with_different_tokens_sqlite(make_token):
    from tests.factories import make_key

    tokens = [make_token(jkt=make_key("ES256").jkt) for _ in range(6)]
    lookup = lambda checksum: find_access_token(AccessToken, checksum)  # noqa: E731
    assert each_thread_sees_its_own_token(lookup, tokens) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "postgres"])
def test_threads_with_different_tokens_postgres():
    from tests.factories import make_key

    user = get_user_model().objects.db_manager("postgres").create_user("threads")
    application = (
        get_application_model()
        .objects.using("postgres")
        .create(name="pg", user=user, client_type="public", authorization_grant_type="client-credentials")
    )
    tokens = []
    for n in range(8):
        token = AccessToken.objects.using("postgres").create(
            token=f"thread-token-{n}",
            user=user if n % 2 else None,
            application=application,
            scope="read",
            expires=timezone.now() + datetime.timedelta(hours=1),
        )
        AccessTokenBinding.objects.using("postgres").create(access_token=token, jkt=make_key("ES256").jkt)
        tokens.append(AccessToken.objects.using("postgres").select_related("dpop_binding").get(pk=token.pk))
    lookup = _CompiledLookup(AccessToken, "postgres")  # one shared instance, as in production
    assert each_thread_sees_its_own_token(lookup, tokens) == []
