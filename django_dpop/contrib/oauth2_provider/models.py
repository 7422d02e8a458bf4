"""Key bindings (``cnf.jkt``, RFC 9449 §6) of DOT's tokens and codes, and the per-client policy.

Side tables, one-to-one with DOT's (possibly swapped) models and deleted with them: no model
swapping is asked of the host project.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
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
    # RFC 9126 §6 client metadata; the name and the "None defers" meaning are DOT main's.
    require_pushed_authorization_requests = models.BooleanField(
        null=True,
        blank=True,
        default=None,
        help_text="Require this client to use pushed authorization requests (RFC 9126). Leave unset "
        "to defer to OAUTH2_PROVIDER['REQUIRE_PUSHED_AUTHORIZATION_REQUESTS'], which it never relaxes.",
    )

    class Meta:
        verbose_name = "application DPoP policy"
        verbose_name_plural = "application DPoP policies"

    def __str__(self) -> str:
        return f"dpop_bound_access_tokens={self.dpop_bound_access_tokens}"


class PushedAuthorizationRequest(models.Model):
    """A pushed authorization request (RFC 9126 §2): its parameters, until used once or expired.

    Field names are DOT main's ``AbstractPushedAuthorizationRequest`` ones, except that the
    client is a foreign key to the (possibly swapped) Application instead of a ``client_id``
    string, so the request dies with its client. ``request_uri`` is the whole URN.
    """

    request_uri = models.CharField(max_length=255, unique=True)
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
    )
    parameters = models.JSONField(default=dict)
    expires = models.DateTimeField(db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "pushed authorization request"

    def is_expired(self) -> bool:
        return timezone.now() >= self.expires

    def __str__(self) -> str:
        # Never the request_uri itself: it is a bearer secret until used (RFC 9126 §7.1).
        return f"pushed authorization request #{self.pk}"
