"""``manage.py dpop_clear_expired`` and ``storage.clear_expired``."""

from __future__ import annotations

import datetime
import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from django_dpop import storage
from django_dpop.models import SeenProof, ServerNonce
from django_dpop.storage import clear_expired


NOW = datetime.datetime(2027, 1, 1, 12, 0, tzinfo=datetime.UTC)


def populate(expired: int, live: int) -> None:
    past, future = NOW - datetime.timedelta(seconds=1), NOW + datetime.timedelta(seconds=1)
    SeenProof.objects.bulk_create(
        [
            SeenProof(key=f"{i:064x}", expires_at=past if i < expired else future)
            for i in range(expired + live)
        ]
    )
    ServerNonce.objects.bulk_create(
        [
            ServerNonce(purpose="token", step=i, value=f"n{i}", expires_at=past if i < expired else future)
            for i in range(expired + live)
        ]
    )


@pytest.mark.django_db
def test_clear_expired_deletes_expired_rows_in_batches_and_keeps_live_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    populate(expired=7, live=3)
    with (
        caplog.at_level(logging.INFO, logger="django_dpop.storage"),
        CaptureQueriesContext(connection) as queries,
    ):
        assert clear_expired(now=NOW, batch_size=3) == (7, 7)
    deletes = [query for query in queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 6  # 3 + 3 + 1 rows per table
    assert SeenProof.objects.count() == 3
    assert all(row.expires_at > NOW for row in SeenProof.objects.all())
    assert sorted(ServerNonce.objects.values_list("step", flat=True)) == [7, 8, 9]
    assert "7 expired seen proofs deleted" in caplog.text
    assert "7 expired server nonces deleted" in caplog.text


@pytest.mark.django_db
def test_clear_expired_keeps_an_entry_reclaimed_between_its_select_and_delete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A new proof with the key of an expired entry reclaims the row (DatabaseReplayStore updates
    # expires_at in place). If that happens while a batch is being purged, the DELETE must not
    # remove the now-live entry, or the new proof could be replayed once.
    key = "ab" * 32
    SeenProof.objects.create(key=key, expires_at=NOW - datetime.timedelta(seconds=1))
    store = storage.DatabaseReplayStore()
    later = int(NOW.timestamp()) + 300
    delete = QuerySet.delete

    def reclaim_then_delete(self: QuerySet, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        if self.model is SeenProof:
            assert store.check_and_add(key, later, now=NOW.timestamp()) is True  # reclaimed
        return delete(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "delete", reclaim_then_delete)
    assert clear_expired(now=NOW) == (0, 0)
    monkeypatch.undo()
    assert SeenProof.objects.get(key=key).expires_at.timestamp() == later
    assert store.check_and_add(key, later, now=NOW.timestamp()) is False  # still a replay


@pytest.mark.django_db
def test_clear_expired_uses_the_clock_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    populate(expired=2, live=2)
    monkeypatch.setattr(storage, "clock", lambda: NOW.timestamp())
    assert clear_expired() == (2, 2)
    assert clear_expired() == (0, 0)


@pytest.mark.django_db
def test_command_purges_expired_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    populate(expired=5, live=2)
    monkeypatch.setattr(storage, "clock", lambda: NOW.timestamp())
    out = StringIO()
    call_command("dpop_clear_expired", "--batch-size", "2", stdout=out)
    assert out.getvalue().strip() == "Deleted 5 expired seen proofs and 5 expired nonces."
    assert SeenProof.objects.count() == 2
    assert ServerNonce.objects.count() == 2


@pytest.mark.django_db
def test_command_is_quiet_with_verbosity_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    populate(expired=1, live=0)
    monkeypatch.setattr(storage, "clock", lambda: NOW.timestamp())
    out = StringIO()
    call_command("dpop_clear_expired", verbosity=0, stdout=out)
    assert out.getvalue() == ""
    assert not SeenProof.objects.exists()


@pytest.mark.parametrize("size", ["0", "-1"])
def test_command_refuses_a_bad_batch_size(size: str) -> None:
    with pytest.raises(CommandError, match="batch-size"):
        call_command("dpop_clear_expired", "--batch-size", size)


def test_clear_expired_refuses_a_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        clear_expired(batch_size=0)
