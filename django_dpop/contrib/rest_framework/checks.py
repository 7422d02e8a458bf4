"""System check of the DRF settings (id ``django_dpop_oauth2.W002``).

DRF takes the ``WWW-Authenticate`` challenge of a 401 from the *first* authentication class only
(``APIView.get_authenticate_header``), and answers 403 when that class has none. With
``DPoPAuthentication`` listed after another class, a refused or missing DPoP credential gets that
class's challenge (``Bearer`` from DOT's ``OAuth2Authentication``, none and so 403 from
``SessionAuthentication``) instead of ``DPoP algs=...`` (RFC 9449 §7.1): clients cannot learn that
DPoP is expected, nor the ``error`` to act on.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning


DEFAULT_NOT_FIRST = "django_dpop_oauth2.W002"
NOT_DOT_AUTHENTICATION = "django_dpop.W005"


def check_dot_base(**kwargs: Any) -> list[CheckMessage]:
    """Warn when DOT is installed but ``DPoPAuthentication`` is no ``OAuth2Authentication``.

    It becomes one only when imported after the app registry is ready (``_base_class``); imported
    earlier (from a settings module, an ``AppConfig`` module), it is a plain DRF class, and DOT's
    ``IsAuthenticatedOrTokenHasScope`` then skips the scope check of DPoP-authenticated users.
    """
    from oauth2_provider.contrib.rest_framework import OAuth2Authentication

    from .authentication import DPoPAuthentication

    if issubclass(DPoPAuthentication, OAuth2Authentication):
        return []
    return [
        Warning(
            "django_dpop.contrib.rest_framework.DPoPAuthentication was imported before the app "
            "registry was ready, so it is not a subclass of DOT's OAuth2Authentication.",
            hint="Do not import it from settings or AppConfig modules (DRF's settings take its "
            "dotted path). Otherwise DOT's IsAuthenticatedOrTokenHasScope skips the scope check "
            "of DPoP-authenticated users; HasDPoPScope does not depend on this.",
            id=NOT_DOT_AUTHENTICATION,
        )
    ]


def check_default_authentication_classes(**kwargs: Any) -> list[CheckMessage]:
    """Warn when ``DPoPAuthentication`` is in ``DEFAULT_AUTHENTICATION_CLASSES`` but not first."""
    from rest_framework.settings import api_settings

    from .authentication import DPoPAuthentication

    try:
        classes = list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    except ImportError:
        return []  # DRF's own import error of the dotted path; DRF reports it on first use
    dpop = [cls for cls in classes if isinstance(cls, type) and issubclass(cls, DPoPAuthentication)]
    if not dpop or classes[0] is dpop[0]:
        return []
    first = classes[0]
    return [
        Warning(
            "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] lists "
            f"{dpop[0].__module__}.{dpop[0].__qualname__} after "
            f"{first.__module__}.{first.__qualname__}.",
            hint="Put DPoPAuthentication first: DRF asks only the first class for the "
            "WWW-Authenticate challenge, so refused DPoP requests get another scheme's challenge "
            "or a 403 instead of a 401 with 'DPoP algs=...' (RFC 9449 §7.1). DPoPAuthentication "
            "returns None for other schemes, so the classes after it still run.",
            id=DEFAULT_NOT_FIRST,
        )
    ]
