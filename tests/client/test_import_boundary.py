"""The client is a plain Python library: it imports without Django (and without httpx/requests)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ""}  # no DJANGO_SETTINGS_MODULE
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=60
    )


def test_client_imports_without_django() -> None:
    result = run_isolated(
        """
        import sys
        import django_dpop.client as client
        from django_dpop.client import DPoPKey, create_proof, dpop_headers, compute_ath, check_token_response
        from django_dpop.client import cli, nonces, tokens
        key = DPoPKey.generate()
        create_proof(key, "GET", "https://rs.example/")
        leaked = sorted(name for name in sys.modules if name == "django" or name.startswith(("django.", "rest_framework", "oauth2_provider")))
        assert not leaked, leaked
        assert "httpx" not in sys.modules and "requests" not in sys.modules, "HTTP libraries are imported on use only"
        from django_dpop.client import DPoPAuth, DPoPRequestsAuth
        leaked = sorted(name for name in sys.modules if name == "django" or name.startswith("django."))
        assert not leaked, leaked
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import django_dpop.client as client

    with pytest.raises(AttributeError, match="NoSuchThing"):
        client.NoSuchThing  # noqa: B018
