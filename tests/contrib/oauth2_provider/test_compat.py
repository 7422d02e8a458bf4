"""DOT 4.0 moves modules we import; every such name comes through ``contrib.oauth2_provider.compat``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


PACKAGE = Path(__file__).resolve().parents[3] / "django_dpop"
# DOT modules that stay where they are in DOT's main branch (towards 4.0).
STABLE = {
    "oauth2_provider",
    "oauth2_provider.models",
    "oauth2_provider.settings",
    "oauth2_provider.oauth2_validators",
    "oauth2_provider.contrib.rest_framework",
    "oauth2_provider.admin",
}


def dot_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("oauth2_provider"):
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if alias.name.startswith("oauth2_provider")]
    return names


def test_moving_modules_are_imported_only_in_compat() -> None:
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "compat.py" and path.parent.name == "oauth2_provider":
            continue
        moved = [module for module in dot_imports(path) if module not in STABLE]
        if moved:
            offenders[str(path.relative_to(PACKAGE))] = moved
    assert offenders == {}


def test_compat_imports_without_deprecation_warnings() -> None:
    """Under ``-W error::DeprecationWarning``: nothing we take from DOT is on a deprecated path."""
    code = (
        "import django; from django.conf import settings\n"
        "settings.configure(INSTALLED_APPS=['django.contrib.auth', 'django.contrib.contenttypes', 'oauth2_provider'])\n"
        "django.setup()\n"
        "import django_dpop.contrib.oauth2_provider.compat as compat\n"
        "assert all(getattr(compat, name) for name in compat.__all__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
