"""CacheReplayStore on Django's RedisCache: one round trip of its own (django_dpop.redis_wire).

Against the real Redis at 127.0.0.1:6379 (key names of their own) and, for the wire format, a
socket fed byte by byte: RESP2 and RESP3 replies, out-of-band frames, and every broken reply.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCacheClient

from django_dpop import conf, redis_wire, storage
from django_dpop.core.errors import StoreUnavailable
from django_dpop.storage import CacheReplayStore


def replay_key(name: str) -> str:
    return hashlib.sha256(f"perf-{name}-{time.time_ns()}".encode()).hexdigest()


def remembering(cache: Any) -> Any:
    cache.add(CacheReplayStore.MARKER_KEY, 0, None)  # real time only: never a fake clock here
    return cache


def later() -> int:
    return int(time.time()) + 60


@pytest.fixture
def own_prefix(settings: Any) -> Any:
    """A factory of caches on the shared Redis under a key prefix of this test's own (so that
    changing the marker never disturbs another test run on the same Redis)."""

    def make(alias: str, **options: Any) -> str:
        settings.CACHES = {
            **settings.CACHES,
            alias: {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": settings.CACHES["redis"]["LOCATION"],
                "KEY_PREFIX": f"dpop-test-{os.getpid()}-{time.time_ns()}",
                "OPTIONS": options,
            },
        }
        return alias

    return make


# -- the store on a real Redis ------------------------------------------------------------------


@pytest.mark.redis
def test_the_store_writes_on_a_connection_of_its_own_without_a_client_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = remembering(caches["redis"])
    pool = storage._write_pool(cache)
    assert pool is cache._cache._get_connection_pool(True)
    made: list[Any] = []
    monkeypatch.setattr(cache._cache, "_client", lambda **kwargs: made.append(kwargs))
    monkeypatch.setattr(pool, "get_connection", lambda *args, **kwargs: made.append(args))
    assert CacheReplayStore("redis").check_and_add(replay_key("pool"), later()) is True
    assert made == []  # neither Django's get_client (a new redis.Redis) nor the pool's checkout


@pytest.mark.redis
def test_the_route_to_the_cache_is_resolved_once_per_settings(
    monkeypatch: pytest.MonkeyPatch, own_prefix: Any
) -> None:
    alias = own_prefix("routed")
    remembering(caches[alias])
    store = CacheReplayStore(alias)
    assert store.check_and_add(replay_key("route"), later()) is True

    class NoLookups:
        def __getitem__(self, name: str) -> Any:
            raise AssertionError(f"caches[{name!r}] looked up again for a proof")

    monkeypatch.setattr(storage, "caches", NoLookups())
    key = replay_key("route-again")
    assert store.check_and_add(key, later()) is True
    assert store.check_and_add(key, later()) is False


@pytest.mark.redis
def test_new_settings_take_the_route_to_the_new_cache(own_prefix: Any) -> None:
    key = replay_key("moving")
    first = caches[own_prefix("moving")]
    remembering(first)
    assert CacheReplayStore("moving").check_and_add(key, later()) is True
    second = caches[own_prefix("moving")]  # the same alias under another KEY_PREFIX
    remembering(second)
    assert second.key_prefix != first.key_prefix
    assert CacheReplayStore("moving").check_and_add(key, later()) is True  # new keys: not seen
    assert second.get(storage._CACHE_KEY_PREFIX + key) == 1
    assert CacheReplayStore("moving").check_and_add(key, later()) is False


def test_an_unknown_cache_alias_refuses_every_time() -> None:
    from django.core.cache import InvalidCacheBackendError

    store = CacheReplayStore("no-such-cache")
    for _ in range(2):  # a failed resolution is not remembered
        with pytest.raises(InvalidCacheBackendError):
            store.check_and_add(replay_key("unknown"), later())


@pytest.mark.redis
def test_the_store_still_detects_replays() -> None:
    remembering(caches["redis"])
    store = CacheReplayStore("redis")
    key = replay_key("replay")
    assert store.check_and_add(key, later()) is True
    assert store.check_and_add(key, later()) is False
    assert store.check_and_add(replay_key("other"), later()) is True


@pytest.mark.redis
def test_the_key_lives_until_the_proofs_window_ends() -> None:
    cache = remembering(caches["redis"])
    key = replay_key("ttl")
    assert CacheReplayStore("redis").check_and_add(key, int(time.time()) + 90) is True
    ttl = cache._cache.get_client().ttl(cache.make_key(storage._CACHE_KEY_PREFIX + key))
    assert 85 <= ttl <= 91


@pytest.mark.redis
def test_an_error_reply_refuses_and_the_next_proof_gets_its_own_replies(own_prefix: Any) -> None:
    alias = own_prefix("isolated")
    cache = caches[alias]
    client = cache._cache.get_client(write=True)
    marker = cache.make_key(CacheReplayStore.MARKER_KEY)
    store = CacheReplayStore(alias)
    client.lpush(marker, "not a string")  # GET answers WRONGTYPE
    try:
        with pytest.raises(redis_wire.ErrorReply, match="WRONGTYPE"):
            store.check_and_add(replay_key("error"), later())
    finally:
        client.delete(marker)
    remembering(cache)
    assert store.check_and_add(replay_key("next"), later()) is True


@pytest.mark.redis
def test_each_thread_has_its_own_connection() -> None:
    cache = remembering(caches["redis"])
    pool = storage._write_pool(cache)
    store = CacheReplayStore("redis")
    channels: list[Any] = []
    # All alive at once: a thread that starts after another ended may get its ident, and with
    # it that thread's channel (by design: the old one can no longer use it).
    together = threading.Barrier(4)

    def work() -> None:
        assert store.check_and_add(replay_key("thread"), later()) is True
        channels.append(redis_wire._channel(pool))
        together.wait(timeout=10)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    work()
    for thread in threads:
        thread.join()
    assert len({id(channel.connection) for channel in channels}) == 4


@pytest.mark.redis
# Python 3.12+ warns of fork() beside threads (other tests' servers); the child below touches no
# lock of theirs, and an alarm ends it if it ever hangs, so the test fails instead of hanging.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_makes_its_own_connection_and_leaves_the_parents_alone() -> None:
    cache = remembering(caches["redis"])
    store = CacheReplayStore("redis")
    key = replay_key("fork")
    assert store.check_and_add(key, later()) is True
    parent_connection = redis_wire._channel(storage._write_pool(cache)).connection
    pid = os.fork()
    if pid == 0:  # the child: a replay of the parent's key, a new key, on a connection of its own
        signal.alarm(20)
        try:
            fresh = redis_wire._channel(storage._write_pool(cache)).connection is not parent_connection
            ok = fresh and store.check_and_add(key, later()) is False
            ok = ok and store.check_and_add(replay_key("child"), later()) is True
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The child's exit closed nothing of ours: the parent's connection still answers.
    assert redis_wire._channel(storage._write_pool(cache)).connection is parent_connection
    assert store.check_and_add(replay_key("parent"), later()) is True


@pytest.mark.redis
def test_resp3_push_frames_are_skipped(own_prefix: Any) -> None:
    """Client-side caching invalidations arrive on the connection, between replies (RESP3)."""
    alias = own_prefix("resp3", protocol=3)
    cache = remembering(caches[alias])
    store = CacheReplayStore(alias)
    assert store.check_and_add(replay_key("resp3"), later()) is True
    connection = redis_wire._channel(storage._write_pool(cache)).connection
    connection.send_command("CLIENT", "TRACKING", "ON")
    assert connection.read_response() in (b"OK", "OK")
    assert store.check_and_add(replay_key("tracked"), later()) is True  # reads the marker: tracked
    cache._cache.get_client(write=True).set(cache.make_key(CacheReplayStore.MARKER_KEY), 0)
    # Redis now pushes an invalidation of the marker onto the store's connection.
    for _ in range(3):
        assert store.check_and_add(replay_key("after-push"), later()) is True
    key = replay_key("replay-after-push")
    assert store.check_and_add(key, later()) is True
    assert store.check_and_add(key, later()) is False


@pytest.mark.redis
def test_a_custom_client_class_is_asked_every_time(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    cache = remembering(caches["redis"])
    # The route to a cache is resolved once per settings object; a client class swapped at
    # runtime (as here) is seen once the snapshot forgets, and forgotten again afterwards.
    request.addfinalizer(conf.settings.forget)
    conf.settings.forget()
    calls: list[bool] = []

    class Sharded(RedisCacheClient):
        def get_client(self, key: Any = None, *, write: bool = False) -> Any:
            calls.append(write)
            return super().get_client(key, write=write)

    monkeypatch.setattr(cache._cache, "__class__", Sharded)
    assert storage._write_pool(cache) is None
    assert storage._redis_route("redis") is None
    store = CacheReplayStore("redis")
    key = replay_key("sharded")
    assert store.check_and_add(key, later()) is True
    assert store.check_and_add(key, later()) is False
    assert calls == [True, True]


# -- the wire format, without a server ----------------------------------------------------------


class FakeSocket:
    """Hands out ``data`` ``step`` bytes per ``recv``; then EOF (b""). Keeps what is sent."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = data
        self.step = step
        self.sent: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sent.append(data)

    def recv(self, size: int) -> bytes:
        chunk, self.data = self.data[: self.step], self.data[self.step :]
        return chunk


