"""A URLconf where something other than our view answers DOT main's PAR URL name (check W006)."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import include, path


def dot_par(request: object) -> HttpResponse:  # stands in for DOT main's own PAR view
    return HttpResponse(status=201)


dot_patterns = ([path("par/", dot_par, name="pushed-authorization-request")], "oauth2_provider")

# DOT's URLs first: its PAR view wins over ours at the same path.
urlpatterns = [
    path("o/", include(dot_patterns, namespace="oauth2_provider")),
    path("o/", include("django_dpop.contrib.oauth2_provider.urls")),
]
