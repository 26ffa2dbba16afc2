"""Settings for hfdatasets, read from the environment (12-factor).

Every variable is documented in README.md. With nothing set, the app runs on
embedded defaults: SQLite and files under ./data, no Redis needed.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from hfdatasets.env import env_bool, env_choice, env_fernet_keys, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DEBUG", default=False)

# Where datasets, partial downloads and the embedded database live.
DATA_DIR = Path(env_str("HFD_DATA_DIR", str(BASE_DIR / "data"))).resolve()


def load_or_create_secret_key(path):
    """Without SECRET_KEY, keep a random key in the data directory so sessions survive restarts."""
    if path.exists():
        return path.read_text().strip()
    from django.core.management.utils import get_random_secret_key

    path.parent.mkdir(parents=True, exist_ok=True)
    key = get_random_secret_key()
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = env_str("SECRET_KEY") or load_or_create_secret_key(DATA_DIR / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Local folders that the import API may read from (comma separated). Empty: path imports refused.
HFD_IMPORT_ROOTS = [Path(p).resolve() for p in env_list("HFD_IMPORT_ROOTS")]

# Passed through to the Hub client.
HF_ENDPOINT = env_str("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
HF_TOKEN = env_str("HF_TOKEN") or None
# Encrypt users' personal Hub tokens at rest. Empty: personal Hub tokens cannot be stored.
HFD_HUB_TOKEN_KEYS = env_fernet_keys("HFD_HUB_TOKEN_KEYS")
# The HF libraries' own caches (metadata, modules) live with our data, not in the home folder.
os.environ.setdefault("HF_HOME", str(DATA_DIR / "hf-home"))

# Download tuning.
# As many files at once as huggingface_hub.snapshot_download fetches.
HFD_PARALLEL_FILES = env_int("HFD_PARALLEL_FILES", 8, minimum=1)
# A large file is fetched as up to this many byte ranges at once, each at least HFD_SEGMENT_MIN_BYTES.
HFD_SEGMENTS_PER_FILE = env_int("HFD_SEGMENTS_PER_FILE", 4, minimum=1)
HFD_SEGMENT_MIN_BYTES = env_int("HFD_SEGMENT_MIN_BYTES", 8 * 1024 * 1024, minimum=1)
HFD_MAX_FAULT_RETRIES = env_int("HFD_MAX_FAULT_RETRIES", 5, minimum=1)
# First pause between retries of a transient fault; doubles each time (capped at 30 s).
HFD_RETRY_BACKOFF = env_float("HFD_RETRY_BACKOFF", 1.0, minimum=0)
# Seconds without a byte from the Hub before a transfer counts as failed (and is retried).
HFD_HTTP_TIMEOUT = env_float("HFD_HTTP_TIMEOUT", 30.0, minimum=0.1)
HFD_PROGRESS_INTERVAL = env_float("HFD_PROGRESS_INTERVAL", 0.3, minimum=0)
HFD_HEARTBEAT_STALE_SECONDS = env_int("HFD_HEARTBEAT_STALE_SECONDS", 60, minimum=1)
# A worker process on another machine whose heartbeat is older than this is taken to be gone
# (on the same machine a dead process is seen at once); the recovery pass runs this often.
HFD_WORKER_LOST_SECONDS = env_int("HFD_WORKER_LOST_SECONDS", 10, minimum=1)
HFD_RECOVERY_INTERVAL = env_float("HFD_RECOVERY_INTERVAL", 2.0, minimum=0.1)
# /healthz reports the disk unhealthy below this many free bytes in HFD_DATA_DIR.
HFD_MIN_FREE_BYTES = env_int("HFD_MIN_FREE_BYTES", 1024**3, minimum=0)
# A running download waits this long for an unreachable database (a restart) before it fails.
HFD_DATABASE_OUTAGE_SECONDS = env_int("HFD_DATABASE_OUTAGE_SECONDS", 300, minimum=0)
HFD_TASK_TIMEOUT = env_int("HFD_TASK_TIMEOUT", 6 * 3600, minimum=1)
# A Parquet export larger than this (in Arrow bytes) is split into shards of about this size.
HFD_EXPORT_SHARD_BYTES = env_int("HFD_EXPORT_SHARD_BYTES", 512 * 1024**2, minimum=1)

REDIS_URL = env_str("REDIS_URL") or None

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "knox",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # Before django_q: its `qcluster` command is replaced by catalog's (stops within seconds).
    "catalog",
    "django_q",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a django-axes lockout on the sign-in page into a clear 429 page.
    "axes.middleware.AxesMiddleware",
]

# django-axes checks failed sign-ins (form, HTTP Basic, API tokens) before Django checks the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("HFD_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("HFD_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
# Per user name and per address (catalog.accounts.authentication.lockout_parameters).
AXES_LOCKOUT_PARAMETERS = "catalog.accounts.authentication.lockout_parameters"
AXES_USERNAME_CALLABLE = "catalog.accounts.authentication.client_username"
AXES_RESET_ON_SUCCESS = True
# Every API request with a password is a sign-in: do not write a log row for each.
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client address is the connection's: a forwarded-for header is anyone's to forge.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# Personal API tokens (django-rest-knox): hashed, named, optional expiry set per token.
KNOX_TOKEN_MODEL = "catalog.ApiToken"
# knox's migrations create its own token table even when the model is swapped for ours; that
# unused table would hold a foreign key to auth_user. Without its migrations, nothing of knox's is created.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {"TOKEN_TTL": None, "TOKEN_PREFIX": "hfd_", "AUTO_REFRESH": False}

ROOT_URLCONF = "hfdatasets.urls"

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
                "catalog.context_processors.health_banner",
            ],
        },
    },
]

WSGI_APPLICATION = "hfdatasets.wsgi.application"
ASGI_APPLICATION = "hfdatasets.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker write at the same time: WAL plus a busy timeout
    # and IMMEDIATE transactions avoid "database is locked" errors.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so worker and web processes started by tests share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("HFD_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG and env_bool("HFD_MANIFEST_STATIC", True)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Serve an unhashed name rather than crash when collectstatic has not run (tests, first start).
WHITENOISE_MANIFEST_STRICT = False

# Uploads larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
HFD_MAX_UPLOAD_BYTES = env_int("HFD_MAX_UPLOAD_BYTES", 2 * 1024**3, minimum=1)
# The first handler stops a file at HFD_MAX_UPLOAD_BYTES while it streams in (catalog/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "catalog.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dataset-list"
LOGOUT_REDIRECT_URL = "login"

# Production hardening, switched on as one block behind TLS.
if env_bool("HFD_HTTPS", False):
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    # The first class names the scheme of the 401's WWW-Authenticate header for anonymous requests.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "catalog.accounts.authentication.ApiTokenAuthentication",
        "catalog.accounts.authentication.RateLimitedBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "catalog.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    # drf-spectacular, documenting every error status too.
    "DEFAULT_SCHEMA_CLASS": "catalog.api_schema.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "hfdatasets API",
    "DESCRIPTION": "Catalog and download manager for Hugging Face Hub datasets.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its pages need the API's authentication, like the rest of /api/v1/.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from our own static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Separate request and response components, so read-only fields are not offered as input.
    "COMPONENT_SPLIT_REQUEST": True,
}

# django-q2. The database record is the truth; the queue is only transport.
# retry must exceed timeout or a long download would be delivered twice.
Q_CLUSTER = {
    "name": env_str("HFD_QUEUE_NAME", "hfdatasets"),
    "workers": env_int("HFD_WORKERS", 2, minimum=1),
    "timeout": HFD_TASK_TIMEOUT,
    "retry": HFD_TASK_TIMEOUT + 600,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "label": "Tasks",
}
# Our brokers note which worker holds each task, so a lost task is told from a waiting one.
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    Q_CLUSTER["broker_class"] = "catalog.taskqueue.RedisBroker"
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.2
    Q_CLUSTER["broker_class"] = "catalog.taskqueue.OrmBroker"

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's layer with a pool that queues a burst of sockets (catalog/live.py).
            "BACKEND": "catalog.live.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("HFD_CHANNEL_PREFIX", "hfd")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # The minutely recovery pass logs only when it re-queues something (hfdatasets/log.py).
    "filters": {"quiet_recovery_pass": {"()": "hfdatasets.log.QuietRecoveryPass"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django-q": {"filters": ["quiet_recovery_pass"]},
        # axes: lockouts are warnings; its INFO lines (one per start and per failed attempt) are noise.
        **{name: {"level": "WARNING"} for name in ("httpx", "httpx2", "httpcore", "httpcore2", "axes")},
    },
}
