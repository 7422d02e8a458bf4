"""Read-only admin lists of the DPoP state, for looking, not editing.

Rows are written by the stores and purged by ``dpop_clear_expired``: adding or editing one by
hand could only break replay detection or nonce agreement, so the admin offers neither.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import SeenProof, ServerNonce


class _ReadOnlyAdmin(admin.ModelAdmin):
    # The seen-proof table can be large: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SeenProof)
class SeenProofAdmin(_ReadOnlyAdmin):
    list_display = ("key", "expires_at")
    search_fields = ("=key",)
    ordering = ("-expires_at",)


@admin.register(ServerNonce)
class ServerNonceAdmin(_ReadOnlyAdmin):
    list_display = ("purpose", "step", "expires_at")
    list_filter = ("purpose",)
    ordering = ("-step",)
