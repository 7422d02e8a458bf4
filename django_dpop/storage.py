"""Replay and nonce stores (the Protocols of :mod:`django_dpop.core.stores`) and their cleanup.

Which to choose (``DPOP_REPLAY_STORE``, ``DPOP_NONCE_STORE``):

- :class:`DatabaseReplayStore` (default): one atomic statement per proof on the unique key
  column; correct for any number of workers and hosts sharing the database.
- :class:`CacheReplayStore`: ``cache.add`` on a shared cache (Redis: ``SET NX``); for fleets that
  would rather not write to the database per request. Never on a per-process cache. A flush
  or restart is detected (a state marker) and refuses the proofs it may have seen; eviction and
  snapshot restores are not (``maxmemory-policy noeviction``, AOF or no persistence).
- :class:`DatabaseNonceStore` (default): one nonce per purpose and rotation period, shared by all
  workers through the database.
- :class:`SignedNonceStore`: stateless HMAC nonces keyed from ``SECRET_KEY``; no table at all.

Every store raises on failure (never answers "accepted"): the verifier turns that into
:class:`~django_dpop.core.errors.StoreUnavailable` and refuses the request (fail closed).
Database calls wait at most ``DPOP_STORE_TIMEOUT`` (:mod:`django_dpop.store_timeouts`).
"""

from __future__ import annotations

import datetime
import logging
import math
import secrets
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.constants import OnConflict
from django.utils.crypto import salted_hmac

from . import redis_wire, store_timeouts
from .conf import conf, proof_policy
from .conf import settings as settings_snapshot
from .core.errors import StoreUnavailable
from .core.nonces import (
    current_step,
    is_nonce_syntax,
    rotation_period,
    sign_nonce,
    signed_nonce_step,
    step_status,
)
from .core.stores import NonceStatus
from .models import SeenProof, ServerNonce


logger = logging.getLogger(__name__)

# The clock of every store; tests may patch it (or pass ``now``) instead of sleeping.
clock = time.time

# RFC 9449 §8.1 NQCHAR-safe: base64url, 24 random bytes = 192 bits.
_NONCE_BYTES = 24
_CACHE_KEY_PREFIX = "django_dpop:replay:"
DEFAULT_BATCH_SIZE = 10_000


def _datetime(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)


class DatabaseReplayStore:
    """Replay detection (RFC 9449 §11.1) in the :class:`~django_dpop.models.SeenProof` table.

    ``check_and_add`` is a single statement on a unique column, so of any number of concurrent
    requests (threads, workers, hosts) carrying one proof exactly one is accepted. An expired
    entry does not block a later proof with the same key: RFC 9449's own refresh example reuses
    a ``jti`` 45 minutes later, and the row would be purged anyway.
    """

    def __init__(self, using: str | None = None) -> None:
        self.using = using

    def _alias(self) -> str:
        return self.using or router.db_for_write(SeenProof)

    def check_and_add(self, key: str, expires_at: int, *, now: float | None = None) -> bool:
        alias = self._alias()
        connection = connections[alias]
        now = clock() if now is None else now
        expires = _datetime(expires_at)
        if (
            connection.vendor in ("sqlite", "postgresql")
            and connection.features.supports_update_conflicts_with_target
        ):
            return self._upsert(connection, key, expires, _datetime(now))
        return self._insert_or_replace_expired(alias, key, expires, _datetime(now))

    @staticmethod
    def _upsert(
        connection: BaseDatabaseWrapper, key: str, expires: datetime.datetime, now: datetime.datetime
    ) -> bool:
        # One statement, no IntegrityError and so no savepoint: it inserts, or replaces a row
        # whose proof window has ended; a live row is left alone and nothing changes (rowcount 0).
        # SQLite >= 3.24 and PostgreSQL serialize conflicting inserts on the unique index.
        quote = connection.ops.quote_name
        table = quote(SeenProof._meta.db_table)
        key_column = quote(SeenProof._meta.get_field("key").column)
        expires_column = quote(SeenProof._meta.get_field("expires_at").column)
        sql = (
            f"INSERT INTO {table} ({key_column}, {expires_column}) VALUES (%s, %s) "
            f"ON CONFLICT ({key_column}) DO UPDATE SET {expires_column} = excluded.{expires_column} "
            f"WHERE {table}.{expires_column} < %s"
        )
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cursor:
            # Bounded: a locked table answers StoreUnavailable after DPOP_STORE_TIMEOUT, not never.
            store_timeouts.execute(connection, cursor, sql, [key, adapt(expires), adapt(now)])
            return cursor.rowcount == 1

    @staticmethod
    def _insert_or_replace_expired(
        alias: str, key: str, expires: datetime.datetime, now: datetime.datetime
    ) -> bool:
        # Other vendors: the unique index decides (IntegrityError = already there), inside a
        # savepoint so an enclosing transaction survives; then a conditional UPDATE, atomic per row,
        # lets exactly one request reclaim an expired entry.
        with store_timeouts.bounded(connections[alias]):
            try:
                with transaction.atomic(using=alias):
                    SeenProof.objects.using(alias).create(key=key, expires_at=expires)
                return True
            except IntegrityError:
                pass
            updated = (
                SeenProof.objects.using(alias).filter(key=key, expires_at__lt=now).update(expires_at=expires)
            )
            return updated == 1


