from __future__ import annotations

from django.urls import path

from . import views


urlpatterns = [
    path("", views.spa, name="spa"),
    path("<path:path>", views.spa, name="spa-file"),
]
