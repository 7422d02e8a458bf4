"""Key bindings (``cnf.jkt``, RFC 9449 §6) of DOT's tokens and codes, and the per-client policy.

Side tables, one-to-one with DOT's (possibly swapped) models and deleted with them: no model
swapping is asked of the host project.
"""

from __future__ import annotations

from django.db import models
from oauth2_provider.settings import oauth2_settings


JKT_LENGTH = 43  # base64url of a SHA-256 digest, no padding (RFC 7638 §3)


class AccessTokenBinding(models.Model):
    """The key an access token is bound to (RFC 9449 §6)."""

    access_token = models.OneToOneField(
        oauth2_settings.ACCESS_TOKEN_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="dpop_binding",
    )
    jkt = models.CharField(max_length=JKT_LENGTH)

    class Meta:
        verbose_name = "access token DPoP binding"

    def __str__(self) -> str:
        return self.jkt


class RefreshTokenBinding(models.Model):
    """The key a public client's refresh token is bound to (RFC 9449 §5)."""

    refresh_token = models.OneToOneField(
        oauth2_settings.REFRESH_TOKEN_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="dpop_binding",
    )
    jkt = models.CharField(max_length=JKT_LENGTH)

    class Meta:
        verbose_name = "refresh token DPoP binding"

    def __str__(self) -> str:
        return self.jkt


class GrantBinding(models.Model):
    """The ``dpop_jkt`` an authorization code was requested with (RFC 9449 §10)."""

    grant = models.OneToOneField(
        oauth2_settings.GRANT_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="dpop_binding",
    )
    jkt = models.CharField(max_length=JKT_LENGTH)

    class Meta:
        verbose_name = "authorization code DPoP binding"

    def __str__(self) -> str:
        return self.jkt


class ApplicationPolicy(models.Model):
    """Per-client DPoP metadata: ``dpop_bound_access_tokens`` (RFC 9449 §5.2)."""

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="dpop_policy",
    )
    dpop_bound_access_tokens = models.BooleanField(
        default=False,
        help_text="Refuse this client's token requests that carry no DPoP proof.",
    )

    class Meta:
        verbose_name = "application DPoP policy"
        verbose_name_plural = "application DPoP policies"

    def __str__(self) -> str:
        return f"dpop_bound_access_tokens={self.dpop_bound_access_tokens}"
