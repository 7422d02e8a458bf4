"""The test settings with DOT's access token, refresh token and grant models swapped."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS


INSTALLED_APPS = [*INSTALLED_APPS, "tests.swapped"]
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "swapped.SwappedAccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "swapped.SwappedRefreshToken"
OAUTH2_PROVIDER_GRANT_MODEL = "swapped.SwappedGrant"
# Django resolves swappable dependencies through these names when the swapped models are migrated.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "swapped.SwappedIDToken"
