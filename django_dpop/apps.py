from __future__ import annotations

from django.apps import AppConfig
from django.core.checks import Tags, register


class DjangoDPoPConfig(AppConfig):
    name = "django_dpop"
    verbose_name = "DPoP (RFC 9449)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .checks import check_replay_cache_server, check_settings
        from .resource_checks import check_resource_settings
        from .token_checks import check_token_validators
        from .tokens.checks import check_jwt_settings
        from .wiring import check_dot_helper_installed

        register(Tags.security)(check_settings)
        register(Tags.security)(check_token_validators)
        register(Tags.security)(check_jwt_settings)
        register()(check_dot_helper_installed)
        register(Tags.security)(check_resource_settings)
        register(Tags.security, Tags.caches, deploy=True)(check_replay_cache_server)
