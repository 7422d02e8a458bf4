"""The replay and nonce stores of ``django_dpop.storage`` against real databases and caches."""

from __future__ import annotations

import datetime
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import InvalidCacheBackendError
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from django_dpop import storage
from django_dpop.core.errors import ReplayedProof
from django_dpop.core.nonces import sign_nonce
from django_dpop.core.policy import ProofPolicy
from django_dpop.core.proof import verify_proof
from django_dpop.core.stores import NonceStatus, NonceStore, ReplayStore
from django_dpop.models import SeenProof, ServerNonce
from django_dpop.storage import CacheReplayStore, DatabaseNonceStore, DatabaseReplayStore, SignedNonceStore


NOW = 1_800_000_000  # a fixed clock: every test passes ``now`` or patches ``storage.clock``
PERIOD = 150  # rotation period of the default DPOP_NONCE_LIFETIME (300 s)
STEP_START = (NOW // PERIOD) * PERIOD
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


def remembering(cache: Any, since: float = 0) -> Any:
    """Give ``cache`` the replay store's state marker (``add``: an existing marker is kept).

    Without one the store refuses every proof that could predate it (a lost state). Tests on
    the shared Redis must never let the store write it with their fake clock: it has no expiry
    and would refuse real-time proofs of every other test run.
    """
    cache.add(CacheReplayStore.MARKER_KEY, since, None)
    return cache


def replay_key(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def utc(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)


def concurrently(function: Callable[[], Any], threads: int = 16, close_db: bool = True) -> list[Any]:
    """Run ``function`` in ``threads`` threads released together by a barrier; return the results."""
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            result: Any = function()
        except Exception as exc:  # collected, so that the assertion shows it
            result = exc
        finally:
            if close_db:
                connections.close_all()
        with lock:
            results.append(result)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


@pytest.fixture
def sqlite_file(tmp_path: Any, django_db_blocker: Any) -> Any:
    """A file-backed SQLite database alias with the django_dpop tables, like a real deployment.

    The test database is in memory in shared-cache mode, whose table locks fail at once
    ("database table is locked") instead of waiting: it cannot stand for several processes.
    A file gives every thread its own connection with SQLite's real locking and busy timeout.
    """
    alias = "sqlite_file"
    configured = connections.configure_settings(
        {
            "default": {},
            alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "dpop.sqlite3")},
        }
    )
    connections.settings[alias] = configured[alias]
    # Outside pytest-django's test databases (a throw-away file), so no django_db mark.
    with django_db_blocker.unblock():
        with connections[alias].schema_editor() as editor:
            editor.create_model(SeenProof)
            editor.create_model(ServerNonce)
        yield alias
        connections[alias].close()
    del connections.settings[alias]
    delattr(connections._connections, alias)


def test_stores_implement_the_core_protocols() -> None:
    assert isinstance(DatabaseReplayStore(), ReplayStore)
    assert isinstance(CacheReplayStore(), ReplayStore)
    assert isinstance(DatabaseNonceStore(), NonceStore)
    assert isinstance(SignedNonceStore(), NonceStore)


# --- DatabaseReplayStore -------------------------------------------------------------------------


@pytest.mark.django_db
def test_database_replay_store_accepts_once() -> None:
    store = DatabaseReplayStore()
    key = replay_key("one")
    assert store.check_and_add(key, NOW + 360, now=NOW) is True
    assert store.check_and_add(key, NOW + 360, now=NOW + 1) is False
    assert store.check_and_add(replay_key("other"), NOW + 360, now=NOW + 1) is True
    assert SeenProof.objects.count() == 2


@pytest.mark.django_db
def test_database_replay_store_is_one_statement() -> None:
    store = DatabaseReplayStore()
    with CaptureQueriesContext(connection) as queries:
        assert store.check_and_add(replay_key("q"), NOW + 360, now=NOW) is True
        assert store.check_and_add(replay_key("q"), NOW + 360, now=NOW) is False
    assert len(queries) == 2
    assert all("ON CONFLICT" in query["sql"] for query in queries)