class CacheReplayStore:
    """Replay detection in the Django cache ``DPOP_REPLAY_CACHE`` with ``cache.add``.

    Atomic only where ``add`` is (Redis ``SET NX``, Memcached ``add``); the system checks refuse
    per-process caches (LocMem, Dummy, FileBased), which would let a replay through another worker.
    The entry lives until the proof's own window ends (``expires_at``), at least one second.

    A cache can forget (a flush, a restart without persistence): every proof it had seen would be
    accepted again. So the store keeps a marker key, ``since``: the time from which it remembers
    everything, written once with ``add`` (``SET NX``, no expiry: one value for all workers) by
    the first request that finds it missing. Its absence means "state lost"; from then on a proof
    that could have been accepted before ``since`` is refused (503, :class:`StoreUnavailable`)
    until its window ends. A proof is first acceptable at ``iat - DPOP_CLOCK_SKEW`` (a client
    clock ahead of ours), that is ``expires_at - DPOP_PROOF_MAX_AGE - 2 * DPOP_CLOCK_SKEW``; it
    is accepted only if that instant is after ``since``. Consequence: after a loss, proofs made
    within the next ``DPOP_CLOCK_SKEW`` seconds are refused too (they might be a pre-dated proof
    used before the loss). With Django's ``RedisCache`` the proof's ``SET NX`` and the marker's
    ``GET`` are one round trip on a connection of the store's own (:mod:`django_dpop.redis_wire`);
    other caches take two calls.
    """

    MARKER_KEY = "django_dpop:replay-store:since"

    def __init__(self, alias: str | None = None) -> None:
        self.alias = alias

    def check_and_add(self, key: str, expires_at: int, *, now: float | None = None) -> bool:
        now = clock() if now is None else now
        timeout = max(1, math.ceil(expires_at - now))
        alias = self.alias or conf.DPOP_REPLAY_CACHE
        route = settings_snapshot.memo(("replay_redis_route", alias), lambda: _redis_route(alias))
        if route is not None:  # Django's RedisCache: one round trip of our own
            added, since = _set_nx_and_get(route, _CACHE_KEY_PREFIX + key, timeout)
        else:
            added, since = self._add(caches[alias], _CACHE_KEY_PREFIX + key, timeout)
        # A backend that swallows errors answers a falsy value: a refusal, never an acceptance.
        if not added:
            return False
        # The marker is read after the proof was written: a loss between the two makes the
        # marker missing (refusing this proof), never a proof lost while the marker stays.
        if since is None:
            since = self._mark(caches[alias], now)
        policy = proof_policy()  # DPOP_PROOF_MAX_AGE and DPOP_CLOCK_SKEW, read once per settings
        first_acceptable = expires_at - policy.max_age - 2 * policy.clock_skew
        if first_acceptable <= since:
            raise StoreUnavailable(
                "DPoP replay store lost its state recently; retry with a new proof shortly"
            )
        return True

    def _add(self, cache: Any, key: str, timeout: int) -> tuple[bool, float | None]:
        """``add`` the proof's key, then read the marker: (added, since or None).

        For every cache but Django's ``RedisCache`` with its own client class (which takes
        :func:`_set_nx_and_get`).
        """
        if isinstance(cache, RedisCache):
            # A custom client class: through its own client, as Django does.
            pipe = cache._cache.get_client(write=True).pipeline(transaction=False)
            pipe.set(cache.make_and_validate_key(key), 1, ex=timeout, nx=True)
            pipe.get(cache.make_and_validate_key(self.MARKER_KEY))
            added, since = pipe.execute()
            return bool(added), _since(since)
        if not cache.add(key, 1, timeout):
            return False, None
        return True, _since(cache.get(self.MARKER_KEY))

    def _mark(self, cache: Any, now: float) -> float:
        """Write the marker if it is still missing (one value wins across workers); return it."""
        if cache.add(self.MARKER_KEY, math.ceil(now), None):
            logger.warning(
                "DPoP replay cache %r had no state marker (new, flushed, restarted or evicted): "
                "proofs that could predate now are refused until their window ends",
                self.alias or conf.DPOP_REPLAY_CACHE,
            )
        since = _since(cache.get(self.MARKER_KEY))
        if since is None:  # a cache that keeps nothing: it cannot detect replays either
            raise StoreUnavailable("DPoP replay cache keeps no state")
        return since


