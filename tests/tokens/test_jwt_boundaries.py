"""The JWT validator belongs to the base app: it imports neither DOT nor DRF (a resource server
verifying JWTs of another authorization server needs neither)."""

from __future__ import annotations

import json
import subprocess
import sys


_PROBE = """
import json, sys
import django_dpop.tokens.jwt, django_dpop.tokens.jwks, django_dpop.tokens.checks
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & {"oauth2_provider", "rest_framework", "oauthlib"})))
"""


def test_jwt_modules_import_neither_dot_nor_drf() -> None:
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
