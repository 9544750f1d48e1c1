"""Settings, read once from the environment.

Defaults give a working development server with nothing installed: SQLite and an embedded
filesystem Celery broker under the data directory, and a secret key generated on first start and
kept there (never a constant in git). Production sets ``DATABASE_URL`` (PostgreSQL through
psycopg 3), ``CELERY_BROKER_URL`` (Redis), ``SECRET_KEY`` and ``ALLOWED_HOSTS``; with
``DEBUG`` off a missing ``SECRET_KEY`` or ``ALLOWED_HOSTS`` fails loudly instead of guessing.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file next to manage.py is honoured for local convenience; the real environment wins.
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("UTILITARIAN_DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("UTILITARIAN_TESTING", default=False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, or one generated once and kept in the data directory."""
    value = env.str("SECRET_KEY", default="")
    if value:
        return value
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "utilitarian",
    "meters",
    "amr",
    "gateway",
    "powerbox",
    "pie",
    "push",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Binds a correlation id to every log record of the request (utilitarian/logging.py).
    "utilitarian.logging.RequestLogContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "utilitarian.urls"
# Every API path answers with and without its trailing slash itself; no redirects.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "utilitarian" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "utilitarian.wsgi.application"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (API, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
if env.str("DATABASE_TEST_NAME", default=""):
    # Lets parallel test runs on one PostgreSQL server use separate test databases.
    DATABASES["default"]["TEST"] = {"NAME": env.str("DATABASE_TEST_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "utilitarian.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- Security flags (the spec README lists them) ---------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("USE_X_FORWARDED_PROTO", default=False) else None
)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

CORS_ALLOWED_ORIGINS = env.list("CORS_WHITELIST", default=[])

HEALTHCHECK_DISABLED = env.bool("HEALTHCHECK_DISABLED", default=False)

# Key for encrypting meter key material at rest (Fernet). Derived from SECRET_KEY when unset, so
# development works out of the box; production should set its own and keep it out of the database.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")

DATA_RETENTION_DAYS = (
    env.int("DATA_RETENTION_DAYS", default=None) if env.str("DATA_RETENTION_DAYS", default="") else None
)
STAGED_DATA_RETENTION_DAYS = env.int("STAGED_DATA_RETENTION_DAYS", default=30)
# Settled DLMS push frames (their readings are kept by DATA_RETENTION_DAYS); "keep" keeps them.
PUSH_FRAME_RETENTION_DAYS = (
    None
    if env.str("PUSH_FRAME_RETENTION_DAYS", default="30").lower() == "keep"
    else env.int("PUSH_FRAME_RETENTION_DAYS", default=30)
)

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "utilitarian.auth.StaffTokenAuthentication",
        "utilitarian.auth.OrganizationJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["utilitarian.permissions.TenantPermission"],
    "DEFAULT_PAGINATION_CLASS": "utilitarian.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "utilitarian.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_LIFETIME_MINUTES", default=60)),
    "AUTH_HEADER_TYPES": ("JWT", "Bearer"),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "SIGNING_KEY": SECRET_KEY,
    "ALGORITHM": "HS256",
    "UPDATE_LAST_LOGIN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Utilitarian API",
    "DESCRIPTION": "Open AMR platform: organizations, meter devices, readings and AMR tasks.",
    "VERSION": "1.3.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several apps have a field called "state"; name each choice set after what it is.
    "ENUM_NAME_OVERRIDES": {
        "AmrJobStateEnum": "amr.models.JobState",
        "BindStateEnum": "powerbox.models.BindState",
        "EsnStateEnum": "gateway.models.EsnState",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

# --- Celery ----------------------------------------------------------------------------------
# The embedded default is kombu's filesystem transport: messages are files under the data
# directory, so a worker and beat run with no broker server installed. Redis in production.
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange tables (and the worker's remote-control pidbox) stay under the data
        # directory too; kombu's default is ./control in whatever directory the process runs.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "utilitarian.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "text"}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

if not DEBUG and not TESTING and os.environ.get("UTILITARIAN_REQUIRE_PRODUCTION_SETTINGS") == "1":
    missing = [name for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL") if not os.environ.get(name)]
    if missing:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"production settings missing: {', '.join(missing)}")

if TESTING:
    # Hashing cost is irrelevant to what the tests check and dominates their run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- AMR ---------------------------------------------------------------------------------------
# A network-interface block is a lease: it lapses after this long, so a dead worker cannot keep
# an interface blocked. Keep AMR_JOB_SOFT_TIME_LIMIT_SECONDS below it.
AMR_BLOCK_LEASE_SECONDS = env.int("AMR_BLOCK_LEASE_SECONDS", default=600)
AMR_JOB_SOFT_TIME_LIMIT_SECONDS = env.int("AMR_JOB_SOFT_TIME_LIMIT_SECONDS", default=540)
AMR_JOB_MAX_RETRIES = env.int("AMR_JOB_MAX_RETRIES", default=3)
AMR_RETRY_BACKOFF_SECONDS = env.float("AMR_RETRY_BACKOFF_SECONDS", default=30)
AMR_RETRY_BACKOFF_MAX_SECONDS = env.float("AMR_RETRY_BACKOFF_MAX_SECONDS", default=900)
AMR_BLOCK_WAIT_SECONDS = env.float("AMR_BLOCK_WAIT_SECONDS", default=5)
AMR_BUSY_RETRY_SECONDS = env.float("AMR_BUSY_RETRY_SECONDS", default=15)
AMR_BUSY_MAX_WAITS = env.int("AMR_BUSY_MAX_WAITS", default=30)
AMR_METER_TIMEOUT_SECONDS = env.float("AMR_METER_TIMEOUT_SECONDS", default=10)
AMR_SCHEDULE_CATCH_UP_SECONDS = env.int("AMR_SCHEDULE_CATCH_UP_SECONDS", default=6 * 3600)
AMR_TICK_SECONDS = env.int("AMR_TICK_SECONDS", default=60)
