"""The resource side without django-oauth-toolkit (issue 8): DOT is one token source, not a need.

A fresh interpreter in which importing any ``oauth2_provider`` module raises ImportError (a
meta-path finder), with settings listing django_dpop and DRF only and a static validator from
this test package, serves a DRF view and a decorated view through DPoPAPIClient.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


_SCRIPT = r"""
import importlib.abc, json, os, sys

BLOCKED = []

class NoDOT(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "oauth2_provider" or name.startswith("oauth2_provider."):
            BLOCKED.append(name)
            raise ImportError(f"{name} is not importable in this test")
        return None

sys.meta_path.insert(0, NoDOT())

from django_dpop.client import DPoPKey
key = DPoPKey.generate()
os.environ["DPOP_TEST_JKT"] = key.thumbprint

import django
django.setup()
import django_dpop.resource  # noqa: F401
after_resource = sorted(name for name in sys.modules if name.split(".")[0] == "oauth2_provider")

from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django.core.checks import run_checks
from django_dpop.test import DPoPAPIClient
from django_dpop.contrib.rest_framework import DPoPAuthentication

result = {"after_resource": after_resource, "checks": [m.id for m in run_checks()]}
good = DPoPAPIClient(key=key)
good.credentials("good-token")
wrong_key = DPoPAPIClient()
wrong_key.credentials("good-token")
unknown = DPoPAPIClient(key=key)
unknown.credentials("unknown-token")
for path in ("/drf/", "/plain/"):
    ok = good.get(path)
    result[path] = {
        "ok": [ok.status_code, ok.json()],
        "no_proof": good.get(path, HTTP_DPOP="not-a-proof").status_code,
        "wrong_key": wrong_key.get(path).status_code,
        "unknown": unknown.get(path).status_code,
        "challenge": unknown.get(path).headers.get("WWW-Authenticate"),
    }
try:
    good.obtain_token()
except Exception as exc:
    result["obtain_token"] = type(exc).__name__
result["bases"] = [cls.__name__ for cls in DPoPAuthentication.__mro__]
result["blocked"] = BLOCKED
result["loaded"] = sorted(name for name in sys.modules if name.split(".")[0] == "oauth2_provider")
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def run() -> dict:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": ":".join(sys.path),
        "DJANGO_SETTINGS_MODULE": "tests.seam.settings_no_dot",
    }
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_resource_module_imports_no_dot(run):
    assert run["after_resource"] == []
    assert run["loaded"] == []
    assert run["blocked"] == []  # not even tried (and caught)


@pytest.mark.parametrize("path", ["/drf/", "/plain/"])
def test_valid_dpop_request_is_served_without_dot(run, path):
    assert run[path]["ok"][0] == 200
    assert run[path]["ok"][1]["sub"] == "alice"


@pytest.mark.parametrize("path", ["/drf/", "/plain/"])
def test_bad_requests_are_refused_without_dot(run, path):
    assert run[path]["no_proof"] == 401
    assert run[path]["wrong_key"] == 401
    assert run[path]["unknown"] == 401
    assert run[path]["challenge"].startswith('DPoP error="invalid_token"')


def test_drf_authentication_is_drf_only(run):
    assert run["bases"][1] == "BaseAuthentication"
    assert "OAuth2Authentication" not in run["bases"]


def test_no_system_check_fires(run):
    assert run["checks"] == []


def test_obtain_token_says_no_validator_can_create_tokens(run):
    assert run["obtain_token"] == "ImproperlyConfigured"


def test_the_finder_does_block_dot():
    # Control: the same finder makes importing DOT fail, so the tests above can fail.
    script = _SCRIPT.split("from django_dpop.client")[0] + "import oauth2_provider.models\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "oauth2_provider is not importable" in result.stderr
