from __future__ import annotations

from django.apps import AppConfig


class SpaConfig(AppConfig):
    name = "example_project.spa"
    label = "example_spa"
    verbose_name = "Example single-page app"
