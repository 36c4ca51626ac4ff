"""Django settings for meshboard, read from the environment.

Every variable is documented in `.env.example`. `environs` fails loudly on a bad value
(``DEBUG=treu`` is an error, not ``False``) and reads ``NAME_FILE`` for secrets. With
``MESHBOARD_ENV=production`` there are no defaults for secrets, hosts or service URLs.
"""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext
import plotly
from celery.schedules import crontab
from environs import FileAwareEnv

# Lets `ModelAdmin[Model]` / `QuerySet[Model]` generics (for mypy) work at runtime.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

# strip_whitespace: a secret file written with a trailing newline must not change the value.
env = FileAwareEnv(eager=False, strip_whitespace=True)
if (BASE_DIR / ".env").is_file():
    # Development convenience only; real deployments inject variables from Secrets.
    env.read_env(str(BASE_DIR / ".env"), override=False)

MESHBOARD_ENV = env.str("MESHBOARD_ENV", "development")
PRODUCTION = MESHBOARD_ENV == "production"
_dev = not PRODUCTION

DEBUG = env.bool("DEBUG", False)
SECRET_KEY = (
    env.str("SECRET_KEY")
    if PRODUCTION
    else env.str("SECRET_KEY", "django-insecure-development-only-key-never-use-in-production")
)
ALLOWED_HOSTS: list[str] = (
    env.list("ALLOWED_HOSTS")
    if PRODUCTION
    else env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", [])

# Postgres only. Without DATABASE_URL in development, `meshboard quickstart` and the test
# suite start an embedded PostgreSQL and export the URL themselves.
DATABASE_URL = env.str("DATABASE_URL") if PRODUCTION else env.str("DATABASE_URL", "")
# Persistent connections (seconds); 0 closes after each request (e.g. behind pgbouncer).
DATABASE_CONN_MAX_AGE = env.int("DATABASE_CONN_MAX_AGE", 600, validate=lambda v: v >= 0)
REDIS_URL = env.str("REDIS_URL") if PRODUCTION else env.str("REDIS_URL", "redis://127.0.0.1:6379/0")

CLUSTER_LABEL_TRIBE = env.str("MESHBOARD_TRIBE_LABEL", "tribe")
CLUSTER_LABEL_SQUAD = env.str("MESHBOARD_SQUAD_LABEL", "squad")
MESHBOARD_EXTRA_SYSTEM_NAMESPACES: list[str] = env.list("MESHBOARD_EXTRA_SYSTEM_NAMESPACES", [])
MESHBOARD_BEAT_TICK_SECONDS = env.int(
    "MESHBOARD_BEAT_TICK_SECONDS", 60, validate=lambda v: 1 <= v <= 3600
)
MESHBOARD_KUBE_CONNECT_TIMEOUT = env.float(
    "MESHBOARD_KUBE_CONNECT_TIMEOUT", 5.0, validate=lambda v: v > 0
)
MESHBOARD_KUBE_READ_TIMEOUT = env.float(
    "MESHBOARD_KUBE_READ_TIMEOUT", 30.0, validate=lambda v: v > 0
)
MESHBOARD_KUBE_PAGE_SIZE = env.int(
    "MESHBOARD_KUBE_PAGE_SIZE", 500, validate=lambda v: 1 <= v <= 10000
)
MESHBOARD_POLL_SOFT_TIME_LIMIT = env.int(
    "MESHBOARD_POLL_SOFT_TIME_LIMIT", 240, validate=lambda v: v > 0
)
MESHBOARD_POLL_TIME_LIMIT = env.int("MESHBOARD_POLL_TIME_LIMIT", 300, validate=lambda v: v > 0)
# Capacity warning: proxies one istiod replica serves per vCPU it requests (Istio's published
# scalability figure: about 1 vCPU for 2,000 sidecars; see adoption/capacity.py).
MESHBOARD_PROXIES_PER_ISTIOD_VCPU = env.int(
    "MESHBOARD_PROXIES_PER_ISTIOD_VCPU", 2000, validate=lambda v: v > 0
)
# Pages cache their figures per process until the data changes, at most this long (seconds).
MESHBOARD_PAGE_CACHE_SECONDS = env.int(
    "MESHBOARD_PAGE_CACHE_SECONDS", 300, validate=lambda v: v >= 0
)
# Bearer token Prometheus uses to scrape /metrics (without it, only logged-in users can read it).
MESHBOARD_METRICS_TOKEN = env.str("MESHBOARD_METRICS_TOKEN", "")
# Retention: every snapshot in full for this many days, then each cluster's last good snapshot
# of each day for this many days; daily rollups are kept forever.
MESHBOARD_RETENTION_FULL_DAYS = env.int(
    "MESHBOARD_RETENTION_FULL_DAYS", 14, validate=lambda v: v >= 1
)
MESHBOARD_RETENTION_DAILY_DAYS = env.int(
    "MESHBOARD_RETENTION_DAILY_DAYS", 730, validate=lambda v: v >= 1
)
# Directories a Cluster's kubeconfig / token file may be read from (defence against an admin
# pointing meshboard at arbitrary files on the worker).
MESHBOARD_CREDENTIALS_DIRS: list[str] = env.list("MESHBOARD_CREDENTIALS_DIRS", [])

LOG_LEVEL = env.str(
    "LOG_LEVEL",
    "INFO",
    validate=lambda v: v.upper() in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"},
).upper()

# Production transport security (all on by default in production; `check --deploy` is clean).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
# Preload is on by default in production so `check --deploy` is clean; turn it off before
# the first deploy if the domain must not be committed to browsers' preload lists.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", PRODUCTION)
_proxy_ssl = env.bool("SECURE_PROXY_SSL_HEADER", PRODUCTION)

env.seal()  # raises one EnvValidationError listing every bad variable

if _proxy_ssl:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
# No JavaScript reads the CSRF cookie (forms carry the token), so keep it away from scripts too.
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_prometheus",
    "csp",
    "health_check",
    "adoption",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Repeats a read whose database connection died under it (see its docstring).
    "meshboard.middleware.RetryOnLostConnection",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "meshboard.urls"
WSGI_APPLICATION = "meshboard.wsgi.application"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "adoption:overview"
LOGOUT_REDIRECT_URL = "login"

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
                "adoption.context.navigation",
            ],
        },
    },
]


