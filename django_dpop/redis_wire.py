"""The Redis replay store's round trip: ``SET NX`` of a proof and ``GET`` of the marker, on a
connection of its own per thread.

:class:`~django_dpop.storage.CacheReplayStore` on Django's ``RedisCache`` sends two commands per
proof. Through redis-py's client that is two to three hundred Python calls (the pool's checkout
with its health poll and metrics, the command packer, the reply parser, once per command): in a
request, as costly as the round trip itself (``docs/performance.md``). Here:

- **Connections**: redis-py still makes and connects them, from the cache's own pool settings
  (``connection_class`` and ``connection_kwargs``: host, TLS, AUTH, SELECT, RESP3 ``HELLO``,
  timeouts, everything the cache's ``OPTIONS`` say), but they are never shared: one per thread
  and pool, so no lock and no checkout. A forked child makes its own (the parent's is left to
  the parent). The connections go with their pool.
- **Commands**: RESP arrays of bulk strings, packed here (the same bytes in RESP2 and RESP3).
- **Replies**: read here. A simple string, a bulk string or a null is a reply; RESP3 push
  frames and attributes (out of band, RESP3 spec) are read and skipped; an error reply raises
  :class:`ErrorReply`; anything else is :class:`ProtocolError`.

Any failure (refused, timed out by the socket's ``socket_timeout``, closed, an error reply, a
reply not understood) drops the connection, so that no half-read reply can answer the next
proof, and propagates: the store refuses the request (fail closed, 503). The one retry: a kept
connection found closed before any reply was read (:func:`set_nx_and_get`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any


__all__ = ["ErrorReply", "ProtocolError", "set_nx_and_get"]

# Aggregate frames nested deeper than this in an out-of-band frame are a protocol error.
_MAX_DEPTH = 8
_RECV_SIZE = 65536


class ProtocolError(Exception):
    """A reply the round trip does not understand (the connection is dropped)."""


class ErrorReply(Exception):
    """Redis answered an error (``-ERR ...``, RESP3 ``!``): the message is Redis's own."""


# RESP2/RESP3 frame types (the first byte of a frame): one line, a length-prefixed payload,
# an aggregate of frames, an aggregate of pairs of frames.
_LINE_TYPES = frozenset(b"+-:_,#(")
_BLOB_TYPES = frozenset(b"$!=")
_AGGREGATE_TYPES = frozenset(b"*~>")
_MAP_TYPES = frozenset(b"%|")


class _Channel:
    """One thread's connection to one pool, and the bytes read from it but not yet parsed."""

    __slots__ = ("buffer", "connection", "encoding", "pid", "reused")

    def __init__(self, pool: Any) -> None:
        self.pid = os.getpid()
        self.connection = pool.connection_class(**pool.connection_kwargs)
        self.encoding = pool.connection_kwargs.get("encoding") or "utf-8"
        self.buffer = b""
        self.reused = False

    def drop(self) -> None:
        self.buffer = b""
        with contextlib.suppress(Exception):  # already broken: nothing more to release
            self.connection.disconnect()


# Where a pool keeps its channels, one per thread (by thread ident: unique among live threads;
# a new thread that gets a dead one's ident takes over its channel, never while it is in use).
# Django's caches are per thread (and per async context), so a pool normally serves one thread
# and holds one channel. On the pool itself, not in a registry of ours: redis-py 8's
# connections reference their pool (maintenance-notification handlers), so a registry could
# never let a pool go; here the pool, its channels and their connections are one piece of
# garbage once the cache drops the pool.
_CHANNELS_ATTRIBUTE = "_django_dpop_channels"


def _channel(pool: Any) -> _Channel:
    """This thread's channel to ``pool`` (made on first use, and again in a forked child)."""
    channels = getattr(pool, _CHANNELS_ATTRIBUTE, None)
    if channels is None:
        channels = {}
        setattr(pool, _CHANNELS_ATTRIBUTE, channels)
    ident = threading.get_ident()
    channel = channels.get(ident)
    if channel is None or channel.pid != os.getpid():
        channel = channels[ident] = _Channel(pool)
    return channel


_SET_NX_AND_GET = (
    b"*6\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n$2\r\nEX\r\n$%d\r\n%s\r\n$2\r\nNX\r\n"
    b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n"
)


def pack_set_nx_and_get(key: bytes, seconds: int, marker: bytes) -> bytes:
    """``SET key 1 EX seconds NX`` then ``GET marker``, as RESP arrays of bulk strings."""
    ttl = b"%d" % seconds
    return _SET_NX_AND_GET % (len(key), key, len(ttl), ttl, len(marker), marker)


