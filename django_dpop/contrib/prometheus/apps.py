from __future__ import annotations

from django.apps import AppConfig


class DPoPPrometheusConfig(AppConfig):
    """``INSTALLED_APPS`` entry: the DPoP metrics on prometheus-client's default registry."""

    name = "django_dpop.contrib.prometheus"
    label = "django_dpop_prometheus"
    verbose_name = "DPoP Prometheus metrics"

    def ready(self) -> None:
        from .metrics import install

        install()
