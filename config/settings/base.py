"""Settings shared by every environment. Everything an operator sets comes from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from config.services import resolve_urls

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def _connection_settings(query: dict[str, str]) -> dict[str, object]:
    """A pool in the web process: under ASGI every request runs in its own thread, and per-thread
    persistent connections exhausted max_connections under load (bench/api). Celery's prefork
    workers must not pool: a pooled connection survives `close()`, so forked children would share
    the parent's sockets. The launcher starts them with DATABASE_POOL_SIZE=0."""
    size = int(os.environ.get("DATABASE_POOL_SIZE", "20"))
    if size <= 0:
        return {"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True, "OPTIONS": query}
    # A few connections from the start: grown one at a time under a first burst of requests, the
    # pool made the first second of load queue for connections (docs/PERFORMANCE.md, REST API).
    pool = {"min_size": min(4, size), "max_size": size, "timeout": 30}
    return {"CONN_MAX_AGE": 0, "OPTIONS": {**query, "pool": pool}}


def database_from_url(url: str) -> dict[str, object]:
    """`postgresql://user:pass@host:port/name?sslmode=...` (or `?host=/socket/dir`) to Django's dict."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError("DATABASE_URL must be a postgresql:// URL: Satchel runs on PostgreSQL only")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = query.pop("host", None) or unquote(parts.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "satchel",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        **_connection_settings(query),
    }


SERVICE_URLS = resolve_urls()
DATABASE_URL = SERVICE_URLS.database_url
REDIS_URL = SERVICE_URLS.redis_url

SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    # django.contrib.admin with a staff site that requires 2FA (compliance/admin_site.py).
    "compliance.admin_config.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "accounts",
    "exchange",
    "lending",
    "compliance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: every middleware above runs synchronously in the request's one worker thread, instead
    # of switching threads around each hook (core/api_middleware.py).
    "core.api_middleware.SyncMiddlewareChain",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns at start-up when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("SATCHEL_DATA_DIR") or BASE_DIR / "var") / "media"
WHITENOISE_USE_FINDERS = True

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

CHANNEL_LAYERS = {
    "default": {
        # Pub/sub: a group message reaches each web process once and is handed to its sockets in
        # memory; the list-based layer stores and pops it once per socket (docs/PERFORMANCE.md,
        # "WebSocket fan-out"). Delivery is at most once either way: consumers close a socket on
        # a depth gap, and clients resync.
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            # redis-py reads with a 5 s socket timeout by default, exactly channels_redis' 5 s
            # blocking receive: idle sockets would die every 5 s (channels_redis issue 422).
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "capacity": 1000,
        },
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.BackpackSignatureAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.DecimalJSONParser"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Satchel API (Backpack Exchange v1 compatible)",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "market-sweep": {"task": "exchange.tasks.market_sweep", "schedule": 2.0},
    "withdrawal-sweep": {"task": "exchange.withdrawal_sweep", "schedule": 15.0},
    # Periodic KYC re-review by risk (accounts.tasks): review dates are days apart, hourly is plenty.
    "kyc-review-sweep": {"task": "accounts.tasks.kyc_review_sweep", "schedule": 3600.0},
}
# Task modules that autodiscovery (which looks for `tasks.py` only) would miss.
CELERY_IMPORTS = ["exchange.tasks_custody"]

# Backpack signs requests with a window of at most 60 s; 5 s is the clients' default.
API_SIGNATURE_MAX_WINDOW_MS = 60_000
API_SIGNATURE_DEFAULT_WINDOW_MS = 5_000

# The simulated chain credits deposits after this many confirmations (demo and tests).
DEMO_CHAIN_CONFIRMATIONS = int(os.environ.get("DEMO_CHAIN_CONFIRMATIONS", "1"))
# The wallet page's "simulate a deposit" form (the simulated chain sends to the user's own deposit
# address). Demo and tests only: production forces it off.
DEMO_DEPOSITS_ENABLED = env_bool("DEMO_DEPOSITS_ENABLED", False)

# Custody and compliance controls (issue 5). Amounts are Decimal from their text, never floats.
# Above this EUR value a withdrawal waits for two different officers (exchange/services/withdrawals.py).
WITHDRAWAL_FOUR_EYES_THRESHOLD_EUR = Decimal(os.environ.get("WITHDRAWAL_FOUR_EYES_THRESHOLD_EUR", "10000"))
# A new address-book entry becomes usable after this long (exchange/services/withdrawal_addresses.py).
WITHDRAWAL_ADDRESS_WAITING_PERIOD = timedelta(
    seconds=int(os.environ.get("WITHDRAWAL_ADDRESS_WAITING_SECONDS", str(24 * 3600)))
)
# EUR per USD for limits and thresholds; USD stablecoins count at this rate (exchange/services/valuation.py).
VALUATION_EUR_USD_RATE = Decimal(os.environ.get("VALUATION_EUR_USD_RATE", "1.08"))
# Largest KYC document upload (accounts/services/kyc_checks.py).
KYC_DOCUMENT_MAX_BYTES = int(os.environ.get("KYC_DOCUMENT_MAX_BYTES", str(10 * 1024 * 1024)))
# The originating provider in travel-rule (IVMS101) records.
SATCHEL_LEGAL_NAME = os.environ.get("SATCHEL_LEGAL_NAME", "Satchel")
SATCHEL_LEI = os.environ.get("SATCHEL_LEI", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Trading defaults until fee tiers exist (issue 3): Backpack's public base tier, as fractions.
DEFAULT_FEES = {
    "spot_maker": "0.0008",
    "spot_taker": "0.001",
    "futures_maker": "0.0002",
    "futures_taker": "0.0005",
}
MAX_LEVERAGE = 50
MAX_OPEN_LIMIT_ORDERS = 500
MAX_OPEN_TRIGGER_ORDERS = 100
# How long a REST order call waits for the matching worker before answering "accepted".
ORDER_RESULT_WAIT_SECONDS = float(os.environ.get("ORDER_RESULT_WAIT_SECONDS", "3"))
# The signed order calls' statements run prepared (core/api_prepared.py); off for A/B runs.
API_PREPARED_STATEMENTS = env_bool("API_PREPARED_STATEMENTS", True)
# Signed order placement and cancel served on the event loop (exchange/api/fast_orders.py); off:
# through Django and DRF like every other call, for A/B runs.
API_FAST_ORDERS = env_bool("API_FAST_ORDERS", True)
# Fast order calls check against cached key, user and market rows, which the order statement
# re-checks (exchange/api/seen_rows.py); False reads them afresh on every call, for A/B runs.
API_SEEN_ROWS = env_bool("API_SEEN_ROWS", True)
# Most commands the matching worker applies per database transaction. Batches are only this big
# under a backlog, where bigger ones amortise each commit's WAL flush (docs/PERFORMANCE.md).
MATCHING_BATCH_SIZE = int(os.environ.get("MATCHING_BATCH_SIZE", "2000"))