@pytest.mark.django_db
def test_database_replay_entry_lives_until_the_proofs_own_window_ends() -> None:
    # The proof was made 200 s ago: its entry expires at iat + max age + skew, not now + something.
    store = DatabaseReplayStore()
    key = replay_key("window")
    expires_at = NOW - 200 + 300 + 60
    assert store.check_and_add(key, expires_at, now=NOW) is True
    assert SeenProof.objects.get(key=key).expires_at == utc(expires_at)
    assert store.check_and_add(key, expires_at, now=expires_at - 1) is False
    assert store.check_and_add(key, expires_at, now=expires_at) is False  # the last second is still live


@pytest.mark.django_db
def test_database_replay_expired_entry_does_not_block_a_new_proof() -> None:
    # RFC 9449 §5's refresh example reuses a jti 45 minutes later: once the first window ended,
    # accept again.
    store = DatabaseReplayStore()
    key = replay_key("reused")
    assert store.check_and_add(key, NOW + 360, now=NOW) is True
    later = NOW + 45 * 60
    assert store.check_and_add(key, later + 360, now=later) is True
    assert SeenProof.objects.get(key=key).expires_at == utc(later + 360)  # the row was renewed
    assert store.check_and_add(key, later + 360, now=later + 1) is False


# RFC 9449 §4.1 / §5: the token request and the refresh request proofs share one jti.
RFC_TOKEN_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZ"
    "OXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIs"
    "ImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmV"
    "yLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC_REFRESH_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZ"
    "OXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIs"
    "ImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmV"
    "yLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjY1Mjk2fQ.pAqut2IRDm_De6PR93SYmGBPXpwrAk90e8cP2hjiaG5QsGSuKDYW7_X620BxqhvYC8ynrrvZLTk41mSRroapUA"
)


@pytest.mark.django_db
def test_rfc_9449_refresh_example_reuses_the_jti_after_the_first_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def verify(proof: str, now: int) -> Any:
        monkeypatch.setattr(storage, "clock", lambda: now)  # the store's clock, frozen with the proof's
        return verify_proof(
            proof,
            method="POST",
            url="https://server.example.com/token",
            now=now,
            policy=ProofPolicy(),
            replay_store=DatabaseReplayStore(),
        )

    first = verify(RFC_TOKEN_PROOF, 1562262616)
    with pytest.raises(ReplayedProof):
        verify(RFC_TOKEN_PROOF, 1562262620)
    second = verify(RFC_REFRESH_PROOF, 1562265296)  # 44 min 40 s later, same jti, same htu
    assert second.jti == first.jti == "-BwC3ESc6acc2lTc"
    assert second.replay_key == first.replay_key
    with pytest.raises(ReplayedProof):
        verify(RFC_REFRESH_PROOF, 1562265300)


