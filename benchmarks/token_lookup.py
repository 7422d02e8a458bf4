"""Token lookup: the per-request query of a DOT access token with its application, user and binding.

Run from the repository root (any supported Django; the numbers are ratios within one run)::

    .venv/bin/python -m benchmarks.token_lookup                 # SQLite in memory
    .venv/bin/python -m benchmarks.token_lookup --db postgres   # a scratch database at 127.0.0.1:5432

``fast``: the query written once from ``_meta`` and executed with ``Model.from_db``
(``django_dpop.contrib.oauth2_provider.token_lookup``); ``orm``: the same lookup as DOT's
validator, ``select_related(...).get(token_checksum=...)``, compiled by the ORM on every call.
Rounds are interleaved so a noisy neighbour slows both alike; the median of the rounds is
reported, and the ratio is ORM time / fast time (how many times cheaper the fast path is).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["memory", "postgres"], default="memory")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()

    from benchmarks import request_cost

    request_cost.configure(args.db, "none")
    import django
    from django.core.management import call_command
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_application_model

    from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding
    from django_dpop.contrib.oauth2_provider.token_lookup import _LOOKUPS, find_access_token

    scratch = None
    try:
        if args.db == "postgres":
            from django.conf import settings

            scratch = settings.DATABASES["default"]["NAME"]
        call_command("migrate", verbosity=0)
        application = get_application_model().objects.create(
            name="bench", client_type="confidential", authorization_grant_type="client-credentials"
        )
        model = get_access_token_model()
        token = model.objects.create(
            token="bench-token",
            application=application,
            scope="read",
            expires=timezone.now() + datetime.timedelta(hours=1),
        )
        AccessTokenBinding.objects.create(access_token=token, jkt="A" * 43)
        checksum = token.token_checksum
        assert find_access_token(model, checksum).pk == token.pk
        fast_path = next(iter(_LOOKUPS.values())) is not None

        def timed(compiled: bool) -> float:
            start = time.perf_counter()
            for _ in range(args.calls):
                find_access_token(model, checksum, compiled=compiled)
            return (time.perf_counter() - start) / args.calls

        fast, orm = [], []
        for _ in range(args.rounds):
            fast.append(timed(True))
            orm.append(timed(False))
        fast_us, orm_us = statistics.median(fast) * 1e6, statistics.median(orm) * 1e6
        print(f"Django {django.get_version()}, {args.db}: fast path {'on' if fast_path else 'OFF'}")
        print(f"  fast lookup   {fast_us:8.1f} us/call")
        print(f"  ORM lookup    {orm_us:8.1f} us/call")
        print(f"  ratio ORM / fast: {orm_us / fast_us:.2f}x")
    finally:
        if scratch:
            request_cost.drop_scratch_postgres(scratch)


if __name__ == "__main__":
    main()