def _database() -> dict[str, object]:
    import dj_database_url

    if not DATABASE_URL:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "meshboard-unconfigured",
            # Fails on first use with a clear message rather than silently using SQLite.
            "HOST": "DATABASE_URL-is-not-set--run-meshboard-quickstart-or-set-it",
        }
    cfg = dj_database_url.parse(
        DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True
    )
    if cfg["ENGINE"] != "django.db.backends.postgresql":
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"meshboard runs on PostgreSQL only; DATABASE_URL uses {cfg['ENGINE']}"
        )
    return dict(cfg)


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js from the installed plotly package, so the JS always matches the Python
    # that built the figure JSON (no CDN).
    ("vendor/plotly", Path(plotly.__file__).parent / "package_data"),
]
# Serve static files straight from the finders outside production (no collectstatic needed).
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # plotly.js sets a couple of inline styles; no inline scripts anywhere.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}


# --- Celery (see meshboard/celery.py) ---------------------------------------------------------
def _celery_broker(url: str) -> str:
    # redis-py understands unix:// sockets; kombu spells them redis+socket://
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


CELERY_BROKER_URL = _celery_broker(REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # a poll's outcome is a Snapshot row
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = MESHBOARD_POLL_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = MESHBOARD_POLL_TIME_LIMIT
# Order matters: soft limit < hard limit < lock TTL < visibility timeout.
MESHBOARD_POLL_LOCK_TTL = MESHBOARD_POLL_TIME_LIMIT + 60
# Redis redelivers a message whose worker vanished after this long: just past the lock TTL, so
# a poll lost with its whole worker is re-run within minutes, not an hour.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": MESHBOARD_POLL_LOCK_TTL + 60}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "poll-due-clusters": {
        "task": "adoption.tasks.poll_due_clusters",
        "schedule": float(MESHBOARD_BEAT_TICK_SECONDS),
    },
    "apply-retention": {
        "task": "adoption.tasks.apply_retention",
        "schedule": crontab(hour=3, minute=17),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # urllib3 logs request URLs at DEBUG; never let a token-bearing header reach logs.
        "urllib3": {"level": "WARNING"},
        "kubernetes": {"level": "WARNING"},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an unauthenticated request then gets 401 + WWW-Authenticate, not 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "adoption.api.pagination.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "meshboard API",
    "DESCRIPTION": "Read-only Istio adoption figures per tribe, squad and cluster.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,
}

# Per-process cache for page figures (keyed on the data version, so never stale); no Redis
# dependency, so pages still render when Redis is down.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 500},
    }
}

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"