@pytest.mark.django_db
def test_database_replay_fallback_for_other_vendors(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without INSERT ... ON CONFLICT: insert in a savepoint, IntegrityError means "seen", and a
    # conditional UPDATE reclaims an expired entry. The enclosing transaction stays usable.
    monkeypatch.setattr(connection.features, "supports_update_conflicts_with_target", False)
    store = DatabaseReplayStore()
    key = replay_key("fallback")
    assert store.check_and_add(key, NOW + 360, now=NOW) is True
    assert store.check_and_add(key, NOW + 360, now=NOW + 1) is False
    assert SeenProof.objects.filter(key=key).count() == 1  # the transaction survived the IntegrityError
    assert store.check_and_add(key, NOW + 9999, now=NOW + 361) is True
    assert store.check_and_add(key, NOW + 9999, now=NOW + 362) is False


@pytest.mark.django_db
def test_database_replay_store_failure_raises() -> None:
    # Never "accepted" on failure: an unknown database alias, a missing table.
    with pytest.raises(Exception, match="nowhere"):
        DatabaseReplayStore(using="nowhere").check_and_add(replay_key("x"), NOW + 1, now=NOW)
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(f"DROP TABLE {SeenProof._meta.db_table}")
    with pytest.raises(Exception, match="(?i)table"):
        DatabaseReplayStore().check_and_add(replay_key("x"), NOW + 1, now=NOW)


def test_database_replay_concurrent_submissions_accept_exactly_one_sqlite(sqlite_file: str) -> None:
    store = DatabaseReplayStore(using=sqlite_file)
    key = replay_key("race")
    results = concurrently(lambda: store.check_and_add(key, NOW + 360, now=NOW))
    assert results.count(True) == 1, results
    assert results.count(False) == 15, results
    assert SeenProof.objects.using(sqlite_file).filter(key=key).count() == 1


def test_database_replay_concurrent_reclaim_of_an_expired_entry_accepts_exactly_one(sqlite_file: str) -> None:
    store = DatabaseReplayStore(using=sqlite_file)
    key = replay_key("reclaim")
    SeenProof.objects.using(sqlite_file).create(key=key, expires_at=utc(NOW - 10))
    results = concurrently(lambda: store.check_and_add(key, NOW + 360, now=NOW))
    assert results.count(True) == 1, results
    assert results.count(False) == 15, results


class _PostgresRouter:
    """Sends the DPoP tables to the ``postgres`` alias, as a project's router would."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return "postgres" if model._meta.app_label == "django_dpop" else None

    db_for_write = db_for_read


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_database_replay_concurrent_submissions_accept_exactly_one_postgres() -> None:
    with override_settings(DATABASE_ROUTERS=[f"{__name__}._PostgresRouter"]):
        store = DatabaseReplayStore()  # no ``using``: the router decides
        key = replay_key("race-pg")
        results = concurrently(lambda: store.check_and_add(key, NOW + 360, now=NOW))
        assert results.count(True) == 1, results
        assert results.count(False) == 15, results
        assert SeenProof.objects.using("postgres").filter(key=key).count() == 1
        assert not SeenProof.objects.using("default").exists()
        # Expired entries are reclaimed on PostgreSQL too, by exactly one request.
        later = NOW + 3600
        results = concurrently(lambda: store.check_and_add(key, later + 360, now=later))
        assert results.count(True) == 1, results


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_database_replay_postgres_inside_a_transaction_needs_no_savepoint() -> None:
    # The upsert raises no IntegrityError, so a replay inside ATOMIC_REQUESTS leaves the
    # transaction usable (an IntegrityError would abort it on PostgreSQL).
    store = DatabaseReplayStore(using="postgres")
    key = replay_key("atomic-pg")
    with transaction.atomic(using="postgres"):
        assert store.check_and_add(key, NOW + 360, now=NOW) is True
        assert store.check_and_add(key, NOW + 360, now=NOW) is False
        assert SeenProof.objects.using("postgres").filter(key=key).count() == 1


# --- CacheReplayStore ----------------------------------------------------------------------------


def test_cache_replay_store_accepts_once() -> None:
    caches["default"].clear()
    remembering(caches["default"])
    store = CacheReplayStore()
    key = replay_key("cache")
    assert store.check_and_add(key, NOW + 360, now=NOW) is True
    assert store.check_and_add(key, NOW + 360, now=NOW) is False
    assert store.check_and_add(replay_key("cache-other"), NOW + 360, now=NOW) is True


def test_cache_replay_timeout_runs_to_the_proofs_own_window(monkeypatch: pytest.MonkeyPatch) -> None:
    caches["default"].clear()
    cache = remembering(caches["default"])
    timeouts: list[Any] = []
    real_add = cache.add

    def add(key: str, value: Any, timeout: Any = None) -> bool:
        timeouts.append(timeout)
        return real_add(key, value, timeout)

    monkeypatch.setattr(cache, "add", add)
    store = CacheReplayStore()
    assert store.check_and_add(replay_key("t1"), NOW + 160, now=NOW) is True
    assert store.check_and_add(replay_key("t2"), NOW, now=NOW + 0.5) is True  # at least one second
    assert store.check_and_add(replay_key("t3"), NOW + 10, now=NOW + 9.25) is True  # rounded up
    assert timeouts == [160, 1, 1]


@override_settings(
    DPOP_REPLAY_CACHE="other", CACHES={"default": LOCMEM, "other": {**LOCMEM, "LOCATION": "other"}}
)
def test_cache_replay_store_uses_the_configured_alias() -> None:
    key = replay_key("alias")
    remembering(caches["other"])
    assert CacheReplayStore().check_and_add(key, NOW + 360, now=NOW) is True
    assert caches["other"].get("django_dpop:replay:" + key) == 1
    assert caches["default"].get("django_dpop:replay:" + key) is None


def test_cache_replay_store_failure_raises() -> None:
    with pytest.raises(InvalidCacheBackendError):
        CacheReplayStore("nowhere").check_and_add(replay_key("x"), NOW + 1, now=NOW)
    unreachable = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
    with (
        override_settings(CACHES={"default": LOCMEM, "down": unreachable}),
        pytest.raises(Exception, match="(?i)connect"),
    ):
        CacheReplayStore("down").check_and_add(replay_key("x"), NOW + 1, now=NOW)


@pytest.mark.redis
def test_cache_replay_concurrent_submissions_accept_exactly_one_redis() -> None:
    cache = remembering(caches["redis"])
    store = CacheReplayStore("redis")
    key = replay_key("race-redis")
    cache.delete("django_dpop:replay:" + key)
    results = concurrently(lambda: store.check_and_add(key, NOW + 360, now=NOW), close_db=False)
    assert results.count(True) == 1, results
    assert results.count(False) == 15, results
    # The entry lives until the proof's window ends (360 s here), not a fixed time.
    raw_key = cache.make_and_validate_key("django_dpop:replay:" + key)
    ttl = cache._cache.get_client(raw_key).ttl(raw_key)
    assert 355 <= ttl <= 360
    cache.delete("django_dpop:replay:" + key)


# --- Nonce stores --------------------------------------------------------------------------------


NONCE_STORES = [
    pytest.param(DatabaseNonceStore, marks=pytest.mark.django_db, id="database"),
    pytest.param(SignedNonceStore, id="signed"),
]


@pytest.mark.parametrize("store_class", NONCE_STORES)
def test_nonce_is_shared_within_a_period_by_every_worker(store_class: type) -> None:
    first, second = store_class(), store_class()  # two workers
    nonce = first.issue("token", now=STEP_START)
    assert second.issue("token", now=STEP_START + PERIOD - 1) == nonce
    assert second.check(nonce, "token", now=STEP_START + 10) is NonceStatus.CURRENT


@pytest.mark.parametrize("store_class", NONCE_STORES)
def test_nonce_rotation_current_then_valid_then_invalid(store_class: type) -> None:
    store = store_class()
    old = store.issue("token", now=STEP_START)
    assert store.check(old, "token", now=STEP_START) is NonceStatus.CURRENT
    assert store.check(old, "token", now=STEP_START + PERIOD - 1) is NonceStatus.CURRENT
    new = store.issue("token", now=STEP_START + PERIOD)
    assert new != old
    assert store.check(old, "token", now=STEP_START + PERIOD) is NonceStatus.VALID
    assert store.check(new, "token", now=STEP_START + PERIOD) is NonceStatus.CURRENT
    assert store.check(old, "token", now=STEP_START + 2 * PERIOD) is NonceStatus.INVALID
    # A nonce is never valid before its own period either (a clock running behind).
    assert store.check(new, "token", now=STEP_START) is NonceStatus.INVALID


@pytest.mark.parametrize("store_class", NONCE_STORES)
def test_nonce_rotation_with_the_patched_clock(store_class: type, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "clock", lambda: STEP_START)
    store = store_class()
    nonce = store.issue("resource")
    assert store.check(nonce, "resource") is NonceStatus.CURRENT
    monkeypatch.setattr(storage, "clock", lambda: STEP_START + PERIOD)
    assert store.check(nonce, "resource") is NonceStatus.VALID
    monkeypatch.setattr(storage, "clock", lambda: STEP_START + 2 * PERIOD)
    assert store.check(nonce, "resource") is NonceStatus.INVALID


@pytest.mark.parametrize("store_class", NONCE_STORES)
def test_nonce_purposes_are_separate(store_class: type) -> None:
    store = store_class()
    token_nonce = store.issue("token", now=NOW)
    resource_nonce = store.issue("resource", now=NOW)
    assert token_nonce != resource_nonce
    assert store.check(token_nonce, "resource", now=NOW) is NonceStatus.INVALID
    assert store.check(resource_nonce, "token", now=NOW) is NonceStatus.INVALID
    assert store.check(resource_nonce, "resource", now=NOW) is NonceStatus.CURRENT


MALFORMED = ["", " ", "a b", '"quoted"', "back\\slash", "é", "x" * 257, "\x00", None, 12345]


@pytest.mark.django_db  # so that a query could be counted (and would fail the test)
@pytest.mark.parametrize("store_class", NONCE_STORES)
@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_nonces_are_invalid(store_class: type, value: Any) -> None:
    store = store_class()
    store.issue("token", now=NOW)
    with CaptureQueriesContext(connection) as queries:
        assert store.check(value, "token", now=NOW) is NonceStatus.INVALID
    assert len(queries) == 0  # refused before any query


@pytest.mark.parametrize("store_class", NONCE_STORES)
def test_unknown_well_formed_nonce_is_invalid(store_class: type) -> None:
    store = store_class()
    nonce = store.issue("token", now=NOW)
    forged = nonce[:-2] + ("AA" if not nonce.endswith("AA") else "BB")
    assert store.check(forged, "token", now=NOW) is NonceStatus.INVALID
    assert store.check("AAAAAAAAAAA.AAAA", "token", now=NOW) is NonceStatus.INVALID


@pytest.mark.parametrize("store_class", NONCE_STORES)
def test_nonce_lifetime_follows_the_setting(store_class: type) -> None:
    store = store_class()
    with override_settings(DPOP_NONCE_LIFETIME=20):  # rotation period 10 s
        start = (NOW // 10) * 10
        nonce = store.issue("token", now=start)
        assert store.check(nonce, "token", now=start + 10) is NonceStatus.VALID
        assert store.check(nonce, "token", now=start + 20) is NonceStatus.INVALID
    # An explicit lifetime wins over the setting.
    assert store_class(lifetime=20).check(nonce, "token", now=start + 10) is NonceStatus.VALID


@pytest.mark.django_db
def test_database_nonce_is_random_nqchar_and_one_row_per_period() -> None:
    store = DatabaseNonceStore()
    nonce = store.issue("token", now=NOW)
    assert len(nonce) >= 22  # >= 128 bits of base64url
    assert set(nonce) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for _ in range(3):
        assert store.issue("token", now=NOW) == nonce
    row = ServerNonce.objects.get()
    assert (row.purpose, row.step, row.value) == ("token", NOW // PERIOD, nonce)
    assert row.expires_at == utc((NOW // PERIOD + 2) * PERIOD)


@pytest.mark.django_db
def test_database_nonce_check_is_one_query() -> None:
    store = DatabaseNonceStore()
    nonce = store.issue("token", now=NOW)
    with CaptureQueriesContext(connection) as queries:
        assert store.check(nonce, "token", now=NOW) is NonceStatus.CURRENT
    assert len(queries) == 1


@pytest.mark.django_db
def test_database_nonce_creation_drops_expired_rows() -> None:
    store = DatabaseNonceStore()
    store.issue("token", now=STEP_START)
    store.issue("resource", now=STEP_START)
    store.issue("token", now=STEP_START + PERIOD)
    assert ServerNonce.objects.filter(purpose="token").count() == 2  # the previous one is still valid
    store.issue("token", now=STEP_START + 2 * PERIOD + 1)
    assert sorted(ServerNonce.objects.filter(purpose="token").values_list("step", flat=True)) == [
        STEP_START // PERIOD + 1,
        STEP_START // PERIOD + 2,
    ]
    assert ServerNonce.objects.filter(purpose="resource").count() == 1  # other purposes untouched


def test_database_nonce_concurrent_first_issue_agrees_on_one_nonce_sqlite(sqlite_file: str) -> None:
    results = concurrently(lambda: DatabaseNonceStore(using=sqlite_file).issue("token", now=NOW), threads=8)
    assert all(isinstance(result, str) for result in results), results
    assert len(set(results)) == 1
    assert ServerNonce.objects.using(sqlite_file).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_database_nonce_concurrent_first_issue_agrees_on_one_nonce_postgres() -> None:
    results = concurrently(lambda: DatabaseNonceStore(using="postgres").issue("token", now=NOW), threads=8)
    assert all(isinstance(result, str) for result in results), results
    assert len(set(results)) == 1
    assert ServerNonce.objects.using("postgres").count() == 1
    assert DatabaseNonceStore(using="postgres").check(results[0], "token", now=NOW) is NonceStatus.CURRENT


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_database_nonce_minted_in_a_rolled_back_transaction_survives_postgres() -> None:
    # ATOMIC_REQUESTS with a refused request (DRF rolls back on every handled error): the nonce
    # handed to the client must stay valid, or its retry is refused again.
    store = DatabaseNonceStore(using="postgres")
    with transaction.atomic(using="postgres"):
        nonce = store.issue("token", now=NOW)
        transaction.set_rollback(True, using="postgres")
    assert store.check(nonce, "token", now=NOW) is NonceStatus.CURRENT
    assert store.issue("token", now=NOW) == nonce
    assert ServerNonce.objects.using("postgres").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_database_nonce_side_connection_is_closed_postgres() -> None:
    # The autocommit connection that mints a nonce inside a transaction is closed every time
    # (Django does not manage it): minting in many periods leaves no backend behind.
    store = DatabaseNonceStore(using="postgres")

    def backends() -> int:
        with connections["postgres"].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cursor.fetchone()[0]

    before = backends()
    for period in range(5):
        with transaction.atomic(using="postgres"):
            nonce = store.issue("token", now=NOW + period * PERIOD)
            transaction.set_rollback(True, using="postgres")
        assert store.check(nonce, "token", now=NOW + period * PERIOD) is NonceStatus.CURRENT
    # A closed connection's backend exits asynchronously (a loaded machine shows it a moment
    # longer); a leaked one would stay.
    deadline = time.monotonic() + 10
    while backends() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert backends() == before


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_database_nonce_side_connection_failure_raises_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    # A mint that cannot reach the database raises (issue_nonce turns it into a refusal), and
    # the enclosing transaction is left usable.
    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise OperationalError("side connection refused")

    store = DatabaseNonceStore(using="postgres")
    with transaction.atomic(using="postgres"):
        ServerNonce.objects.using("postgres").count()  # the outer connection is open
        monkeypatch.setattr(type(connections["postgres"]), "get_new_connection", refuse)
        with pytest.raises(OperationalError):
            store.issue("token", now=NOW)
        monkeypatch.undo()
        assert ServerNonce.objects.using("postgres").count() == 0


@pytest.mark.django_db
def test_database_nonce_on_sqlite_is_written_in_the_enclosing_transaction() -> None:
    # What the system check django_dpop.W003 warns about (SQLite with ATOMIC_REQUESTS).
    store = DatabaseNonceStore()
    with transaction.atomic():
        nonce = store.issue("token", now=NOW)
        transaction.set_rollback(True)
    assert store.check(nonce, "token", now=NOW) is NonceStatus.INVALID


def test_database_nonce_store_failure_raises() -> None:
    with pytest.raises(Exception, match="nowhere"):
        DatabaseNonceStore(using="nowhere").issue("token", now=NOW)
    with pytest.raises(Exception, match="nowhere"):
        DatabaseNonceStore(using="nowhere").check("abc", "token", now=NOW)


def test_signed_nonce_depends_on_secret_key() -> None:
    store = SignedNonceStore()
    nonce = store.issue("token", now=NOW)
    assert store.check(nonce, "token", now=NOW) is NonceStatus.CURRENT
    with override_settings(SECRET_KEY="another-secret-key-for-another-deployment"):
        assert store.issue("token", now=NOW) != nonce
        assert store.check(nonce, "token", now=NOW) is NonceStatus.INVALID


def test_signed_nonce_key_is_derived_not_secret_key_itself() -> None:
    # The HMAC key is derived from SECRET_KEY for this purpose only: a MAC made with SECRET_KEY
    # itself (what any other careless use of it would produce) is no nonce.
    store = SignedNonceStore()
    step = NOW // PERIOD
    assert store.check(sign_nonce(b"x" * 32, "token", step), "token", now=NOW) is NonceStatus.INVALID
    forged = sign_nonce(settings.SECRET_KEY.encode(), "token", step)
    assert store.check(forged, "token", now=NOW) is NonceStatus.INVALID
    assert store.check(store.issue("token", now=NOW), "token", now=NOW) is NonceStatus.CURRENT


def test_signed_nonce_needs_no_database() -> None:
    # No django_db mark: any query would fail the test.
    store = SignedNonceStore()
    assert store.check(store.issue("token", now=NOW), "token", now=NOW) is NonceStatus.CURRENT


# --- bounded waits (DPOP_STORE_TIMEOUT) ----------------------------------------------------------


def test_a_locked_sqlite_database_fails_the_store_call_instead_of_waiting(
    sqlite_file: str, settings: Any
) -> None:
    """Another process holds the database's lock for as long as it likes; the store gives up."""
    import sqlite3

    settings.DPOP_STORE_TIMEOUT = 0.1
    connection = connections[sqlite_file]
    connection.ensure_connection()
    connection.connection.execute("PRAGMA busy_timeout = 30000")  # as OPTIONS {"timeout": 30}
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False)
    # Released after 20 s: a call that waited for the lock would then succeed, and fail the test.
    release = threading.Timer(20, holder.rollback)
    replay, nonces = DatabaseReplayStore(using=sqlite_file), DatabaseNonceStore(using=sqlite_file)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # no reader nor writer until it ends
        release.start()
        with pytest.raises(OperationalError, match="locked"):
            replay.check_and_add(replay_key("locked"), NOW + 300, now=NOW)
        with pytest.raises(OperationalError, match="locked"):
            nonces.issue("token", now=NOW)
        with pytest.raises(OperationalError, match="locked"):
            nonces.check("x" * 32, "token", now=NOW)
        assert holder.in_transaction  # still held: the calls did not wait for its release
        # The connection's own busy timeout is back for everything else.
        assert connection.connection.execute("PRAGMA busy_timeout").fetchone() == (30000,)
    finally:
        release.cancel()
        if holder.in_transaction:
            holder.rollback()
        holder.close()
    # Nothing was stored half-way: the proof was never accepted, so it is accepted once now.
    assert replay.check_and_add(replay_key("locked"), NOW + 300, now=NOW) is True
    assert replay.check_and_add(replay_key("locked"), NOW + 300, now=NOW) is False
