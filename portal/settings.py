"""Berth's one settings module: every setting is read from the environment here, with its default."""

from __future__ import annotations

import re
from pathlib import Path

from portal.utilities.encryption import check_keys, new_key
from portal.utilities.env import (
    ConfigurationError,
    Environment,
    database_from_url,
    persistent_secret,
    private_directory,
    private_file,
)

env = Environment()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env.path("BERTH_VAR_DIR", BASE_DIR / "var", "Where Berth keeps its files: SQLite database, keys, registry data.")
# Keys, the registry's password and the development database live here: no other local user may read them.
private_directory(VAR_DIR)
PRODUCTION = env.bool("BERTH_PRODUCTION", False, "Production mode: secrets must be given, never generated.")
DEBUG = env.bool("BERTH_DEBUG", False, "Django debug pages (never in production).")

_secret = env.optional_str("BERTH_SECRET_KEY", "Django secret key; generated under BERTH_VAR_DIR in development.")
if _secret is None and PRODUCTION:
    raise ConfigurationError("BERTH_SECRET_KEY is required when BERTH_PRODUCTION is true")
SECRET_KEY = _secret or persistent_secret(VAR_DIR / "secret_key")

# Credentials Berth must use again (deploy-time secrets, next webhook and registry credentials) are
# encrypted at rest with these; a new key goes first and the old ones stay until values are re-encrypted.
_encryption_keys = env.list(
    "BERTH_ENCRYPTION_KEYS", [],
    "Fernet keys, comma-separated, newest first, that encrypt stored secrets: the first encrypts, all decrypt; "
    "generated under BERTH_VAR_DIR in development.",
)  # fmt: skip
if not _encryption_keys and PRODUCTION:
    raise ConfigurationError("BERTH_ENCRYPTION_KEYS is required when BERTH_PRODUCTION is true")
ENCRYPTION_KEYS = check_keys(_encryption_keys or [persistent_secret(VAR_DIR / "encryption_key", generate=new_key)])

ALLOWED_HOSTS = env.list("BERTH_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"], "Host names the portal answers to.")
CSRF_TRUSTED_ORIGINS = env.list("BERTH_CSRF_TRUSTED_ORIGINS", [], "Origins (scheme://host[:port]) trusted for CSRF behind a proxy.")
BIND = env.str("BERTH_BIND", "127.0.0.1:8000", "Address and port `make run` listens on.")
EXTERNAL_URL = env.str("BERTH_EXTERNAL_URL", f"http://{BIND}", "The URL clients use to reach Berth (token realm, pull commands).")

