"""Optional clock-skew correction for proofs: ``iat`` from the server's ``Date`` header.

RFC 9449 §11.1 lets servers refuse proofs whose ``iat`` is outside a short window; a client whose
clock is minutes off (common on mobile and in VMs) fails every request. With correction on, the
client measures each server's clock from its ``Date`` header (RFC 9110 §6.6.1) and stamps its
proofs in server time. Off by default: the server's own nonces are the robust cure (§8).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from email.utils import parsedate_to_datetime

from .nonces import Origin, origin_of


# Date has one-second resolution and includes network delay: ignore offsets below this.
DEFAULT_THRESHOLD = 5
# A Date header further off than this is more likely broken than a real clock difference.
MAX_OFFSET = 24 * 3600


class ServerClock:
    """Per-origin offset (seconds) between a server's clock and ours; thread-safe and bounded."""

    def __init__(self, threshold: int = DEFAULT_THRESHOLD, max_entries: int = 256) -> None:
        self._threshold = threshold
        self._max_entries = max_entries
        self._offsets: OrderedDict[Origin, int] = OrderedDict()
        self._lock = threading.Lock()

    def observe(self, url: str, date_header: str | None, now: float | None = None) -> None:
        """Learn the offset of the server at ``url`` from a response's ``Date`` header."""
        if not date_header:
            return
        try:
            server_time = parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        offset = round(server_time - (time.time() if now is None else now))
        origin = origin_of(url)
        with self._lock:
            if abs(offset) < self._threshold or abs(offset) > MAX_OFFSET:
                self._offsets.pop(origin, None)
                return
            self._offsets[origin] = offset
            self._offsets.move_to_end(origin)
            while len(self._offsets) > self._max_entries:
                self._offsets.popitem(last=False)

    def offset(self, url: str) -> int:
        with self._lock:
            return self._offsets.get(origin_of(url), 0)

    def iat(self, url: str, now: float | None = None) -> int:
        """The ``iat`` for a proof to ``url``: our time, corrected to the server's clock."""
        return int((time.time() if now is None else now) + self.offset(url))

    def __repr__(self) -> str:
        return f"<ServerClock servers={len(self._offsets)} threshold={self._threshold}s>"


__all__ = ["ServerClock"]
