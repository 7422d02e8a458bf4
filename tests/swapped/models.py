"""A project that swaps DOT's token and grant models (for the migration check of the DOT app)."""

from __future__ import annotations

from django.db import models
from oauth2_provider.models import AbstractAccessToken, AbstractGrant, AbstractIDToken, AbstractRefreshToken


class SwappedAccessToken(AbstractAccessToken):
    note = models.CharField(max_length=20, blank=True)


class SwappedRefreshToken(AbstractRefreshToken):
    note = models.CharField(max_length=20, blank=True)


class SwappedGrant(AbstractGrant):
    note = models.CharField(max_length=20, blank=True)


class SwappedIDToken(AbstractIDToken):
    note = models.CharField(max_length=20, blank=True)
