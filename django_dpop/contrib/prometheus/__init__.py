"""Prometheus metrics of DPoP proof checks (``pip install django-dpop[prometheus]``).

A thin adapter over :mod:`django_dpop.signals`: call :func:`install` once (for example in an
``AppConfig.ready``), or add ``"django_dpop.contrib.prometheus"`` to ``INSTALLED_APPS``, which
installs it on the default registry. docs/observability.md lists the metrics.
"""

from .metrics import DPoPMetrics, install, uninstall


__all__ = ["DPoPMetrics", "install", "uninstall"]
