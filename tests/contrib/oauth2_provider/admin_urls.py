"""The test URLconf plus the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from tests.urls import urlpatterns as base_urlpatterns


urlpatterns = [path("admin/", admin.site.urls), *base_urlpatterns]
