"""Serve the SPA's files (``webroot/spa/``) at ``/spa/``: the same files any static server can serve."""

from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from django.views.static import serve


ROOT = Path(__file__).resolve().parent / "webroot" / "spa"


@require_safe
def spa(request: HttpRequest, path: str = "") -> HttpResponse:
    response = serve(request, path or "index.html", document_root=ROOT)
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"  # the redirect back carries ?code=
    return response
