"""Every name this package takes from django-oauth-toolkit modules that DOT 4.0 moves, in one place.

DOT's main branch (towards 4.0) moved ``oauth2_backends``, ``views``, ``forms``, ``compat``,
``exceptions`` and ``utils`` into ``oauth2_provider.core`` and
``oauth2_provider.authorization_server`` (the old modules warn, then go in 4.0). Each name is
imported from its new home when that exists, else from where DOT 3.4 keeps it, so a DOT upgrade
is a change to this file alone. Modules DOT keeps where they are (``models``, ``settings``,
``oauth2_validators``, ``contrib.rest_framework``) are imported directly.
"""

from __future__ import annotations


# ruff: noqa: F401

try:  # DOT 4.0 layout
    from oauth2_provider.core.backends_oauthlib import OAuthLibCore, get_oauthlib_core
    from oauth2_provider.core.compat import login_not_required
    from oauth2_provider.core.exceptions import FatalClientError, OAuthToolkitError
    from oauth2_provider.core.utils import get_timezone, jwk_from_pem
except ImportError:  # DOT 3.4
    from oauth2_provider.compat import login_not_required
    from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
    from oauth2_provider.oauth2_backends import OAuthLibCore, get_oauthlib_core
    from oauth2_provider.utils import get_timezone, jwk_from_pem

try:  # DOT 4.0 layout
    from oauth2_provider.authorization_server.forms import AllowForm
    from oauth2_provider.authorization_server.oidc.views import (
        ConnectDiscoveryInfoView,
        JwksInfoView,
        UserInfoView,
    )
    from oauth2_provider.authorization_server.views.base import AuthorizationView, TokenView
    from oauth2_provider.authorization_server.views.device import DeviceAuthorizationView
    from oauth2_provider.authorization_server.views.introspect import IntrospectTokenView
    from oauth2_provider.authorization_server.views.metadata import OAuthServerMetadataView

    # The authorization-server half of DOT 3.4's OAuthLibMixin (the combined one warns in 4.0).
    from oauth2_provider.authorization_server.views.mixins import (
        AuthorizationServerViewMixin as OAuthLibMixin,
    )
    from oauth2_provider.resource_server.views.generic import ProtectedResourceView
    from oauth2_provider.resource_server.views.metadata import OAuthProtectedResourceMetadataView
except ImportError:  # DOT 3.4
    from oauth2_provider.forms import AllowForm
    from oauth2_provider.views import (
        AuthorizationView,
        ConnectDiscoveryInfoView,
        DeviceAuthorizationView,
        IntrospectTokenView,
        JwksInfoView,
        OAuthProtectedResourceMetadataView,
        OAuthServerMetadataView,
        ProtectedResourceView,
        TokenView,
        UserInfoView,
    )
    from oauth2_provider.views.mixins import OAuthLibMixin

__all__ = [
    "AllowForm",
    "FatalClientError",
    "OAuthLibMixin",
    "OAuthProtectedResourceMetadataView",
    "ProtectedResourceView",
    "jwk_from_pem",
    "AuthorizationView",
    "ConnectDiscoveryInfoView",
    "DeviceAuthorizationView",
    "IntrospectTokenView",
    "JwksInfoView",
    "OAuthLibCore",
    "OAuthServerMetadataView",
    "OAuthToolkitError",
    "TokenView",
    "UserInfoView",
    "get_oauthlib_core",
    "get_timezone",
    "login_not_required",
]
