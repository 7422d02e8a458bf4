from __future__ import annotations

import os
import tempfile

from tests.services import POSTGRES_AVAILABLE, POSTGRES_HOST, POSTGRES_PORT, REDIS_AVAILABLE, REDIS_URL


SECRET_KEY = "django-dpop-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "api.example.com", "server.example.com"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "corsheaders",
    "rest_framework",
    "oauth2_provider",
    "django_dpop",
    "django_dpop.contrib.oauth2_provider",
]

MIDDLEWARE = [
    # Acts only on requests with an Origin matching CORS_ALLOWED_ORIGINS (none here; the browser
    # tests set theirs): the live server's middleware is fixed when it starts.
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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
        "NAME": ":memory:",
        # A file, not shared-cache memory: the concurrency tests' threads then meet SQLite's real
        # locking (one writer at a time, ``database is locked``). One file per run.
        "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"test_django_dpop_{os.getpid()}.sqlite3")},
    }
}
if POSTGRES_AVAILABLE:
    # Used only by the tests marked ``postgres`` (django_db(databases=[..., "postgres"])).
    DATABASES["postgres"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "test",
        "USER": "postgres",
        "HOST": POSTGRES_HOST,
        "PORT": POSTGRES_PORT,
        # One database per run, so that two runs on one machine never drop each other's.
        "TEST": {"NAME": f"test_django_dpop_{os.getpid()}"},
    }

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_AVAILABLE:
    CACHES["redis"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}

OAUTH2_PROVIDER = {
    "OAUTH2_BACKEND_CLASS": "django_dpop.contrib.oauth2_provider.backends.DPoPOAuthLibCore",
    "OAUTH2_VALIDATOR_CLASS": "django_dpop.contrib.oauth2_provider.validators.DPoPOAuth2Validator",
    "PKCE_REQUIRED": False,
    # DOT caches its oauthlib core on each view class; tests change DOT settings per test.
    "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
}

LOGIN_URL = "/accounts/login/"

# django-cors-headers, as DPoP browser clients need it (checks django_dpop.W016, W017).
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "dpop"]
CORS_EXPOSE_HEADERS = ["DPoP-Nonce", "WWW-Authenticate"]
STATIC_URL = "/static/"
