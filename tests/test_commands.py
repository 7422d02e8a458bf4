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


# -- SQLite: batches sized by time (the whole database is locked for each DELETE) ------------------


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The purge's sleeps between batches, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(storage.time, "sleep", slept.append)
    return slept


def delete_sizes(queries: CaptureQueriesContext) -> list[int]:
    """Rows named by each DELETE statement (``IN (%s, %s, ...)``)."""
    return [query["sql"].count(",") + 1 for query in queries if query["sql"].startswith("DELETE")]


@pytest.mark.django_db
def test_sqlite_purge_sizes_batches_by_time_and_pauses_between_them(pauses: list[float]) -> None:
    # Before: one DELETE of 500 rows per table, back to back, every writer waiting for it.
    populate(expired=500, live=3)
    with CaptureQueriesContext(connection) as queries:
        assert clear_expired(now=NOW) == (500, 500)
    sizes = delete_sizes(queries)
    assert sizes[0] <= 200 and len(sizes) >= 4, sizes  # small first batches on each table
    assert sum(sizes) == 1000
    assert len(pauses) >= 2 and all(pause >= 0 for pause in pauses)  # writers get their turn
    assert SeenProof.objects.count() == 3 and ServerNonce.objects.count() == 3


@pytest.mark.django_db
def test_the_batch_size_follows_the_time_budget(pauses: list[float]) -> None:
    populate(expired=205, live=1)
    with CaptureQueriesContext(connection) as queries:
        # A budget no DELETE can meet: after the first batch, one row at a time.
        assert clear_expired(now=NOW, batch_seconds=1e-9, pause=0.25) == (205, 205)
    assert delete_sizes(queries) == [200, 1, 1, 1, 1, 1] * 2
    assert set(pauses) == {0.25}
    assert SeenProof.objects.count() == 1


@pytest.mark.django_db
def test_a_generous_budget_grows_the_batch_up_to_batch_size(pauses: list[float]) -> None:
    populate(expired=1000, live=0)
    with CaptureQueriesContext(connection) as queries:
        assert clear_expired(now=NOW, batch_size=500, batch_seconds=60, pause=0) == (1000, 1000)
    assert delete_sizes(queries)[:3] == [200, 400, 400]  # grows at most twofold, capped by rows left


@pytest.mark.parametrize(
    ("option", "value"), [("--batch-seconds", "0"), ("--batch-seconds", "-1"), ("--pause", "-0.5")]
)
def test_command_refuses_bad_time_options(option: str, value: str) -> None:
    with pytest.raises(CommandError, match=option):
        call_command("dpop_clear_expired", option, value)


@pytest.mark.django_db
def test_command_passes_the_time_options(monkeypatch: pytest.MonkeyPatch, pauses: list[float]) -> None:
    populate(expired=3, live=0)
    monkeypatch.setattr(storage, "clock", lambda: NOW.timestamp())
    call_command(
        "dpop_clear_expired", "--batch-size", "1", "--batch-seconds", "5", "--pause", "0.125", verbosity=0
    )
    assert not SeenProof.objects.exists()
    assert set(pauses) == {0.125}


def test_clear_expired_refuses_bad_time_budgets() -> None:
    with pytest.raises(ValueError, match="batch_seconds"):
        clear_expired(batch_seconds=0)
    with pytest.raises(ValueError, match="pause"):
        clear_expired(pause=-1)
