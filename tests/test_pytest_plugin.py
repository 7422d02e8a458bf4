"""The README's test snippet, run unchanged in a new project with only django-dpop's pytest plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent

SETTINGS = """
SECRET_KEY = "plugin-test"
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
ROOT_URLCONF = "urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "oauth2_provider",
    "django_dpop",
    "django_dpop.contrib.oauth2_provider",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
OAUTH2_PROVIDER = {
    "OAUTH2_BACKEND_CLASS": "django_dpop.contrib.oauth2_provider.backends.DPoPOAuthLibCore",
    "OAUTH2_VALIDATOR_CLASS": "django_dpop.contrib.oauth2_provider.validators.DPoPOAuth2Validator",
}
"""

URLS = """
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication


class Me(APIView):
    authentication_classes = [DPoPAuthentication]

    def get(self, request):
        if request.auth is None:
            return Response(status=401)
        return Response({"scope": request.auth.scope, "jkt": request._request.dpop_proof.jkt})


urlpatterns = [path("api/me/", Me.as_view())]
"""


def readme_snippet() -> str:
    """The python block of the README's "Testing your API" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("Testing your API") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "no python block in the README's testing section"
    return match.group(1)


def run_project(tmp_path: Path, test_source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "settings.py").write_text(SETTINGS)
    (tmp_path / "urls.py").write_text(textwrap.dedent(URLS))
    (tmp_path / "pytest.ini").write_text("[pytest]\nDJANGO_SETTINGS_MODULE = settings\npythonpath = .\n")
    (tmp_path / "test_api.py").write_text(test_source)
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_api.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_readme_snippet_passes_in_a_new_project(tmp_path: Path) -> None:
    snippet = readme_snippet()
    assert "dpop_client" in snippet and "import" not in snippet.split("def ")[0].replace("#", "")
    result = run_project(tmp_path, snippet)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_snippet_fails_when_the_api_refuses(tmp_path: Path) -> None:
    """The snippet really exercises the API: unbind the token and the same test fails (401)."""
    snippet = readme_snippet()
    snippet += textwrap.dedent(
        """

        def test_unbound_refused(dpop_client, dpop_application, dpop_user):
            token = dpop_client.obtain_token(dpop_application, user=dpop_user, scope="read")
            token.dpop_binding.delete()
            assert dpop_client.get("/api/me/").status_code == 200
        """
    )
    result = run_project(tmp_path, snippet)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
