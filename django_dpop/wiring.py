"""System checks of the installation: the DOT helper configured but its app not installed.

``django_dpop.contrib.oauth2_provider`` registers its own checks from its ``ready()``, so none of
them runs when that app is missing from ``INSTALLED_APPS``, while the DOT backend or validator,
or its token validator (``DPOP_TOKEN_VALIDATORS``) are configured: requests then fail with a 500 (its
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


class WiringCodes:
    DOT_CLASSES_WITHOUT_APP = "django_dpop.E045"
    DOT_VALIDATOR_WITHOUT_APP = "django_dpop.E046"


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
    """Refuse the DOT helper's backend, validator or token validator without its app (E045, E046).

    DRF's ``DPoPAuthentication`` alone needs no DOT (any ``DPOP_TOKEN_VALIDATORS`` will do);
    without validators ``django_dpop.E016`` says so.
    """
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
    validators = getattr(settings, "DPOP_TOKEN_VALIDATORS", None)
    entries = validators if isinstance(validators, list | tuple) else ()
    for entry in entries:
        value = entry if isinstance(entry, str | type) else type(entry)
        if _is_ours(value, _DOT_HELPER):
            messages.append(
                Error(
                    f"DPOP_TOKEN_VALIDATORS lists {entry!r}, a validator of DOT's tokens, but "
                    f"'{DOT_HELPER_APP}' is not in INSTALLED_APPS.",
                    hint=_HINT,
                    id=WiringCodes.DOT_VALIDATOR_WITHOUT_APP,
                )
            )
    return messages
