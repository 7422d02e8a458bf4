"""The models behind replay detection and server nonces."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db.models import BigAutoField

from django_dpop.models import SeenProof, ServerNonce


EXPIRES = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)


def test_models_have_short_names_and_big_ids() -> None:
    assert str(SeenProof._meta.verbose_name) == "seen proof"
    assert str(ServerNonce._meta.verbose_name) == "server nonce"
    assert isinstance(SeenProof._meta.pk, BigAutoField)
    assert isinstance(ServerNonce._meta.pk, BigAutoField)
    assert SeenProof._meta.get_field("expires_at").db_index
    assert ServerNonce._meta.get_field("expires_at").db_index


@pytest.mark.django_db
def test_seen_proof_key_is_unique() -> None:
    SeenProof.objects.create(key="a" * 64, expires_at=EXPIRES)
    with pytest.raises(IntegrityError), transaction.atomic():
        SeenProof.objects.create(key="a" * 64, expires_at=EXPIRES)
    SeenProof.objects.create(key="b" * 64, expires_at=EXPIRES)
    assert str(SeenProof.objects.get(key="b" * 64)) == "b" * 64


@pytest.mark.django_db
def test_one_server_nonce_per_purpose_and_step() -> None:
    ServerNonce.objects.create(purpose="token", step=7, value="one", expires_at=EXPIRES)
    with pytest.raises(IntegrityError), transaction.atomic():
        ServerNonce.objects.create(purpose="token", step=7, value="two", expires_at=EXPIRES)
    ServerNonce.objects.create(purpose="resource", step=7, value="three", expires_at=EXPIRES)
    ServerNonce.objects.create(purpose="token", step=8, value="four", expires_at=EXPIRES)
    assert str(ServerNonce.objects.get(purpose="token", step=8)) == "token #8"


@pytest.mark.django_db
def test_migrations_match_the_models() -> None:
    from django.core.management import call_command

    # Raises SystemExit(1) when a model change has no migration.
    call_command("makemigrations", "django_dpop", check=True, dry_run=True, verbosity=0)


@pytest.mark.django_db
@pytest.mark.parametrize("model", [SeenProof, ServerNonce])
def test_admin_lists_are_read_only(model: type, admin_user: Any, rf: Any) -> None:
    from django.contrib import admin

    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = admin_user  # a superuser: every refusal comes from the admin class itself
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
