"""Writer latency during ``dpop_clear_expired`` on a file SQLite database.

Run from the repository root::

    .venv/bin/python -m benchmarks.purge_sqlite                 # 200,000 expired rows, both modes
    .venv/bin/python -m benchmarks.purge_sqlite --rows 50000 --mode timed

SQLite locks the whole database for each write, so every DPoP request (one replay-store INSERT)
waits for each DELETE of a purge. A writer process records one proof every few milliseconds
(``DatabaseReplayStore.check_and_add``, as a request does) while the main process purges
``--rows`` expired seen proofs:

- ``rows``: the purge before time budgets (10,000 rows per DELETE, back to back);
- ``timed``: :func:`django_dpop.storage.clear_expired` with its SQLite defaults (each DELETE
  sized to about 50 ms, a pause as long between batches).

Reported: the purge's duration and the writer's latency (p50, p99, max) for the requests made
during the purge, and how many failed (``DPOP_STORE_TIMEOUT`` is 10 s here, so a failure is a
wait longer than that).
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import secrets
import statistics
import tempfile
import time
from typing import Any


def configure(path: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="benchmark-only",
        USE_TZ=True,
        INSTALLED_APPS=["django_dpop"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": path}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DPOP_STORE_TIMEOUT=10,
    )
    django.setup()


def fill(rows: int) -> None:
    from django.db import connection

    from django_dpop.models import SeenProof, ServerNonce

    with connection.schema_editor() as editor:
        editor.create_model(SeenProof)
        editor.create_model(ServerNonce)
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    for start in range(0, rows, 10_000):
        SeenProof.objects.bulk_create(
            SeenProof(key=secrets.token_hex(32), expires_at=past) for _ in range(min(10_000, rows - start))
        )
    connection.close()


def writer(stop: Any, results: Any, interval: float) -> None:
    from django.db import connection

    from django_dpop.storage import DatabaseReplayStore

    store = DatabaseReplayStore()
    samples: list[tuple[float, float, bool]] = []
    while not stop.is_set():
        started = time.perf_counter()
        try:
            ok = store.check_and_add(secrets.token_hex(32), int(time.time()) + 300)
        except Exception:
            ok = False
        samples.append((started, time.perf_counter() - started, ok))
        time.sleep(interval)
    connection.close()
    results.put(samples)


def purge_by_rows() -> None:
    """The purge as it was: 10,000 rows per DELETE, no pause."""
    from django.utils import timezone

    from django_dpop.models import SeenProof

    now = timezone.now()
    while True:
        batch = list(SeenProof.objects.filter(expires_at__lt=now).values_list("pk", flat=True)[:10_000])
        if not batch:
            break
        SeenProof.objects.filter(pk__in=batch, expires_at__lt=now).delete()


def purge_timed(batch_seconds: float | None = None) -> None:
    from django_dpop.storage import clear_expired

    clear_expired(batch_seconds=batch_seconds)


def measure(mode: str, rows: int, interval: float, batch_seconds: float | None = None) -> dict[str, float]:
    from django.db import connection

    fill(rows)
    context = multiprocessing.get_context("fork")
    stop, results = context.Event(), context.Queue()
    process = context.Process(target=writer, args=(stop, results, interval))
    process.start()
    time.sleep(1.0)  # the writer is warm
    started = time.perf_counter()
    if mode == "rows":
        purge_by_rows()
    else:
        purge_timed(batch_seconds)
    ended = time.perf_counter()
    connection.close()
    time.sleep(0.2)
    stop.set()
    samples = results.get()
    process.join()
    during = [(latency, ok) for at, latency, ok in samples if started <= at <= ended]
    before = [latency for at, latency, ok in samples if at < started and ok]
    latencies = sorted(latency for latency, _ in during)
    quantiles = (
        statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) >= 2 else latencies * 99
    )
    return {
        "purge_s": ended - started,
        "requests": len(during),
        "failed": sum(1 for _, ok in during if not ok),
        "idle_p50_ms": statistics.median(before) * 1000 if before else float("nan"),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": quantiles[98] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--mode", choices=["rows", "timed", "both"], default="both")
    parser.add_argument(
        "--batch-seconds", type=float, default=None, help="timed mode's budget (default 0.05)"
    )
    parser.add_argument("--interval", type=float, default=0.005, help="writer sleep between requests (s)")
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="dpop-purge-")
    path = os.path.join(directory, "db.sqlite3")
    configure(path)
    print(f"SQLite file, {args.rows} expired seen proofs, one writer every {args.interval * 1000:.0f} ms")
    print("mode    purge s  requests  failed  idle p50 ms  p50 ms  p99 ms  max ms")
    for mode in ("rows", "timed") if args.mode == "both" else (args.mode,):
        if os.path.exists(path):
            os.remove(path)
        r = measure(mode, args.rows, args.interval, args.batch_seconds)
        print(
            f"{mode:<7} {r['purge_s']:7.2f}  {r['requests']:8d}  {r['failed']:6d}  "
            f"{r['idle_p50_ms']:11.2f}  {r['p50_ms']:6.1f}  {r['p99_ms']:6.1f}  {r['max_ms']:6.1f}"
        )


if __name__ == "__main__":
    main()
