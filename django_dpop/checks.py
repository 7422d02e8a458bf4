"""System checks of the ``DPOP_*`` settings (ids ``django_dpop.E001``...)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    return []
