"""``manage.py dpop_clear_expired``: purge expired seen proofs and nonces (run it from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_dpop.storage import DEFAULT_BATCH_SIZE, clear_expired


class Command(BaseCommand):
    help = "Delete expired DPoP seen proofs (replay detection) and server nonces, in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Most rows deleted per statement (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--batch-seconds",
            type=float,
            default=None,
            help="Size each DELETE to take about this long (default 0.05 on SQLite, which locks "
            "the whole database per write; no limit on other databases).",
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=None,
            help="Seconds to sleep between timed batches (default: as long as the last one took).",
        )

    def handle(
        self,
        *args: Any,
        batch_size: int,
        batch_seconds: float | None,
        pause: float | None,
        **options: Any,
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be a positive integer")
        if batch_seconds is not None and not batch_seconds > 0:
            raise CommandError("--batch-seconds must be a positive number")
        if pause is not None and not pause >= 0:
            raise CommandError("--pause must be zero or a positive number")
        seen, nonces = clear_expired(batch_size=batch_size, batch_seconds=batch_seconds, pause=pause)
        if options["verbosity"] >= 1:
            self.stdout.write(f"Deleted {seen} expired seen proofs and {nonces} expired nonces.")