def replies(data: bytes, step: int, count: int = 2) -> list[bytes | None]:
    reader = redis_wire._Reader(FakeSocket(data, step), b"")
    return [reader.reply() for _ in range(count)]


STEPS = [1, 2, 3, 7, 1000]


REPLY_VECTORS = [
    (b"+OK\r\n$10\r\n1733000000\r\n", [b"OK", b"1733000000"]),  # added, marker
    (b"$-1\r\n$1\r\n0\r\n", [None, b"0"]),  # RESP2: already there
    (b"_\r\n_\r\n", [None, None]),  # RESP3 nulls
    (b"+OK\r\n$0\r\n\r\n", [b"OK", b""]),
    # RESP3 push (an invalidation) before, between and after the replies
    (
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nmarker\r\n+OK\r\n"
        b">2\r\n$10\r\ninvalidate\r\n_\r\n$1\r\n5\r\n",
        [b"OK", b"5"],
    ),
    # RESP3 attribute before a reply; a push holding every frame type
    (
        b"|1\r\n+key\r\n%1\r\n:1\r\n,1.5\r\n+OK\r\n"
        b">7\r\n#t\r\n(1234\r\n=7\r\ntxt:abc\r\n~1\r\n-E\r\n!3\r\nERR\r\n*-1\r\n$-1\r\n_\r\n",
        [b"OK", None],
    ),
]


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("data", "expected"), REPLY_VECTORS)
def test_replies_are_read_whatever_the_chunking(data: bytes, expected: list[Any], step: int) -> None:
    assert replies(data, step) == expected


