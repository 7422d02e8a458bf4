"""Settings of the example project: a DOT authorization server and a DRF API, both speaking DPoP.

For local demonstration only (fixed SECRET_KEY, DEBUG on, SQLite beside this file).
"""

from __future__ import annotations

import os
from pathlib import Path


BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-dpop-example-not-for-production")
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
LOGIN_URL = "/accounts/login/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "oauth2_provider",
    "django_dpop",
    "django_dpop.contrib.oauth2_provider",
    "example_project.spa",  # the SPA at /spa/ and its public client "spa" (a data migration)
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",  # before CommonMiddleware, as django-cors-headers asks
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", str(BASE_DIR / "db.sqlite3")),
    }
}

# django-oauth-toolkit, with the DPoP backend and validator of django_dpop.contrib.oauth2_provider.
OAUTH2_PROVIDER = {
    # django-dpop's backend and validator, plus the SPA's same-origin redirect URI rule.
    "OAUTH2_BACKEND_CLASS": "example_project.spa.oauth.ExampleOAuthLibCore",
    "OAUTH2_VALIDATOR_CLASS": "example_project.spa.oauth.ExampleOAuth2Validator",
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 600,  # RFC 9449 §11.2: short-lived DPoP access tokens + refresh tokens
    "SCOPES": {"read": "Read", "write": "Write"},
    "DEFAULT_SCOPES": ["read"],
}

# Django REST Framework: DPoP first, so that its challenge is the one DRF sends with a 401.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["django_dpop.contrib.rest_framework.DPoPAuthentication"],
}

# django-dpop (every DPOP_* setting is described in the README's settings reference).
DPOP_NONCE_REQUIRED = os.environ.get("DPOP_NONCE_REQUIRED", "") == "1"
# /api/me/ is a DPoP-only API: unbound Bearer tokens are refused there too.
DPOP_ALLOW_BEARER_TOKENS = False

# CORS (django-cors-headers) for the SPA served from another origin (docs/browser-clients.md):
# proofs travel in the DPoP request header, and the SPA must read DPoP-Nonce and WWW-Authenticate
# to follow use_dpop_nonce (checks django_dpop.W016, W017). No cookies cross origins.
CORS_ALLOWED_ORIGINS = os.environ.get(
    "EXAMPLE_CORS_ORIGINS", "http://127.0.0.1:8001 http://localhost:8001"
).split()
CORS_URLS_REGEX = r"^/(o/token/|o/revoke_token/|api/|\.well-known/)"
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "dpop"]
CORS_EXPOSE_HEADERS = ["DPoP-Nonce", "WWW-Authenticate"]
CORS_ALLOW_CREDENTIALS = False

# Token sources of /api/me/: DOT's own tokens first, then (from the environment) the JWT access
# tokens of another issuer and RFC 7662 introspection of tokens DOT does not know.
_demo_validators = ["django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator"]

# JWT access tokens (docs/jwt-access-tokens-from-dot.md). DPOP_DEMO_JWT_ACCESS_TOKENS=1: this
# authorization server issues RFC 9068 JWT access tokens (refresh tokens stay opaque), signed by
# DOT's OpenID Connect key and published at /o/.well-known/jwks.json.
if os.environ.get("DPOP_DEMO_JWT_ACCESS_TOKENS") == "1":
    from example_project.demo_keys import demo_rsa_private_key

    OAUTH2_PROVIDER.update(
        {
            "ACCESS_TOKEN_GENERATOR": "django_dpop.contrib.oauth2_provider.jwt_tokens.generate_access_token",
            "REFRESH_TOKEN_GENERATOR": "django_dpop.contrib.oauth2_provider.jwt_tokens.generate_refresh_token",
            "OIDC_ENABLED": True,
            "OIDC_RSA_PRIVATE_KEY": demo_rsa_private_key(
                os.environ.get("DPOP_DEMO_OIDC_KEY_FILE", str(BASE_DIR / "demo-oidc-key.pem"))
            ),
        }
    )
    if os.environ.get("DPOP_DEMO_OIDC_ISS_ENDPOINT"):
        OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"] = os.environ["DPOP_DEMO_OIDC_ISS_ENDPOINT"]
    DPOP_JWT_ACCESS_TOKEN_AUDIENCE = os.environ.get(
        "DPOP_DEMO_ACCESS_TOKEN_AUDIENCE", "http://127.0.0.1:8000/api/"
    )

# DPOP_DEMO_JWT_ISSUER: /api/me/ also accepts DPoP-bound JWT access tokens of that issuer, verified
# locally against its JWKS (DPOP_DEMO_JWKS_URI, else discovery), after DOT's own tokens.
if os.environ.get("DPOP_DEMO_JWT_ISSUER"):
    _jwt_issuer: dict[str, object] = {"issuer": os.environ["DPOP_DEMO_JWT_ISSUER"], "algorithms": ["RS256"]}
    if os.environ.get("DPOP_DEMO_JWKS_URI"):
        _jwt_issuer["jwks_uri"] = os.environ["DPOP_DEMO_JWKS_URI"]
    else:
        _jwt_issuer["discovery"] = True
    DPOP_JWT_ISSUERS = [_jwt_issuer]
    DPOP_JWT_AUDIENCE = os.environ.get("DPOP_DEMO_AUDIENCE", "http://127.0.0.1:8000/api/")
    _demo_validators.append("django_dpop.tokens.jwt.JWTTokenValidator")
    DPOP_JWKS_ALLOW_HTTP = os.environ.get("DPOP_DEMO_JWKS_ALLOW_HTTP") == "1"  # local demo only
    DPOP_JWKS_CACHE_SECONDS = int(os.environ.get("DPOP_DEMO_JWKS_CACHE_SECONDS", "300"))

# RFC 7662 introspection (docs/introspection.md): with DPOP_DEMO_INTROSPECTION_URL, /api/me/ also
# accepts tokens DOT does not know, validated at that authorization server (after DOT's validator).
if os.environ.get("DPOP_DEMO_INTROSPECTION_URL"):
    _demo_validators.append("django_dpop.tokens.introspection.IntrospectionTokenValidator")
    DPOP_INTROSPECTION_URL = os.environ["DPOP_DEMO_INTROSPECTION_URL"]
    DPOP_INTROSPECTION_CLIENT_ID = os.environ.get("DPOP_DEMO_INTROSPECTION_CLIENT_ID")
    DPOP_INTROSPECTION_CLIENT_SECRET = os.environ.get("DPOP_DEMO_INTROSPECTION_CLIENT_SECRET")
    DPOP_INTROSPECTION_ALLOW_HTTP = DPOP_INTROSPECTION_URL.startswith("http://")  # local demo only

if len(_demo_validators) > 1:  # otherwise the default (DOT's validator) applies
    DPOP_TOKEN_VALIDATORS = _demo_validators
