"""DocIntel settings: one module, read from the environment (django-environ).

Defaults exist only for the embedded development mode (``DEBUG`` on). With ``DEBUG`` off every secret must be set,
otherwise start-up stops with :class:`django.core.exceptions.ImproperlyConfigured`.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
import structlog
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from docintel.logging import configure_logging

django_stubs_ext.monkeypatch()  # runtime support for ModelAdmin[Model] and friends

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file() and os.environ.get("DOCINTEL_READ_DOT_ENV", "1") == "1":
    env.read_env(str(BASE_DIR / ".env"))

# Every setting is read from the environment variable of its own name. Some were read from another name until
# issue 14 (``OCR_ENGINE`` for ``DOCINTEL_OCR_ENGINE``, ...): an existing .env keeps working, and each old name found
# is logged once at start-up (``settings_variable_renamed``) with the name to use instead. tests/docintel/
# test_settings.py holds the rule for every setting, and its short allow-list of exceptions.
_RENAMED: list[tuple[str, str]] = []  # (old variable, new variable) read at this start-up


def _var(name: str, *, old: str | None = None, standard: str | None = None) -> str:
    """Return the environment variable to read for the setting ``name``.

    ``name`` itself when it is set (or nothing else is). Otherwise ``standard``, another tool's own variable for the
    same thing, read as a fallback without notice, then ``old``, the deprecated name, recorded in ``_RENAMED`` for a
    warning once logging is configured.

    Args:
        name: the setting's name, which is also its variable's.
        old: the variable this setting was read from before; still honoured, with a deprecation warning.
        standard: a variable another tool defines for the same value (``TESSDATA_PREFIX``); honoured silently.

    Returns:
        The name of the variable to pass to ``env``; ``name`` when none of the three is set (the default applies).
    """
    if name in os.environ:
        return name
    if standard is not None and standard in os.environ:
        return standard
    if old is not None and old in os.environ:
        _RENAMED.append((old, name))
        return old
    return name


DEBUG: bool = env.bool("DEBUG", default=False)
TESTING: bool = env.bool(_var("TESTING", old="DOCINTEL_TESTING"), default=False)

_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105 - DEBUG only


def _required(name: str, dev_default: str) -> str:
    """Return ``name`` from the environment; in production (DEBUG off) a missing value stops start-up."""
    value: str | None = env.str(name, default=None)
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} is not set. DocIntel refuses to start with DEBUG off and no {name}: "
        f"set it in the environment (see README, 'Settings')."
    )


SECRET_KEY: str = _required("SECRET_KEY", _DEV_SECRET)
if not DEBUG and (SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY is the development key or shorter than 50 characters; set a real secret.")

ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is not set; list the host names the portal answers to.")
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "axes",
    "csp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "channels",
    "docintel.apps.DocIntelConfig",
    "audit.apps.AuditConfig",
    "documents.apps.DocumentsConfig",
    "chat.apps.ChatConfig",
    "evaluation.apps.EvaluationConfig",
    "review.apps.ReviewConfig",
    "search.apps.SearchConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "docintel.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into the 429 page (docintel/auth.py)
]
# Axes first: it refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "docintel.urls"
ASGI_APPLICATION = "docintel.asgi.application"
WSGI_APPLICATION = "docintel.wsgi.application"
AUTH_USER_MODEL = "docintel.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------------------------
# Embedded default: SQLite under var/. Tests and production use PostgreSQL (psycopg 3) with a connection pool.
VAR_DIR = Path(env.str(_var("VAR_DIR", old="DOCINTEL_VAR_DIR"), default=str(BASE_DIR / "var")))
DB_POOL_MIN_SIZE: int = env.int("DB_POOL_MIN_SIZE", default=5)
DB_POOL_MAX_SIZE: int = env.int("DB_POOL_MAX_SIZE", default=20)
DB_POOL_TIMEOUT: float = env.float("DB_POOL_TIMEOUT", default=10.0)

_database: dict[str, Any] = env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
if _database["ENGINE"] == "django.db.backends.postgresql":
    _options: dict[str, Any] = _database.setdefault("OPTIONS", {})
    if env.bool("DB_POOL_ENABLED", default=True):
        _options["pool"] = {"min_size": DB_POOL_MIN_SIZE, "max_size": DB_POOL_MAX_SIZE, "timeout": DB_POOL_TIMEOUT}
    _database["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not also hold them
    _database.setdefault("TEST", {})["NAME"] = env.str("DATABASE_TEST_NAME", default=None)
elif _database["ENGINE"] == "django.db.backends.sqlite3":
    _database.setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASES = {"default": _database}
# The roles the web process and the workers connect as: they may read and append audit rows, nothing more
# (audit/migrations/0004). Default: the user of DATABASE_URL; list the app's role when a superuser runs migrate.
DOCINTEL_DB_APP_ROLES: list[str] = env.list(
    "DATABASE_APP_ROLES", default=[_database["USER"]] if _database.get("USER") else []
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery, Channels --------------------------------------------------------------------------------------
REDIS_URL: str | None = env.str("REDIS_URL", default=None) or None
if not DEBUG and not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL is not set; production needs Redis for Celery and Channels.")

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
    # acks_late: a message comes back if a worker dies; the visibility timeout must exceed the hard time limit.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # how often a worker sweeps for messages of dead workers (kombu defaults: every 10 s x 10 polls)
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
}
if not REDIS_URL:
    _queue_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        {"data_folder_in": str(_queue_dir), "data_folder_out": str(_queue_dir), "processed_folder": str(_queue_dir)}
    )
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=1500)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=1800)
CELERY_TASK_DEFAULT_QUEUE: str = env.str(
    _var("CELERY_TASK_DEFAULT_QUEUE", old="CELERY_DEFAULT_QUEUE"), default="default"
)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s channels_redis blocks in BZPOPMIN
            # waiting for a message: every idle consumer died with "Timeout reading from ..." (redis-py #4091). The
            # socket timeout must outlast the blocking pop; 15 s still notices a dead connection.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}], "capacity": 1500, "expiry": 30},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Vector store, model servers -----------------------------------------------------------------------------------
# QDRANT_URL points at a Qdrant server. In the embedded mode it points at DocIntel's own single-process store server
# (``manage.py vectorstore``), which owns the local Qdrant storage under QDRANT_PATH: the client code is the same.
QDRANT_URL: str = env.str("QDRANT_URL", default="http://127.0.0.1:6333")
QDRANT_API_KEY: str | None = env.str("QDRANT_API_KEY", default=None) or None
QDRANT_PATH = Path(env.str("QDRANT_PATH", default=str(VAR_DIR / "qdrant")))
QDRANT_COLLECTION_PREFIX: str = env.str("QDRANT_COLLECTION_PREFIX", default="docintel")
QDRANT_TIMEOUT: float = env.float("QDRANT_TIMEOUT", default=10.0)
# Scalar int8 quantization of the dense vectors (a copy in RAM; the float vectors are kept and rescore the best
# candidates): the dense scan of 100k 384-d points 2.7x faster at recall@10 1.000 (issue 12). QDRANT_OVERSAMPLING is
# how many int8 candidates per wanted hit are rescored (1 = none: recall@10 0.92). Off: QDRANT_QUANTIZATION=false.
QDRANT_QUANTIZATION: bool = env.bool("QDRANT_QUANTIZATION", default=True)
QDRANT_OVERSAMPLING: float = env.float("QDRANT_OVERSAMPLING", default=2.0)
# Where the points' payloads live: in RAM (false, the default) or on disk, read on demand (true, Qdrant server's own
# default). Every search returns its points' payloads; on disk, after a reader's pause, reading 30 of them cost more
# than the scan (p95 of a search at 100k points 12.9 ms against 6.6 in RAM, issue 12). About 0.5 KB a chunk.
QDRANT_ON_DISK_PAYLOAD: bool = env.bool("QDRANT_ON_DISK_PAYLOAD", default=False)
# How the app's clients reach an http:// QDRANT_URL: "lean", a small HTTP/1.1 transport kept alive (about 0.4 ms less a
# request than httpx's own, issue 12), or "httpx", httpx's transport. An https:// URL always uses httpx's (TLS).
QDRANT_HTTP_TRANSPORT: str = env.str("QDRANT_HTTP_TRANSPORT", default="lean")
if QDRANT_HTTP_TRANSPORT not in ("lean", "httpx"):
    raise ImproperlyConfigured(f"QDRANT_HTTP_TRANSPORT must be lean or httpx, not {QDRANT_HTTP_TRANSPORT!r}")

LLM_BASE_URL: str = env.str("LLM_BASE_URL", default="http://127.0.0.1:8081/v1")
LLM_MODEL: str = env.str("LLM_MODEL", default="smollm2-135m-instruct")
LLM_API_KEY: str = env.str("LLM_API_KEY", default="not-needed")
LLM_TIMEOUT: float = env.float("LLM_TIMEOUT", default=60.0)
LLM_FIRST_TOKEN_TIMEOUT: float = env.float("LLM_FIRST_TOKEN_TIMEOUT", default=30.0)
LLM_MAX_TOKENS: int = env.int("LLM_MAX_TOKENS", default=512)
LLM_TEMPERATURE: float = env.float("LLM_TEMPERATURE", default=0.1)
LLM_CONTEXT_TOKENS: int = env.int("LLM_CONTEXT_TOKENS", default=4096)
# The answer's time budget (chat/services/answering/budget.py): the prompt is sized so that the first token arrives
# within ANSWER_FIRST_TOKEN_TARGET s at the LLM's measured prompt speed. With no token by target + grace, or a
# silence of ANSWER_STALL_SECONDS between tokens, the reader gets the extractive (quoted) answer instead.
ANSWER_FIRST_TOKEN_TARGET: float = env.float("ANSWER_FIRST_TOKEN_TARGET", default=8.0)
ANSWER_FIRST_TOKEN_GRACE: float = env.float("ANSWER_FIRST_TOKEN_GRACE", default=1.5)
ANSWER_STALL_SECONDS: float = env.float("ANSWER_STALL_SECONDS", default=5.0)
# How long a measured LLM speed is trusted before it is measured again (seconds); observed answers refresh it.
ANSWER_SPEED_TTL: int = env.int("ANSWER_SPEED_TTL", default=6 * 3600)
# Warm the answering path (guards, pipelines, speed probe) on a server's first connection; off in in-process tests.
ANSWER_WARM_UP: bool = env.bool("ANSWER_WARM_UP", default=not TESTING or "DOCINTEL_WARM_FILE" in os.environ)

EMBEDDING_BASE_URL: str = env.str("EMBEDDING_BASE_URL", default="http://127.0.0.1:8082/v1")
EMBEDDING_MODEL: str = env.str("EMBEDDING_MODEL", default="e5")
EMBEDDING_API_KEY: str = env.str("EMBEDDING_API_KEY", default="not-needed")
EMBEDDING_BATCH_SIZE: int = env.int("EMBEDDING_BATCH_SIZE", default=32)
EMBEDDING_TIMEOUT: float = env.float("EMBEDDING_TIMEOUT", default=60.0)

# --- Ingestion limits ----------------------------------------------------------------------------------------------
DOCINTEL_MAX_UPLOAD_BYTES: int = env.int("DOCINTEL_MAX_UPLOAD_BYTES", default=100 * 1024 * 1024)
DOCINTEL_MAX_PAGES: int = env.int("DOCINTEL_MAX_PAGES", default=2000)
DOCINTEL_MAX_UNCOMPRESSED_BYTES: int = env.int("DOCINTEL_MAX_UNCOMPRESSED_BYTES", default=500 * 1024 * 1024)
DOCINTEL_MAX_COMPRESSION_RATIO: int = env.int("DOCINTEL_MAX_COMPRESSION_RATIO", default=200)
# issue 16: ZIP archives and e-mail attachments become child documents; entries per archive, container nesting depth
DOCINTEL_MAX_ARCHIVE_MEMBERS: int = env.int("DOCINTEL_MAX_ARCHIVE_MEMBERS", default=500)
DOCINTEL_MAX_CONTAINER_DEPTH: int = env.int("DOCINTEL_MAX_CONTAINER_DEPTH", default=2)
DOCINTEL_MAX_IMAGE_PIXELS: int = env.int("DOCINTEL_MAX_IMAGE_PIXELS", default=90_000_000)
DOCINTEL_CONVERSION_TIMEOUT: float = env.float("DOCINTEL_CONVERSION_TIMEOUT", default=600.0)
DOCINTEL_MAX_ATTEMPTS: int = env.int("DOCINTEL_MAX_ATTEMPTS", default=3)
# Fallbacks read silently: DOCLING_ARTIFACTS_PATH is Docling's own variable (docling.datamodel.settings, prefix
# DOCLING_), TESSDATA_PREFIX Tesseract's; an environment set up for either tool keeps working.
DOCINTEL_DOCLING_ARTIFACTS_PATH: str | None = (
    env.str(_var("DOCINTEL_DOCLING_ARTIFACTS_PATH", standard="DOCLING_ARTIFACTS_PATH"), default=None) or None
)
DOCINTEL_OCR_ENGINE: str = env.str(_var("DOCINTEL_OCR_ENGINE", old="OCR_ENGINE"), default="tesseract")
DOCINTEL_OCR_LANGUAGES: list[str] = env.list(
    _var("DOCINTEL_OCR_LANGUAGES", old="OCR_LANGUAGES"), default=["ell", "eng"]
)
DOCINTEL_TESSDATA_PATH: str = env.str(
    _var("DOCINTEL_TESSDATA_PATH", standard="TESSDATA_PREFIX"), default="/usr/share/tesseract-ocr/5/tessdata"
)
DOCINTEL_CHUNK_TOKENS: int = env.int(_var("DOCINTEL_CHUNK_TOKENS", old="CHUNK_TOKENS"), default=256)
DOCINTEL_CHUNK_OVERLAP_TOKENS: int = env.int(
    _var("DOCINTEL_CHUNK_OVERLAP_TOKENS", old="CHUNK_OVERLAP_TOKENS"), default=32
)
# ingestion (issue 6): PDF path auto|standard|heuristic|native; extra OCR engine models; retry backoff base
DOCINTEL_PDF_PIPELINE: str = env.str(_var("DOCINTEL_PDF_PIPELINE", old="PDF_PIPELINE"), default="auto")
DOCINTEL_OCR_MODELS_PATH: str | None = (
    env.str(_var("DOCINTEL_OCR_MODELS_PATH", old="OCR_MODELS_PATH"), default=None) or None
)
DOCINTEL_RETRY_BACKOFF_SECONDS: float = env.float(
    _var("DOCINTEL_RETRY_BACKOFF_SECONDS", old="RETRY_BACKOFF_SECONDS"), default=5.0
)

# --- Answering -----------------------------------------------------------------------------------------------------
DOCINTEL_RETRIEVAL_TOP_K: int = env.int(_var("DOCINTEL_RETRIEVAL_TOP_K", old="RETRIEVAL_TOP_K"), default=5)
DOCINTEL_GUARD_MODEL_DIR: str | None = (
    env.str(_var("DOCINTEL_GUARD_MODEL_DIR", old="GUARD_MODEL_DIR"), default=None) or None
)
# Retrieval mode: hybrid, dense or keyword; candidates per search, before fusion; the dense leg's weight (keyword:
# 1 - this).
DOCINTEL_RETRIEVAL_MODE: str = env.str(_var("DOCINTEL_RETRIEVAL_MODE", old="RETRIEVAL_MODE"), default="hybrid")
DOCINTEL_RETRIEVAL_CANDIDATES: int = env.int(
    _var("DOCINTEL_RETRIEVAL_CANDIDATES", old="RETRIEVAL_CANDIDATES"), default=30
)
DOCINTEL_RETRIEVAL_DENSE_WEIGHT: float = env.float(
    _var("DOCINTEL_RETRIEVAL_DENSE_WEIGHT", old="RETRIEVAL_DENSE_WEIGHT"), default=0.7
)
# Hybrid fusion: "relative" (min-max score fusion of the two legs, in the app), "rrf" or "dbsf" (in the engine, same
# request). Chosen on the XQuAD dev set (tests/evaluation/test_retrieval_fusion.py).
DOCINTEL_RETRIEVAL_FUSION: str = env.str(_var("DOCINTEL_RETRIEVAL_FUSION", old="RETRIEVAL_FUSION"), default="relative")
# Below this cosine similarity of the best dense hit (and with no keyword hit) the documents "do not say".
DOCINTEL_RETRIEVAL_MIN_DENSE_SCORE: float = env.float(
    _var("DOCINTEL_RETRIEVAL_MIN_DENSE_SCORE", old="RETRIEVAL_MIN_DENSE_SCORE"), default=0.80
)
# Search (search/): the same retrieval, deeper: candidates per leg, results kept (paginated), and the similarity above
# which a hit without any query word still counts (a hit holding a query word always does).
SEARCH_CANDIDATES: int = env.int("SEARCH_CANDIDATES", default=100)
SEARCH_MAX_RESULTS: int = env.int("SEARCH_MAX_RESULTS", default=100)
SEARCH_MIN_DENSE_SCORE: float = env.float("SEARCH_MIN_DENSE_SCORE", default=DOCINTEL_RETRIEVAL_MIN_DENSE_SCORE)
DOCINTEL_HISTORY_TURNS: int = env.int(_var("DOCINTEL_HISTORY_TURNS", old="CHAT_HISTORY_TURNS"), default=3)
DOCINTEL_MAX_QUESTION_BYTES: int = env.int(_var("DOCINTEL_MAX_QUESTION_BYTES", old="MAX_QUESTION_BYTES"), default=4000)
# NeMo Guardrails self-check rails: "input", "output" (both: "input,output"). Off by default: the bundled 135M
# model judges unreliably; enable with a capable LLM. LLM Guard and DocIntel's own rules always run.
DOCINTEL_NEMO_RAILS: list[str] = env.list(_var("DOCINTEL_NEMO_RAILS", old="NEMO_RAILS"), default=[])
# Question quotas (chat/services/quota.py), enforced where an answer starts, so WebSocket, SSE and the sync API share
# them: questions per user per minute, answers running at once per user, and how long a slot is held at most (a
# crashed process frees its slots after this). Counters live in the shared cache (Redis in production).
DOCINTEL_QUESTIONS_PER_MINUTE: int = env.int(
    _var("DOCINTEL_QUESTIONS_PER_MINUTE", old="QUESTIONS_PER_MINUTE"), default=30
)
DOCINTEL_ANSWERS_CONCURRENT: int = env.int(_var("DOCINTEL_ANSWERS_CONCURRENT", old="ANSWERS_CONCURRENT"), default=2)
DOCINTEL_ANSWER_SLOT_SECONDS: int = env.int(
    _var("DOCINTEL_ANSWER_SLOT_SECONDS", old="ANSWER_SLOT_SECONDS"), default=300
)

# --- Evaluation (evaluation/services, issue 5): the RAGAS judge is any OpenAI-compatible server; by default the
# answering model itself (weak: SmolLM2-135M), a stronger one when configured. Reports go to EVAL_REPORTS_DIR.
EVAL_JUDGE_BASE_URL: str = env.str("EVAL_JUDGE_BASE_URL", default="") or LLM_BASE_URL
EVAL_JUDGE_MODEL: str = env.str("EVAL_JUDGE_MODEL", default="") or LLM_MODEL
EVAL_JUDGE_API_KEY: str = env.str("EVAL_JUDGE_API_KEY", default="") or LLM_API_KEY
# How the judge is held to ragas' output schemas: "json_schema" (response_format json_schema, a grammar on llama.cpp,
# vLLM and Ollama) or "json" (json_object, for servers without schema support). Max tokens per judge call.
EVAL_JUDGE_STRUCTURED_OUTPUT: str = env.str("EVAL_JUDGE_STRUCTURED_OUTPUT", default="json_schema")
EVAL_JUDGE_MAX_TOKENS: int = env.int("EVAL_JUDGE_MAX_TOKENS", default=512)
EVAL_REPORTS_DIR = Path(env.str("EVAL_REPORTS_DIR", default=str(BASE_DIR / "reports")))
EVAL_RAGAS_PYTHON = Path(env.str("EVAL_RAGAS_PYTHON", default=str(VAR_DIR / "eval-venv" / "bin" / "python")))
EVAL_DATA_DIR = Path(env.str("EVAL_DATA_DIR", default=str(BASE_DIR.parent / "shared" / "data")))

# --- Chat WebSocket (chat/consumers.py): the server pings every N s; no frame from the client within the timeout
# after a ping drops the connection (close code 4408).
DOCINTEL_WS_HEARTBEAT_SECONDS: float = env.float(
    _var("DOCINTEL_WS_HEARTBEAT_SECONDS", old="WS_HEARTBEAT_SECONDS"), default=30.0
)
DOCINTEL_WS_HEARTBEAT_TIMEOUT: float = env.float(
    _var("DOCINTEL_WS_HEARTBEAT_TIMEOUT", old="WS_HEARTBEAT_TIMEOUT"), default=10.0
)
DOCINTEL_WS_MAX_QUESTION_CHARS: int = env.int(
    _var("DOCINTEL_WS_MAX_QUESTION_CHARS", old="WS_MAX_QUESTION_CHARS"), default=4000
)
# ``history`` frames: at most this many exchanges each, and one every N seconds per socket (refused: rate_limited).
DOCINTEL_WS_HISTORY_ITEMS: int = env.int(_var("DOCINTEL_WS_HISTORY_ITEMS", old="WS_HISTORY_ITEMS"), default=50)
DOCINTEL_WS_HISTORY_INTERVAL: float = env.float(
    _var("DOCINTEL_WS_HISTORY_INTERVAL", old="WS_HISTORY_INTERVAL"), default=1.0
)

# --- Auth, passwords -----------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- i18n ----------------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("el", _("Greek"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media ----------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING  # development and tests serve static files without collectstatic
WHITENOISE_AUTOREFRESH = DEBUG
DATA_UPLOAD_MAX_NUMBER_FILES = 200
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640

# --- DRF, JWT, OpenAPI ---------------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "docintel.api.exceptions.exception_handler",
}
# Refresh tokens rotate: each refresh returns a new one and blacklists the old (token_blacklist app). Logout revokes
# (docintel/services.py user_tokens_revoke); a password change revokes every token through the password-hash claim.
SIMPLE_JWT: dict[str, Any] = {
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "CHECK_REVOKE_TOKEN": True,
}

# --- Sign-in lockout (django-axes, docintel/auth.py): after AXES_FAILURE_LIMIT failed attempts for one email address
# from one client IP, that pair is refused (429) on the API, the portal and the admin for AXES_COOLOFF_MINUTES after
# its last attempt. A success resets the count. (AXES_COOLOFF_TIME is a timedelta: its variable names the unit.)
AXES_FAILURE_LIMIT: int = env.int(_var("AXES_FAILURE_LIMIT", old="LOGIN_FAILURE_LIMIT"), default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int(_var("AXES_COOLOFF_MINUTES", old="LOGIN_COOLOFF_MINUTES"), default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "docintel.auth.login_username"
AXES_CLIENT_IP_CALLABLE = "docintel.auth.client_ip"
AXES_LOCKOUT_CALLABLE = "docintel.auth.lockout_response"
AXES_VERBOSE = False
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "DocIntel API",
    "DESCRIPTION": "Document intelligence portal: documents, questions with citations, chat sessions, health.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # a document's status appears in two components (a document, one of its versions): one enum, one name
    "ENUM_NAME_OVERRIDES": {"DocumentStatusEnum": "documents.models.Document.Status"},
}

# --- Security (production) -----------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"  # a view that must be framed opts in with @xframe_options_sameorigin
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts and styles from this origin only, no inline code (the templates load
# static files; a page that needs an inline block uses the per-response nonce). WebSockets are same-origin ('self').
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging -------------------------------------------------------------------------------------------------------
LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOG_JSON: bool = env.bool("LOG_JSON", default=not DEBUG)
LOGGING_CONFIG = None
configure_logging(json_output=LOG_JSON, level=LOG_LEVEL)
for _old, _new in _RENAMED:
    # one line per old name: "settings_variable_renamed old=OCR_ENGINE new=DOCINTEL_OCR_ENGINE"
    structlog.get_logger("docintel.settings").warning("settings_variable_renamed", old=_old, new=_new)
