"""The protocol core knows no Django (architecture principle 1; issue 2 item 2).

Each module is imported in a fresh interpreter, which then reports whether ``django`` (or any
``django.*`` module) was loaded along the way. Add a module to ``DJANGO_FREE`` to hold it to the
same rule.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


DJANGO_FREE = [
    "django_dpop.core",
    "django_dpop.core.binding",
    "django_dpop.core.challenge",
    "django_dpop.core.errors",
    "django_dpop.core.htu",
    "django_dpop.core.jwk",
    "django_dpop.core.nonces",
    "django_dpop.core.policy",
    "django_dpop.core.proof",
    "django_dpop.core.resource_metadata",
    "django_dpop.core.stores",
]

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(name for name in sys.modules if name == "django" or name.startswith("django."))))
"""


@pytest.mark.parametrize("module", DJANGO_FREE)
def test_module_imports_without_django(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "", "PYTHONPATH": ":".join(sys.path)},  # no DJANGO_SETTINGS_MODULE
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_probe_detects_django() -> None:
    # Control: the same probe does see Django when a module imports it.
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "django.http"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "django" in json.loads(result.stdout)