class FakeConnection:
    """What ``_round_trip`` uses of a redis-py connection: ``connect`` and ``_sock``."""

    def __init__(self, data: bytes, step: int) -> None:
        self._sock: FakeSocket | None = None
        self.data, self.step = data, step

    def connect(self) -> None:
        self._sock = FakeSocket(self.data, self.step)


def fake_channel(data: bytes, step: int, buffer: bytes = b"") -> Any:
    channel = object.__new__(redis_wire._Channel)
    channel.connection = FakeConnection(data, step)
    channel.buffer = buffer
    channel.encoding = "utf-8"
    channel.pid = os.getpid()
    channel.reused = False
    return channel


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("data", "expected"), REPLY_VECTORS)
def test_a_round_trip_reads_the_two_replies_whatever_the_chunking(
    data: bytes, expected: list[Any], step: int
) -> None:
    """The first read's fast path and the general reader, through the real ``_round_trip``."""
    channel = fake_channel(data, step)
    assert list(redis_wire._round_trip(channel, b"packed")) == expected
    assert channel.connection._sock.sent == [b"packed"]  # connected on first use, then sent
    assert channel.reused is False


@pytest.mark.parametrize(("data", "expected"), REPLY_VECTORS)
def test_the_fast_path_agrees_with_the_general_reader_on_every_prefix(data: bytes, expected: Any) -> None:
    for end in range(len(data) + 1):
        chunk = data[:end]
        fast = redis_wire._two_plain_replies(chunk)
        if fast is None:
            continue
        reader = redis_wire._Reader(FakeSocket(b"", 1), chunk)
        assert [reader.reply(), reader.reply()] == list(fast)
        assert reader.rest() == b""  # the fast path answers only when the chunk is exactly that


@pytest.mark.parametrize(
    "chunk",
    [
        b"+OK\r\n$1\r\n5\r\n>1\r\n+x\r\n",  # a push after the replies: kept by the reader
        b"+OK\r\n$2\r\n5\r\n",
        b"+OK\r\n$-1\r\n_\r\n",
        b"+QUEUED\r\n_\r\n",
        b"-ERR x\r\n_\r\n",
        b"+OK\r\n$+1\r\n5\r\n",
        b"+OK\r\n:1\r\n",
        b"",
    ],
)
def test_the_fast_path_declines_anything_but_exactly_two_plain_replies(chunk: bytes) -> None:
    assert redis_wire._two_plain_replies(chunk) is None


def test_a_round_trip_keeps_what_follows_the_replies_and_reads_it_first_next_time() -> None:
    channel = fake_channel(b"+OK\r\n$1\r\n5\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n", 1000)
    assert redis_wire._round_trip(channel, b"one") == (b"OK", b"5")
    assert channel.buffer == b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    channel.connection._sock = FakeSocket(b"$-1\r\n$1\r\n6\r\n", 1000)
    assert redis_wire._round_trip(channel, b"two") == (None, b"6")
    assert channel.buffer == b""


def test_a_round_trip_on_a_closed_connection_raises() -> None:
    with pytest.raises(ConnectionError):
        redis_wire._round_trip(fake_channel(b"", 1000), b"packed")