class _Reader:
    """RESP frames from a channel's socket, through its buffer."""

    __slots__ = ("buffer", "position", "sock")

    def __init__(self, sock: Any, buffer: bytes) -> None:
        self.sock = sock
        self.buffer = buffer
        self.position = 0

    def _fill(self) -> None:
        chunk = self.sock.recv(_RECV_SIZE)
        if not chunk:
            raise ConnectionError("Redis closed the connection")
        self.buffer = self.buffer[self.position :] + chunk
        self.position = 0

    def line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n", self.position)
            if end >= 0:
                line = self.buffer[self.position : end]
                self.position = end + 2
                return line
            self._fill()

    def blob(self, header: bytes) -> bytes | None:
        """The payload of a length-prefixed frame (``$``, ``!``, ``=``); None for ``-1``."""
        try:
            size = int(header)
        except ValueError:
            raise ProtocolError("bad frame length") from None
        if size == -1:
            return None
        if size < 0:
            raise ProtocolError("bad frame length")
        while len(self.buffer) - self.position < size + 2:
            self._fill()
        start = self.position
        if self.buffer[start + size : start + size + 2] != b"\r\n":
            raise ProtocolError("bad frame terminator")
        self.position = start + size + 2
        return self.buffer[start : start + size]

    def skip(self, depth: int = 0) -> None:
        """Read one frame of any RESP2/RESP3 type and discard it."""
        if depth > _MAX_DEPTH:
            raise ProtocolError("frames nested too deep")
        line = self.line()
        kind, rest = (line[0], line[1:]) if line else (-1, b"")
        if kind in _BLOB_TYPES:
            self.blob(rest)
        elif kind in _AGGREGATE_TYPES or kind in _MAP_TYPES:
            count = self._count(rest) * (2 if kind in _MAP_TYPES else 1)
            for _ in range(count):
                self.skip(depth + 1)
        elif kind not in _LINE_TYPES:
            raise ProtocolError("unknown frame type")

    @staticmethod
    def _count(rest: bytes) -> int:
        try:
            count = int(rest)
        except ValueError:
            raise ProtocolError("bad aggregate length") from None
        return max(count, 0)

    def reply(self) -> bytes | None:
        """The next in-band reply: a simple or bulk string's bytes, or None for a null."""
        while True:
            line = self.line()
            kind, rest = line[:1], line[1:]
            if kind == b"+":
                return rest
            if kind == b"$":
                return self.blob(rest)
            if kind == b"_":
                return None
            if kind == b"-":
                raise ErrorReply(rest.decode("utf-8", "replace"))
            if kind == b"!":
                raise ErrorReply((self.blob(rest) or b"").decode("utf-8", "replace"))
            if kind == b">":  # RESP3 push (invalidation, maintenance): out of band
                for _ in range(self._count(rest)):
                    self.skip(1)
                continue
            if kind == b"|":  # RESP3 attribute: metadata preceding the reply itself
                for _ in range(self._count(rest) * 2):
                    self.skip(1)
                continue
            raise ProtocolError("unexpected reply type")

    def rest(self) -> bytes:
        return self.buffer[self.position :]


def set_nx_and_get(pool: Any, key: str, seconds: int, marker: str) -> tuple[bytes | None, bytes | None]:
    """One round trip on this thread's connection to ``pool``: the replies of ``SET NX`` and ``GET``.

    ``(b"OK", marker value)`` when the key was added, ``(None, ...)`` when it was there already.
    Keys are encoded as redis-py would (the pool's ``encoding``, UTF-8 by default). Raises on
    any failure, after dropping the connection.

    A kept connection that Redis has closed meanwhile (a restart, an idle timeout) is found
    closed before any reply is read; the round trip is then made once more on a new connection.
    That is safe for replay detection: ``SET NX`` is atomic, so a command that did reach Redis
    the first time makes the second answer "already there" (a refusal), never an acceptance.
    A timeout is never retried (the wait would double).
    """
    channel = _channel(pool)
    data = pack_set_nx_and_get(key.encode(channel.encoding), seconds, marker.encode(channel.encoding))
    try:
        return _round_trip(channel, data)
    except BaseException as exc:
        channel.drop()
        if not (channel.reused and _closed(exc)):
            raise
    try:
        return _round_trip(channel, data)
    except BaseException:
        channel.drop()
        raise


def _round_trip(channel: _Channel, data: bytes) -> tuple[bytes | None, bytes | None]:
    connection = channel.connection
    sock = connection._sock
    channel.reused = sock is not None
    if sock is None:
        connection.connect()  # redis-py: TCP or TLS, then AUTH, HELLO, SELECT... from the pool's settings
        sock = connection._sock
    sock.sendall(data)
    if not channel.buffer:
        # The usual case: both replies, and nothing else, in the first read.
        chunk = sock.recv(_RECV_SIZE)
        replies = _two_plain_replies(chunk)
        if replies is not None:
            return replies
        if not chunk:
            raise ConnectionError("Redis closed the connection")
        channel.buffer = chunk
    reader = _Reader(sock, channel.buffer)
    added = reader.reply()
    since = reader.reply()
    channel.buffer = reader.rest()
    return added, since


_SET_REPLIES = {b"+OK\r\n": b"OK", b"$-1\r\n": None, b"_\r\n": None}


def _two_plain_replies(chunk: bytes) -> tuple[bytes | None, bytes | None] | None:
    """``SET NX``'s reply (``+OK``, or a RESP2/RESP3 null) then ``GET``'s (a bulk string or a
    null), exactly filling ``chunk``; None for anything else (the general reader decides)."""
    first = chunk.find(b"\r\n") + 2
    if first < 3 or chunk[:first] not in _SET_REPLIES:
        return None
    added = _SET_REPLIES[chunk[:first]]
    rest = chunk[first:]
    if rest in (b"$-1\r\n", b"_\r\n"):
        return added, None
    end = rest.find(b"\r\n")
    if end < 2 or rest[:1] != b"$" or not rest[1:end].isdigit():
        return None
    size = int(rest[1:end])
    if len(rest) != end + 2 + size + 2 or rest[-2:] != b"\r\n":
        return None
    return added, rest[end + 2 : end + 2 + size]


def _closed(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection was closed (not timed out, not an answer)."""
    if isinstance(exc, ConnectionError):  # builtin: reset, broken pipe, or EOF (_Reader)
        return True
    from redis.exceptions import ConnectionError as RedisConnectionError

    return isinstance(exc, RedisConnectionError)  # redis-py's own, for a failed send