class _RedisRoute(NamedTuple):
    """What the one round trip needs of a ``RedisCache``: its write pool, its keys, the marker's."""

    pool: Any
    make_key: Callable[[str], str]
    marker: str


def _redis_route(alias: str) -> _RedisRoute | None:
    """The route to cache ``alias`` for :mod:`django_dpop.redis_wire`; None for another backend.

    Resolved once per settings object (``CacheReplayStore.check_and_add``), like the store
    itself: Django's ``caches[alias]`` (a lookup in per-thread storage), the pool and the
    marker's key cost as much per request as the rest of the store's Python. The route is shared
    by every thread: redis-py pools are thread-safe and :mod:`django_dpop.redis_wire` keeps one
    connection per thread on the pool. A cache whose client class is swapped at runtime, rather
    than through ``CACHES`` ``OPTIONS``, is seen only under new settings.
    """
    cache = caches[alias]
    if not isinstance(cache, RedisCache):
        return None
    pool = _write_pool(cache)
    if pool is None:
        return None
    return _RedisRoute(pool, cache.make_key, cache.make_key(CacheReplayStore.MARKER_KEY))


def _set_nx_and_get(route: _RedisRoute, key: str, timeout: int) -> tuple[bool, float | None]:
    """``SET key NX`` and the marker's ``GET`` in one round trip: (added, since or None)."""
    added, since = redis_wire.set_nx_and_get(route.pool, route.make_key(key), timeout, route.marker)
    if added is not None and added != b"OK":
        raise redis_wire.ProtocolError("SET NX answered neither OK nor null")
    return added is not None, _since(since)


def _write_pool(cache: RedisCache) -> Any:
    """The redis-py connection pool Django's ``RedisCache`` writes to, or None for a custom client.

    Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` on every call (about
    as costly as the round trip itself), and a redis-py pipeline adds its own layers. The store
    only needs the pool, which redis-py makes thread-safe and resets in a forked child. A client
    class that overrides how clients or pools are chosen (sharding, say) gets None.
    """
    backend = cache._cache
    cls = type(backend)
    if (
        cls.get_client is not RedisCacheClient.get_client
        or cls._get_connection_pool is not RedisCacheClient._get_connection_pool
    ):
        return None
    return backend._get_connection_pool(True)


def _since(value: Any) -> float | None:
    """The marker's value as a number; a foreign value fails closed."""
    if value is None:
        return None
    try:
        since = float(value)
    except (TypeError, ValueError):
        since = math.nan
    if not math.isfinite(since):
        raise StoreUnavailable("DPoP replay cache marker is not a timestamp")
    return since