def test_what_is_read_past_the_replies_is_kept_for_the_next_round_trip() -> None:
    reader = redis_wire._Reader(FakeSocket(b"+OK\r\n_\r\n>1\r\n+late\r\n", 1000), b"")
    assert [reader.reply(), reader.reply()] == [b"OK", None]
    assert reader.rest() == b">1\r\n+late\r\n"
    again = redis_wire._Reader(FakeSocket(b"+OK\r\n$1\r\n9\r\n", 1000), reader.rest())
    assert [again.reply(), again.reply()] == [b"OK", b"9"]


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"-ERR wrong number of arguments\r\n", redis_wire.ErrorReply),
        (b"!21\r\nSYNTAX invalid syntax\r\n", redis_wire.ErrorReply),
        (b":1\r\n", redis_wire.ProtocolError),  # an integer is no reply to SET or GET
        (b"*1\r\n+OK\r\n", redis_wire.ProtocolError),
        (b"?\r\n", redis_wire.ProtocolError),
        (b"\r\n", redis_wire.ProtocolError),
        (b"$x\r\nab\r\n", redis_wire.ProtocolError),
        (b"$-2\r\n", redis_wire.ProtocolError),
        (b"$2\r\nabcd\r\n", redis_wire.ProtocolError),  # the payload overruns its length
        (b">x\r\n", redis_wire.ProtocolError),
        (b">1\r\n?\r\n", redis_wire.ProtocolError),
        (b">1\r\n" * 12 + b"+deep\r\n", redis_wire.ProtocolError),  # nested past the bound
        (b"+OK", ConnectionError),  # closed before the line ended
        (b"$5\r\nab", ConnectionError),
        (b"", ConnectionError),
    ],
)
def test_a_broken_reply_raises(data: bytes, error: type[Exception], step: int) -> None:
    reader = redis_wire._Reader(FakeSocket(data, step), b"")
    with pytest.raises(error):
        reader.reply()


@pytest.mark.parametrize(
    ("key", "seconds", "marker"),
    [(b"dpop:1:abc", 360, b"dpop:1:django_dpop:replay-store:since"), (b"k\xc3\xa9", 1, b"")],
)
def test_commands_are_resp_arrays_of_bulk_strings(key: bytes, seconds: int, marker: bytes) -> None:
    def bulk(value: bytes) -> bytes:
        return b"$" + str(len(value)).encode() + b"\r\n" + value + b"\r\n"

    expected = b"*6\r\n" + b"".join(bulk(v) for v in (b"SET", key, b"1", b"EX", str(seconds).encode(), b"NX"))
    expected += b"*2\r\n" + bulk(b"GET") + bulk(marker)
    assert redis_wire.pack_set_nx_and_get(key, seconds, marker) == expected


# -- the store's answers to what the wire reports -------------------------------------------------


@pytest.mark.redis
def test_a_set_reply_other_than_ok_or_null_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    remembering(caches["redis"])
    monkeypatch.setattr(redis_wire, "set_nx_and_get", lambda *args: (b"QUEUED", b"0"))
    with pytest.raises(redis_wire.ProtocolError):
        CacheReplayStore("redis").check_and_add(replay_key("queued"), later())


@pytest.mark.redis
def test_through_the_verifier_any_wire_failure_is_store_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_dpop.core.proof import _call_store, _check_and_add

    remembering(caches["redis"])

    def broken(*args: Any) -> Any:
        raise redis_wire.ProtocolError("unexpected reply type")

    monkeypatch.setattr(redis_wire, "set_nx_and_get", broken)
    with pytest.raises(StoreUnavailable):
        _call_store("replay", _check_and_add, CacheReplayStore("redis"), replay_key("x"), later())


def test_the_wire_module_imports_without_redis_py() -> None:
    """``django_dpop.storage`` imports it on every install; redis-py is only the ``redis`` extra."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "redis" or name.startswith("redis."):
                    raise ModuleNotFoundError(f"No module named {name!r}")
        sys.meta_path.insert(0, Block())
        import django_dpop.redis_wire as wire
        print(wire._closed(ConnectionResetError()), "redis" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["True", "False"], result.stdout + result.stderr


@pytest.mark.redis
def test_a_gone_pools_connections_go_with_it() -> None:
    import gc
    import weakref

    import redis

    pool = redis.ConnectionPool.from_url(caches["redis"]._servers[0])
    channel = redis_wire._channel(pool)
    assert redis_wire._channel(pool) is channel
    gone = weakref.ref(channel.connection)
    del pool, channel
    gc.collect()
    assert gone() is None  # nothing of ours kept the pool, nor its connection
