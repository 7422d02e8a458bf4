"""Fire one token request N times at once from real threads, each with its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.test import Client


def at_once(request: Callable[[Client], Any], times: int = 8) -> list[Any]:
    """Run ``request(client)`` in ``times`` threads released together; return the responses.

    Each thread has its own test client and database connection (closed when it ends), as
    concurrent requests to a real server would. An exception in a thread is returned in place of
    its response, so the caller sees it.
    """
    barrier = threading.Barrier(times)
    results: list[Any] = [None] * times

    def run(index: int) -> None:
        client = Client()
        try:
            barrier.wait()
            results[index] = request(client)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def statuses(responses: list[Any]) -> list[Any]:
    """Status codes, with any exception a thread raised shown as itself."""
    return sorted((r.status_code if hasattr(r, "status_code") else repr(r) for r in responses), key=str)
