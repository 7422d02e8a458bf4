"""DPoP for Django REST Framework: ``DPoPAuthentication``."""

from .authentication import DPoPAuthentication


__all__ = ["DPoPAuthentication"]
