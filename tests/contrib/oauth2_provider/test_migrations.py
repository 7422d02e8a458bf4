"""The DOT app's migrations match its models, with DOT's default models and with swapped ones."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command


ROOT = Path(__file__).resolve().parents[3]

SWAPPED_SCRIPT = textwrap.dedent(
    """
    import django
    from django.core.management import call_command

    django.setup()
    call_command("makemigrations", "django_dpop_oauth2", "swapped", check=True, dry_run=True, verbosity=0)
    call_command("migrate", verbosity=0)

    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding, GrantBinding, RefreshTokenBinding

    for binding, label in [
        (AccessTokenBinding, "swapped.SwappedAccessToken"),
        (RefreshTokenBinding, "swapped.SwappedRefreshToken"),
        (GrantBinding, "swapped.SwappedGrant"),
    ]:
        target = binding._meta.pk.related_model._meta.label
        assert target == label, (binding, target)

    token = get_access_token_model().objects.create(token="t", expires=timezone.now() + timedelta(hours=1))
    AccessTokenBinding.objects.create(access_token=token, jkt="a" * 43)
    assert get_access_token_model().objects.select_related("dpop_binding").get().dpop_binding.jkt == "a" * 43
    token.delete()
    assert not AccessTokenBinding.objects.exists()
    print("swapped ok")
    """
)


@pytest.mark.django_db
def test_no_missing_migrations_with_default_models() -> None:
    out = StringIO()
    call_command("makemigrations", "django_dpop_oauth2", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


def test_swapped_models_migrate() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_swapped"}
    result = subprocess.run(
        [sys.executable, "-c", SWAPPED_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "swapped ok" in result.stdout
