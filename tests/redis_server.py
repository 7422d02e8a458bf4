"""A ``redis-server`` of the test's own, on a free port, that a test may stop, hang, flush or restart.

Never the shared Redis on 6379: other test runs use it. Absent ``redis-server`` (or redis-py),
the tests skip with a reason; under CI they fail instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import services


REDIS_SERVER = shutil.which("redis-server")


def _redis_module() -> bool:
    try:
        import redis  # noqa: F401
    except ImportError:
        return False
    return True


def require_redis_server() -> None:
    if REDIS_SERVER and _redis_module():
        return
    if services.REQUIRED:
        pytest.fail("CI requires redis-server on PATH and redis-py")
    pytest.skip("needs redis-server on PATH and redis-py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process; ``config`` are extra ``--name value`` options."""

    def __init__(self, directory: Path, **config: str) -> None:
        self.directory = directory
        self.port = _free_port()
        self.config = {"save": "", "appendonly": "no", **config}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        args = [REDIS_SERVER or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.directory)]
        for name, value in self.config.items():
            args += [f"--{name}", value]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def hang(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def flushall(self) -> None:
        self.client().flushall()


def own_redis_server(directory: Path, **config: str) -> Iterator[RedisServer]:
    require_redis_server()
    server = RedisServer(directory, **config)
    server.start()
    try:
        yield server
    finally:
        server.stop()