class DatabaseNonceStore:
    """Server nonces (RFC 9449 §8, §9) in the :class:`~django_dpop.models.ServerNonce` table.

    One random nonce per purpose and rotation period (``DPOP_NONCE_LIFETIME // 2``), created by
    whichever worker asks first; the unique (purpose, step) constraint makes every other worker
    read that same row. In a period's steady state ``issue`` and ``check`` are one indexed query. A nonce is current in its period and still valid in the next one.
    Reads go to the write database: a replica lagging behind would refuse a fresh nonce.
    """

    def __init__(self, using: str | None = None, lifetime: int | None = None) -> None:
        self.using = using
        self.lifetime = lifetime

    def _alias(self) -> str:
        return self.using or router.db_for_write(ServerNonce)

    def _period(self) -> int:
        return rotation_period(conf.DPOP_NONCE_LIFETIME if self.lifetime is None else self.lifetime)

    def _select(self, alias: str, purpose: str, steps: tuple[int, ...]) -> list[tuple[int, str]]:
        """(step, value) of the nonces of ``purpose`` in ``steps``: one bounded query."""
        connection = connections[alias]
        quote = connection.ops.quote_name
        meta = ServerNonce._meta
        step_col, value_col, purpose_col = (
            quote(meta.get_field(name).column) for name in ("step", "value", "purpose")
        )
        placeholders = ", ".join(["%s"] * len(steps))
        sql = (
            f"SELECT {step_col}, {value_col} FROM {quote(meta.db_table)} "
            f"WHERE {purpose_col} = %s AND {step_col} IN ({placeholders})"
        )
        with connection.cursor() as cursor:
            store_timeouts.execute(connection, cursor, sql, [purpose, *steps])
            return [(int(step), value) for step, value in cursor.fetchall()]

    def issue(self, purpose: str, *, now: float | None = None) -> str:
        now = clock() if now is None else now
        period = self._period()
        step = current_step(now, period)
        alias = self._alias()
        # The steady state: one bounded query.
        for _, value in self._select(alias, purpose, (step,)):
            return value
        # First request of the period: propose a value; when workers race, one row wins.
        proposal = secrets.token_urlsafe(_NONCE_BYTES)
        expires = _datetime((step + 2) * period)
        connection = connections[alias]
        if (
            connection.in_atomic_block
            and connection.vendor != "sqlite"
            and connection.features.supports_ignore_conflicts
        ):
            # Inside a transaction (ATOMIC_REQUESTS): the refused request that mints the nonce
            # is rolled back (DRF does so for every handled error), and the nonce with it, so
            # the client's retry would be refused again, forever. Commit it on a connection of
            # its own: once per period and worker. (SQLite: a second connection would wait for
            # the first's lock; the system check django_dpop.W003 covers that case.)
            value = self._mint_outside_transaction(alias, purpose, step, proposal, expires, now)
        else:
            nonces = ServerNonce.objects.using(alias)
            with store_timeouts.bounded(connection):
                # ON CONFLICT DO NOTHING (INSERT OR IGNORE) on the unique (purpose, step): nobody
                # sees an IntegrityError (which would also need a savepoint inside a transaction).
                nonces.bulk_create(
                    [ServerNonce(purpose=purpose, step=step, value=proposal, expires_at=expires)],
                    ignore_conflicts=True,
                )
                value = nonces.filter(purpose=purpose, step=step).values_list("value", flat=True).first()
                # Once per period and worker: drop what has expired, so the table stays tiny
                # even without the cleanup command.
                nonces.filter(purpose=purpose, expires_at__lt=_datetime(now)).delete()
        if value is None:  # deleted under our feet: refuse rather than hand out an unknown nonce
            raise RuntimeError("DPoP server nonce could not be stored")
        return value

    @staticmethod
    def _mint_outside_transaction(
        alias: str, purpose: str, step: int, proposal: str, expires: datetime.datetime, now: float
    ) -> str | None:
        """Insert-or-keep the nonce of (purpose, step) in autocommit on a new connection; return it."""
        side = connections.create_connection(alias)
        try:
            if side.vendor == "postgresql":  # our own connection, closed below: session-wide
                ms = f"{store_timeouts.timeout_ms()}ms"
                with side.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('lock_timeout', %s, false), "
                        "set_config('statement_timeout', %s, false)",
                        [ms, ms],
                    )
            ops, quote = side.ops, side.ops.quote_name
            meta = ServerNonce._meta
            table = quote(meta.db_table)
            purpose_col, step_col, value_col, expires_col = (
                quote(meta.get_field(name).column) for name in ("purpose", "step", "value", "expires_at")
            )
            insert = (
                f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} {table} "
                f"({purpose_col}, {step_col}, {value_col}, {expires_col}) VALUES (%s, %s, %s, %s) "
                f"{ops.on_conflict_suffix_sql([], OnConflict.IGNORE, None, None)}"
            )
            with side.cursor() as cursor:
                cursor.execute(insert, [purpose, step, proposal, ops.adapt_datetimefield_value(expires)])
                cursor.execute(
                    f"SELECT {value_col} FROM {table} WHERE {purpose_col} = %s AND {step_col} = %s",
                    [purpose, step],
                )
                row = cursor.fetchone()
                cursor.execute(
                    f"DELETE FROM {table} WHERE {purpose_col} = %s AND {expires_col} < %s",
                    [purpose, ops.adapt_datetimefield_value(_datetime(now))],
                )
            # A no-op in autocommit (Django's default); with DATABASES AUTOCOMMIT=False, the
            # close below would otherwise roll the nonce back.
            side.commit()
            return None if row is None else row[0]
        finally:
            side.close()  # never pooled by Django: a connection per mint would leak otherwise

    def check(self, nonce: str, purpose: str, *, now: float | None = None) -> NonceStatus:
        if not is_nonce_syntax(nonce):
            return NonceStatus.INVALID
        now = clock() if now is None else now
        now_step = current_step(now, self._period())
        for step, value in self._select(self._alias(), purpose, (now_step, now_step - 1)):
            if secrets.compare_digest(value.encode(), nonce.encode()):
                return step_status(step, now_step)
        return NonceStatus.INVALID


