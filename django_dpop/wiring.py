"""System checks of the installation: the DOT helper configured but its app not installed.

``django_dpop.contrib.oauth2_provider`` registers its own checks from its ``ready()``, so none of
them runs when that app is missing from ``INSTALLED_APPS``, while the DOT backend or validator,
or DRF's ``DPoPAuthentication`` are configured: requests then fail with a 500 (its
models are not registered) and ``makemigrations`` offers to write into site-packages. These
checks run from the base app instead. They recognise the helper by module name only (the base
app never imports a contrib): a host's subclass counts through its MRO.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.utils.module_loading import import_string


DOT_HELPER_APP = "django_dpop.contrib.oauth2_provider"
_DOT_HELPER = "django_dpop.contrib.oauth2_provider."
_DRF_HELPER = "django_dpop.contrib.rest_framework"


class WiringCodes:
    DOT_CLASSES_WITHOUT_APP = "django_dpop.E045"
    DRF_CLASS_WITHOUT_APP = "django_dpop.E046"


_HINT = (
    f"Add '{DOT_HELPER_APP}' to INSTALLED_APPS (after 'oauth2_provider' and 'django_dpop') and run "
    "'manage.py migrate': it holds the key bindings of DOT's tokens and codes."
)


def _modules(value: Any) -> list[str]:
    """The modules of ``value``'s class hierarchy; ``value`` a class or a dotted path."""
    names = [value] if isinstance(value, str) else []
    cls = value
    if isinstance(value, str):
        try:
            cls = import_string(value)
        except Exception as exc:  # noqa: BLE001 - DOT and DRF report their own import errors
            # A host's class importing the helper fails on the helper's unregistered models.
            return [*names, *(word.strip("'\".,") for word in str(exc).split())]
    names.extend(getattr(klass, "__module__", "") for klass in getattr(cls, "__mro__", ()))
    return names


def _is_ours(value: Any, prefix: str) -> bool:
    return any(name == prefix.rstrip(".") or name.startswith(prefix) for name in _modules(value))


def check_dot_helper_installed(**kwargs: Any) -> list[CheckMessage]:
    """Refuse the DOT helper's classes or DRF class without its app (django_dpop.E045, E046)."""
    if apps.is_installed(DOT_HELPER_APP):
        return []
    messages: list[CheckMessage] = []
    dot = getattr(settings, "OAUTH2_PROVIDER", None)
    if isinstance(dot, dict):
        for name in ("OAUTH2_BACKEND_CLASS", "OAUTH2_VALIDATOR_CLASS"):
            if name in dot and _is_ours(dot[name], _DOT_HELPER):
                messages.append(
                    Error(
                        f"OAUTH2_PROVIDER['{name}'] uses the DPoP helper for DOT, but '{DOT_HELPER_APP}' "
                        "is not in INSTALLED_APPS.",
                        hint=_HINT,
                        id=WiringCodes.DOT_CLASSES_WITHOUT_APP,
                    )
                )
    drf = getattr(settings, "REST_FRAMEWORK", None)
    classes = drf.get("DEFAULT_AUTHENTICATION_CLASSES", ()) if isinstance(drf, dict) else ()
    if isinstance(classes, list | tuple) and any(
        _is_ours(value, _DRF_HELPER) or _is_ours(value, _DOT_HELPER) for value in classes
    ):
        messages.append(
            Error(
                "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] lists DPoPAuthentication, but "
                f"'{DOT_HELPER_APP}' is not in INSTALLED_APPS.",
                hint=_HINT,
                id=WiringCodes.DRF_CLASS_WITHOUT_APP,
            )
        )
    return messages