DATABASES = {
    "default": database_from_url(
        env.str("BERTH_DATABASE_URL", f"sqlite:///{VAR_DIR / 'berth.sqlite3'}", "Database URL: sqlite:///PATH or postgres://USER:PASS@HOST:PORT/NAME.")
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3") and DATABASES["default"]["NAME"] != ":memory:":
    # SQLite creates its file, and its -wal and -shm files with the same mode, as 0644.
    private_file(Path(DATABASES["default"]["NAME"]))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL keeps the worker and the portal from locking each other out on the development database.
    DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", **DATABASES["default"]["OPTIONS"]}

REDIS_URL = env.str("BERTH_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL: Celery broker, shared cache and the registry's upload sessions.")

AUDIT_RETENTION_DAYS = env.int("BERTH_AUDIT_RETENTION_DAYS", 90, "Audit log rows older than this many days are purged daily.")
LOGIN_MAX_FAILURES = env.int("BERTH_LOGIN_MAX_FAILURES", 5, "Failed sign-ins of one account from one address within the window after which that address is refused (429) for that account; other addresses, personal access tokens and generated robot secrets are never refused.")
LOGIN_FAILURE_WINDOW_SECONDS = env.int("BERTH_LOGIN_FAILURE_WINDOW", 300, "Window, in seconds, over which failed sign-ins are counted; refused attempts are not counted, so they do not prolong it.")
LDAP_CACHE_SECONDS = env.int("BERTH_LDAP_CACHE_SECONDS", 120, "How long a directory (LDAP) sign-in is trusted without asking the directory again: a password checked by bind, and the account and groups behind a session or token; a user disabled or removed in the directory lapses when it expires.")
METRICS_ALLOWED_NETWORKS = env.list("BERTH_METRICS_ALLOWED", ["127.0.0.1/32", "::1/128"], "Networks allowed to read /metrics without a token.")
TRUSTED_PROXIES = env.list("BERTH_TRUSTED_PROXIES", [], "Networks of reverse proxies whose X-Forwarded-For is believed.")
METRICS_TOKEN = env.optional_str("BERTH_METRICS_TOKEN", "Bearer token that also grants /metrics.")
ADMIN_PASSWORD = env.optional_str("BERTH_ADMIN_PASSWORD", "Password for the first admin; printed once when generated.")
MAX_PAGE_SIZE = 1000

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "portal.accounts",
    "portal.projects",
    "portal.robots",
    "portal.audit",
    "portal.system",
    "portal.artifacts",
]

MIDDLEWARE = [
    "portal.system.metrics.RequestMetricsMiddleware",
    "portal.utilities.middleware.RejectNulBytesMiddleware",
    "portal.utilities.middleware.CapAuthorizationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = False

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.is_dir() else []

# Only a hash of each session key is stored, so the table holds nothing a browser could present.
SESSION_ENGINE = "portal.accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "berth_csrftoken"
SESSION_COOKIE_NAME = "berth_session"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.accounts.authentication.SessionPrincipalAuthentication",
        "portal.accounts.authentication.BasicPrincipalAuthentication",
        "portal.accounts.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "portal.api.base.TokenScopePermission",
    ],
    "UNAUTHENTICATED_USER": "portal.rbac.principals.AnonymousPrincipal",
    "DEFAULT_PAGINATION_CLASS": "portal.utilities.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "ORDERING_PARAM": "sort",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Berth API",
    "DESCRIPTION": "Container registry portal with a fleet runtime. The UI and automation use this same API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # `kind` alone would be a generic enum name in the generated TypeScript types.
    "ENUM_NAME_OVERRIDES": {"ArtifactKind": "portal.artifacts.kinds.Kind",
                            "RetentionRunStatus": "portal.policies.models.RunStatus"},
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("BERTH_CELERY_EAGER", False, "Run Celery tasks in-process (tests of pure logic only).")
# One beat schedules at a time (portal.system.beat): others wait for its lease, which lapses this long after
# a beat dies.
CELERY_BEAT_SCHEDULER = "portal.system.beat:SingleBeatScheduler"
BEAT_LOCK_SECONDS = env.int("BERTH_BEAT_LOCK_SECONDS", 30, "Lifetime of the beat leader's lease in Redis; a second beat takes over this long after the first dies.")
CELERY_BEAT_SCHEDULE = {
    "purge-audit-log": {"task": "portal.audit.tasks.purge_audit_log", "schedule": 24 * 3600.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("BERTH_LOG_LEVEL", "INFO", "Log level.")},
    # httpx logs every request at INFO, health pings of distribution included.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

BERTH_SETTINGS = env.declared

# The registry (registry_proxy): distribution behind Berth, and the token service in front of it.
REGISTRY_URL = env.str("BERTH_REGISTRY_URL", "http://127.0.0.1:5001", "Where Berth reaches distribution; a distribution Berth starts itself listens there (loopback only).")
REGISTRY_MANAGED = env.bool("BERTH_REGISTRY_MANAGED", True, "Berth starts distribution itself (false when it runs elsewhere, e.g. in compose).")
REGISTRY_STORAGE = env.str("BERTH_REGISTRY_STORAGE", "filesystem", "distribution's storage: filesystem or s3.")
REGISTRY_DATA_DIR = env.path("BERTH_REGISTRY_DATA_DIR", VAR_DIR / "registry", "Root of distribution's filesystem storage (blobs are served from it with sendfile).")
REGISTRY_S3_BUCKET = env.str("BERTH_REGISTRY_S3_BUCKET", "", "S3 bucket (BERTH_REGISTRY_STORAGE=s3).")
REGISTRY_S3_REGION = env.str("BERTH_REGISTRY_S3_REGION", "us-east-1", "S3 region.")
REGISTRY_S3_ENDPOINT = env.str("BERTH_REGISTRY_S3_ENDPOINT", "", "S3-compatible endpoint URL (empty: AWS).")
REGISTRY_S3_ACCESS_KEY = env.str("BERTH_REGISTRY_S3_ACCESS_KEY", "", "S3 access key (empty: the instance's role).")
REGISTRY_S3_SECRET_KEY = env.str("BERTH_REGISTRY_S3_SECRET_KEY", "", "S3 secret key.")
REGISTRY_S3_ROOT = env.str("BERTH_REGISTRY_S3_ROOT", "/berth", "Prefix of every key distribution writes in the bucket.")
REGISTRY_USERNAME = env.str("BERTH_REGISTRY_USERNAME", "berth", "User name Berth presents to distribution.")
REGISTRY_PASSWORD = env.optional_str("BERTH_REGISTRY_PASSWORD", "Password Berth presents to distribution; generated under BERTH_VAR_DIR in development.")
if REGISTRY_PASSWORD is None and PRODUCTION and not REGISTRY_MANAGED:
    raise ConfigurationError("BERTH_REGISTRY_PASSWORD is required when distribution runs outside Berth in production")
REGISTRY_PASSWORD = REGISTRY_PASSWORD or persistent_secret(VAR_DIR / "registry_password", 32)
REGISTRY_KEY_DIR = env.path("BERTH_REGISTRY_KEY_DIR", VAR_DIR / "registry_keys", "Signing keys of registry tokens; the newest signs, all verify.")
REGISTRY_SENDFILE = env.bool("BERTH_REGISTRY_SENDFILE", True, "Serve blobs straight from filesystem storage with sendfile.")
REGISTRY_MANIFEST_URLS_ALLOW = env.str("BERTH_REGISTRY_MANIFEST_URLS_ALLOW", r"^https?://", "Regular expression the `urls` of a manifest's descriptors (non-distributable layers) must match; such layers need not be uploaded. Written into distribution's validation.manifests.urls.allow.")
try:
    re.compile(REGISTRY_MANIFEST_URLS_ALLOW)
except re.error as exc:
    raise ConfigurationError(f"BERTH_REGISTRY_MANIFEST_URLS_ALLOW is not a regular expression: {exc}") from None
INSTALLED_APPS += ["registry_proxy"]

# Personal access tokens (CLI secrets).
TOKEN_DEFAULT_DAYS = env.int("BERTH_TOKEN_DEFAULT_DAYS", 90, "Lifetime, in days, of a personal access token created without one.")
TOKEN_MAX_DAYS = env.int("BERTH_TOKEN_MAX_DAYS", 365, "Longest lifetime, in days, a personal access token may be given.")
TOKEN_ALLOW_NO_EXPIRY = env.bool("BERTH_TOKEN_ALLOW_NO_EXPIRY", False, "Allow personal access tokens that never expire.")

# Read-only mode (portal.system): while an administrator has it on, API writes are refused with 403 read_only.
MIDDLEWARE += ["portal.system.middleware.ReadOnlyModeMiddleware"]

# The artifact index (portal.artifacts).
MANIFEST_CACHE_BYTES = env.int("BERTH_MANIFEST_CACHE_BYTES", 64 * 1024 * 1024, "Bytes of manifests each process keeps in memory for registry reads by digest.")
MANIFEST_CACHE_SECONDS = env.int("BERTH_MANIFEST_CACHE_SECONDS", 10, "Seconds a cached manifest is served without asking the database (how long another process may still serve a deleted one).")
RECONCILE_INTERVAL_SECONDS = env.int("BERTH_RECONCILE_INTERVAL", 3600, "Seconds between scheduled reconciliations of the artifact index with distribution.")
CELERY_BEAT_SCHEDULE["reconcile-artifact-index"] = {"task": "portal.artifacts.tasks.reconcile_index", "schedule": float(RECONCILE_INTERVAL_SECONDS)}

# Storage (portal.storage): the blob index, and garbage collection of what nothing uses.
INSTALLED_APPS += ["portal.storage"]
GC_GRACE_SECONDS = env.int("BERTH_GC_GRACE_SECONDS", 7200, "A blob no manifest uses is collected only once this many seconds have passed since a push last used it (an upload in progress, or a push whose manifest has not arrived, keeps its blobs).")
GC_LOCK_SECONDS = env.int("BERTH_GC_LOCK_SECONDS", 600, "A running garbage collection that has reported no progress for this many seconds lost its worker: it is marked failed, and the next run may start.")
CELERY_BEAT_SCHEDULE["schedule-gc"] = {"task": "portal.storage.tasks.schedule_gc", "schedule": 60.0}

# The fleet (portal.fleet): hosts running Berth's agent and the containers deployed on them.
INSTALLED_APPS += ["portal.fleet"]
FLEET_HEARTBEAT_SECONDS = env.int("BERTH_FLEET_HEARTBEAT_SECONDS", 5, "Seconds between an agent's heartbeats.")
FLEET_UNREACHABLE_AFTER_SECONDS = env.int("BERTH_FLEET_UNREACHABLE_AFTER", 20, "A host whose last heartbeat is older than this many seconds is unreachable.")
FLEET_LEASE_SECONDS = env.int("BERTH_FLEET_LEASE_SECONDS", 60, "Seconds a worker's claim on a container lasts without renewal; a killed worker's work is taken over after it.")
FLEET_RECONCILE_SECONDS = env.int("BERTH_FLEET_RECONCILE_SECONDS", 30, "Seconds between reconciliations of the hosts' containers with the portal's records.")
FLEET_PULL_TOKEN_SECONDS = env.int("BERTH_FLEET_PULL_TOKEN_SECONDS", 300, "Lifetime of the pull-only token an agent receives for one deployment.")
FLEET_AGENT_TIMEOUT_SECONDS = env.int("BERTH_FLEET_AGENT_TIMEOUT", 60, "Seconds the portal waits for an agent's answer (pull progress resets it).")
FLEET_REGISTRY = env.str("BERTH_FLEET_REGISTRY", "", "HOST:PORT agents pull Berth's images from (empty: the host of BERTH_EXTERNAL_URL).")
FLEET_JOIN_TOKEN_MAX_HOURS = env.int("BERTH_FLEET_JOIN_TOKEN_MAX_HOURS", 24 * 7, "Longest lifetime, in hours, of a host join token.")
CELERY_BEAT_SCHEDULE["fleet-reconcile"] = {"task": "portal.fleet.tasks.reconcile_fleet", "schedule": float(FLEET_RECONCILE_SECONDS)}

# Webhooks (portal.webhooks): events written with the change they report, delivered by workers.
INSTALLED_APPS += ["portal.webhooks"]
WEBHOOK_TIMEOUT_SECONDS = env.float("BERTH_WEBHOOK_TIMEOUT", 10.0, "Seconds a webhook target has to answer one delivery.")
WEBHOOK_MAX_ATTEMPTS = env.int("BERTH_WEBHOOK_MAX_ATTEMPTS", 6, "Attempts of one webhook delivery before it is marked failed.")
WEBHOOK_RETRY_BASE_SECONDS = env.float("BERTH_WEBHOOK_RETRY_BASE", 10.0, "Wait before a webhook delivery's second attempt; it doubles with each attempt (with jitter).")
WEBHOOK_RETRY_MAX_SECONDS = env.float("BERTH_WEBHOOK_RETRY_MAX", 3600.0, "Longest wait between two attempts of a webhook delivery.")
WEBHOOK_PAUSE_AFTER_FAILURES = env.int("BERTH_WEBHOOK_PAUSE_AFTER", 5, "Failed deliveries in a row after which a webhook policy is paused until resumed by hand.")
WEBHOOK_SWEEP_SECONDS = env.float("BERTH_WEBHOOK_SWEEP_SECONDS", 5.0, "Seconds between sweeps that send due webhook deliveries whose enqueue was lost, and announce host status changes.")
WEBHOOK_ALLOW_LINK_LOCAL = env.bool("BERTH_WEBHOOK_ALLOW_LINK_LOCAL", False, "Allow webhook targets on link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254).")
WEBHOOK_LOG_BODY_BYTES = env.int("BERTH_WEBHOOK_LOG_BODY_BYTES", 4096, "Bytes of a target's response body kept in the delivery log.")
CELERY_BEAT_SCHEDULE["webhook-sweep"] = {"task": "portal.webhooks.tasks.sweep_webhooks", "schedule": WEBHOOK_SWEEP_SECONDS}

# Tag policies (portal.policies): immutability rules, the tags' time machine, retention.
INSTALLED_APPS += ["portal.policies"]
TAG_HISTORY_DAYS = env.int("BERTH_TAG_HISTORY_DAYS", 14, "Days a deleted or moved tag can be restored, for projects that set no window of their own (0 turns the time machine off).")
RETENTION_SCHEDULE_CHECK_SECONDS = env.int("BERTH_RETENTION_SCHEDULE_CHECK_SECONDS", 60, "Seconds between the beat's checks for retention policies whose cron schedule is due.")
CELERY_BEAT_SCHEDULE["retention-schedules"] = {"task": "portal.policies.tasks.start_due_retention_runs", "schedule": float(RETENTION_SCHEDULE_CHECK_SECONDS)}

# The browser UI (portal.ui) serves the built SPA from FRONTEND_DIST.
INSTALLED_APPS += ["portal.ui"]