@lru_cache(maxsize=4)
def _signing_key(secret: str | bytes) -> bytes:
    # A key of its own for nonces, derived from SECRET_KEY (never SECRET_KEY itself).
    return salted_hmac(
        "django_dpop.storage.SignedNonceStore", "nonce", secret=secret, algorithm="sha256"
    ).digest()


class SignedNonceStore:
    """Stateless server nonces: the rotation step and an HMAC over (purpose, step).

    The key is derived from ``SECRET_KEY``, so every worker and host with the same secret agrees
    without any storage. The purpose is inside the HMAC: a token endpoint nonce is invalid at a
    resource and vice versa. Rotating ``SECRET_KEY`` invalidates the nonces in flight, which
    costs clients one ``use_dpop_nonce`` retry.
    """

    def __init__(self, lifetime: int | None = None) -> None:
        self.lifetime = lifetime

    def _period(self) -> int:
        return rotation_period(conf.DPOP_NONCE_LIFETIME if self.lifetime is None else self.lifetime)

    def issue(self, purpose: str, *, now: float | None = None) -> str:
        now = clock() if now is None else now
        return sign_nonce(_signing_key(settings.SECRET_KEY), purpose, current_step(now, self._period()))

    def check(self, nonce: str, purpose: str, *, now: float | None = None) -> NonceStatus:
        step = signed_nonce_step(_signing_key(settings.SECRET_KEY), purpose, nonce)
        if step is None:
            return NonceStatus.INVALID
        now = clock() if now is None else now
        return step_status(step, current_step(now, self._period()))


# On a database that locks the whole file for a write (SQLite), every DPoP request waits for
# each DELETE of the purge: batches are sized by time there, with a pause between them.
FILE_LOCK_BATCH_SECONDS = 0.05
_FIRST_TIMED_BATCH = 200


def clear_expired(
    now: datetime.datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    batch_seconds: float | None = None,
    pause: float | None = None,
) -> tuple[int, int]:
    """Delete expired seen proofs and nonces in batches; return (seen proofs, nonces) deleted.

    Batches keep each DELETE (and its locks) short on a busy table, as DOT's ``clear_expired``.
    ``batch_size`` is the most rows per DELETE. With ``batch_seconds`` (default: 0.05 s on
    SQLite, which locks the whole database for each write; no limit elsewhere, where a DELETE
    locks only its rows) the batch size adapts so that each DELETE takes about that long, and
    the purge sleeps ``pause`` seconds between batches (default: as long as the last DELETE
    took, so writers get the database at least half of the time).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if batch_seconds is not None and not batch_seconds > 0:
        raise ValueError("batch_seconds must be positive")
    if pause is not None and not pause >= 0:
        raise ValueError("pause must be zero or positive")
    now = now or _datetime(clock())
    counts = []
    for model in (SeenProof, ServerNonce):
        alias = router.db_for_write(model)
        manager = model.objects.using(alias)
        budget = batch_seconds
        if budget is None and connections[alias].vendor == "sqlite":
            budget = FILE_LOCK_BATCH_SECONDS
        size = batch_size if budget is None else min(batch_size, _FIRST_TIMED_BATCH)
        total = 0
        while True:
            batch = list(manager.filter(expires_at__lt=now).values_list("pk", flat=True)[:size])
            if not batch:
                break
            started = time.perf_counter()
            # The condition again in the DELETE itself: a row that DatabaseReplayStore reclaimed
            # (a new proof with the same key) since the SELECT is live again and must stay, or that
            # proof could be replayed once. PostgreSQL re-checks it on the row's newest version.
            deleted, _ = manager.filter(pk__in=batch, expires_at__lt=now).delete()
            elapsed = time.perf_counter() - started
            total += deleted
            if budget is None:
                continue
            full = len(batch) == size  # rows may be left: let the writers in before the next
            # Aim at the budget: grow at most twofold a batch (a fast batch may be luck), shrink
            # at once (a slow one holds every writer).
            target = int(size * budget / max(elapsed, 1e-6))
            size = max(1, min(batch_size, 2 * size, target))
            if full:
                time.sleep(elapsed if pause is None else pause)
        logger.info("%s expired %s deleted", total, model._meta.verbose_name_plural)
        counts.append(total)
    return counts[0], counts[1]
