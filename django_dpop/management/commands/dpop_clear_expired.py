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
            help=f"Rows deleted per statement (default {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be a positive integer")
        seen, nonces = clear_expired(batch_size=batch_size)
        if options["verbosity"] >= 1:
            self.stdout.write(f"Deleted {seen} expired seen proofs and {nonces} expired nonces.")
