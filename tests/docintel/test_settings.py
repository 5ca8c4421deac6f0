"""Settings come from the environment; with DEBUG off a missing secret stops start-up with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

CHECK = (
    "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"
)


def _run(env_overrides: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "REDIS"))}
    env.update({"DJANGO_SETTINGS_MODULE": "docintel.settings", "DOCINTEL_READ_DOT_ENV": "0"})
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )


PROD = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 64,
    "ALLOWED_HOSTS": "docintel.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_production_without_secret_key_fails_fast():
    result = _run({**PROD, "SECRET_KEY": None})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY is not set" in result.stderr


def test_production_rejects_a_short_secret_key():
    result = _run({**PROD, "SECRET_KEY": "short"})
    assert result.returncode != 0 and "shorter than 50" in result.stderr


def test_production_without_allowed_hosts_or_redis_fails_fast():
    assert "ALLOWED_HOSTS is not set" in _run({**PROD, "ALLOWED_HOSTS": None}).stderr
    assert "REDIS_URL is not set" in _run({**PROD, "REDIS_URL": None}).stderr


def test_production_with_everything_set_starts_with_the_pool_configured():
    result = _run({**PROD, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test"})
    assert result.returncode == 0, result.stderr
    assert "'min_size': 5" in result.stdout and "'max_size': 20" in result.stdout


def test_pool_sizes_come_from_the_environment():
    result = _run({**PROD, "DB_POOL_MIN_SIZE": "2", "DB_POOL_MAX_SIZE": "7"})
    assert result.returncode == 0, result.stderr
    assert "'min_size': 2" in result.stdout and "'max_size': 7" in result.stdout


def test_development_mode_starts_with_embedded_defaults():
    result = _run({"DEBUG": "true", "SECRET_KEY": None, "DATABASE_URL": None})
    assert result.returncode == 0, result.stderr
    assert "transaction_mode" in result.stdout  # SQLite in WAL/immediate mode, no server needed


def test_running_database_uses_the_pool(settings):
    from django.db import connection

    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert connection.settings_dict["OPTIONS"]["pool"]["max_size"] == settings.DB_POOL_MAX_SIZE


def test_a_haystack_log_line_is_printed_once():
    """Haystack's import-time handler and the root handler both printed each of its lines (daphne.log had two)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    code = (
        "import os, logging; os.environ['DJANGO_SETTINGS_MODULE'] = 'docintel.settings'; import django; "
        "django.setup(); import haystack; logging.getLogger('haystack.core').warning('ONE-LINE-%s', 'Ελληνικά')"
    )
    env = {k: v for k, v in os.environ.items() if k != "HAYSTACK_LOGGING_IGNORE_STRUCTLOG"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True, env=env
    )
    assert (out.stdout + out.stderr).count("ONE-LINE-Ελληνικά") == 1, out.stderr
