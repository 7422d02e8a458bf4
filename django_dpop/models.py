"""Server-side state of DPoP: accepted proofs (replay detection) and server-provided nonces.

Both tables stay small: rows carry ``expires_at`` and :func:`django_dpop.storage.clear_expired`
(the ``dpop_clear_expired`` command) purges what has expired.
"""

from __future__ import annotations

from django.db import models


class SeenProof(models.Model):
    """A DPoP proof accepted once (RFC 9449 §11.1), remembered until its own window ends.

    ``key`` is :attr:`VerifiedProof.replay_key`, the SHA-256 (hex) of the proof's key thumbprint,
    ``htu`` and ``jti``: the table never holds raw client strings (RFC 9449 §11.1 allows storing
    "only a hash thereof"). The unique constraint is what makes replay detection atomic.
    """

    key = models.CharField("key", max_length=64, unique=True)
    expires_at = models.DateTimeField("expires at", db_index=True)

    class Meta:
        verbose_name = "seen proof"
        verbose_name_plural = "seen proofs"

    def __str__(self) -> str:
        return self.key


class ServerNonce(models.Model):
    """The server nonce of one ``purpose`` for one rotation ``step`` (RFC 9449 §8, §9).

    One row per (purpose, step), enforced by a unique constraint, so every worker and host
    sharing the database hands out and accepts the same nonce during a period.
    """

    purpose = models.CharField("purpose", max_length=32)
    step = models.BigIntegerField("rotation step")
    value = models.CharField("value", max_length=64)
    expires_at = models.DateTimeField("expires at", db_index=True)

    class Meta:
        verbose_name = "server nonce"
        verbose_name_plural = "server nonces"
        constraints = [
            models.UniqueConstraint(fields=["purpose", "step"], name="django_dpop_nonce_purpose_step"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} #{self.step}"
