"""Settings come from the environment; with DEBUG off a missing secret stops start-up with a clear message."""

from __future__ import annotations

import ast
import json
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
        "django.setup(); import haystack; logging.getLogger('haystack.core').warning('ONE-LINE-%s', 'Ελληνικά'); "
        "logging.getLogger('haystack.core.pipeline.pipeline').info('Running component NOISE')"
    )
    env = {k: v for k, v in os.environ.items() if k != "HAYSTACK_LOGGING_IGNORE_STRUCTLOG"} | {"LOG_LEVEL": "INFO"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True, env=env
    )
    assert (out.stdout + out.stderr).count("ONE-LINE-Ελληνικά") == 1, out.stderr
    assert "NOISE" not in out.stdout + out.stderr  # a pipeline's per-component INFO lines are not events of ours


# --- Every setting is read from the variable of its own name (issue 14) ---------------------------------------------

# The exceptions, each with its reason. A variable listed here and no longer read fails the test (the list stays short).
NAME_EXCEPTIONS = {
    # Django's and dj-database-url's convention: one URL becomes the DATABASES dict.
    "DATABASE_URL": "_database",
    # keys inside a dict-valued setting: the variable names the key, the dict is one setting
    "DATABASE_TEST_NAME": None,
    "DB_POOL_ENABLED": None,
    "CELERY_VISIBILITY_TIMEOUT": "CELERY_BROKER_TRANSPORT_OPTIONS",
    "CELERY_UNACKED_RESTORE_INTERVAL": "CELERY_BROKER_TRANSPORT_OPTIONS",
    "CELERY_UNACKED_RESTORE_THROTTLE": "CELERY_BROKER_TRANSPORT_OPTIONS",
    "JWT_ACCESS_MINUTES": "SIMPLE_JWT",
    "JWT_REFRESH_DAYS": "SIMPLE_JWT",
    # one of the DATABASE_* variables beside DATABASE_URL, whose roles it lists (README, audit_protect)
    "DATABASE_APP_ROLES": "DOCINTEL_DB_APP_ROLES",
    # a timedelta: the variable carries its unit (axes reads a bare number as hours)
    "AXES_COOLOFF_MINUTES": "AXES_COOLOFF_TIME",
}

# Setting, its old variable, a value for it, and what the setting must become: every rename of issue 14.
RENAMED = [
    ("TESTING", "DOCINTEL_TESTING", "false", False),
    ("VAR_DIR", "DOCINTEL_VAR_DIR", "/tmp/docintel-var-Ελληνικά", "/tmp/docintel-var-Ελληνικά"),
    ("CELERY_TASK_DEFAULT_QUEUE", "CELERY_DEFAULT_QUEUE", "q-old", "q-old"),
    ("DOCINTEL_OCR_ENGINE", "OCR_ENGINE", "easyocr", "easyocr"),
    ("DOCINTEL_OCR_LANGUAGES", "OCR_LANGUAGES", "ell,deu", ["ell", "deu"]),
    ("DOCINTEL_CHUNK_TOKENS", "CHUNK_TOKENS", "111", 111),
    ("DOCINTEL_CHUNK_OVERLAP_TOKENS", "CHUNK_OVERLAP_TOKENS", "11", 11),
    ("DOCINTEL_PDF_PIPELINE", "PDF_PIPELINE", "native", "native"),
    ("DOCINTEL_OCR_MODELS_PATH", "OCR_MODELS_PATH", "/srv/ocr", "/srv/ocr"),
    ("DOCINTEL_RETRY_BACKOFF_SECONDS", "RETRY_BACKOFF_SECONDS", "0.25", 0.25),
    ("DOCINTEL_RETRIEVAL_TOP_K", "RETRIEVAL_TOP_K", "7", 7),
    ("DOCINTEL_GUARD_MODEL_DIR", "GUARD_MODEL_DIR", "/srv/guard", "/srv/guard"),
    ("DOCINTEL_RETRIEVAL_MODE", "RETRIEVAL_MODE", "dense", "dense"),
    ("DOCINTEL_RETRIEVAL_CANDIDATES", "RETRIEVAL_CANDIDATES", "17", 17),
    ("DOCINTEL_RETRIEVAL_DENSE_WEIGHT", "RETRIEVAL_DENSE_WEIGHT", "0.5", 0.5),
    ("DOCINTEL_RETRIEVAL_FUSION", "RETRIEVAL_FUSION", "rrf", "rrf"),
    ("DOCINTEL_RETRIEVAL_MIN_DENSE_SCORE", "RETRIEVAL_MIN_DENSE_SCORE", "0.5", 0.5),
    ("DOCINTEL_HISTORY_TURNS", "CHAT_HISTORY_TURNS", "4", 4),
    ("DOCINTEL_MAX_QUESTION_BYTES", "MAX_QUESTION_BYTES", "999", 999),
    ("DOCINTEL_NEMO_RAILS", "NEMO_RAILS", "input,output", ["input", "output"]),
    ("DOCINTEL_QUESTIONS_PER_MINUTE", "QUESTIONS_PER_MINUTE", "9", 9),
    ("DOCINTEL_ANSWERS_CONCURRENT", "ANSWERS_CONCURRENT", "3", 3),
    ("DOCINTEL_ANSWER_SLOT_SECONDS", "ANSWER_SLOT_SECONDS", "33", 33),
    ("DOCINTEL_WS_HEARTBEAT_SECONDS", "WS_HEARTBEAT_SECONDS", "2.5", 2.5),
    ("DOCINTEL_WS_HEARTBEAT_TIMEOUT", "WS_HEARTBEAT_TIMEOUT", "1.5", 1.5),
    ("DOCINTEL_WS_MAX_QUESTION_CHARS", "WS_MAX_QUESTION_CHARS", "123", 123),
    ("DOCINTEL_WS_HISTORY_ITEMS", "WS_HISTORY_ITEMS", "12", 12),
    ("DOCINTEL_WS_HISTORY_INTERVAL", "WS_HISTORY_INTERVAL", "0.5", 0.5),
    ("AXES_FAILURE_LIMIT", "LOGIN_FAILURE_LIMIT", "8", 8),
]
# Another tool's own variable, still read (silently) when the setting's own is unset.
STANDARD = [
    ("DOCINTEL_TESSDATA_PATH", "TESSDATA_PREFIX", "/srv/tessdata", "/srv/tessdata"),  # Tesseract's
    ("DOCINTEL_DOCLING_ARTIFACTS_PATH", "DOCLING_ARTIFACTS_PATH", "/srv/docling", "/srv/docling"),  # Docling's
]


def _variable_reads(tree: ast.Module) -> list[tuple[str | None, str]]:
    """(setting assigned or None, variable read) for every ``env.*(...)``/``_required(...)`` call in settings.py.

    The variable is the call's first argument: a string, or ``_var("NAME", old=...)`` whose first argument is the name.
    """
    reads: list[tuple[str | None, str]] = []

    def variable(call: ast.Call) -> str | None:
        func = call.func
        is_env = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
        is_env = is_env and isinstance(func, ast.Attribute) and func.attr != "read_env"
        is_required = isinstance(func, ast.Name) and func.id == "_required"
        if not (is_env or is_required) or not call.args:
            return None
        first = call.args[0]
        if isinstance(first, ast.Call) and isinstance(first.func, ast.Name) and first.func.id == "_var":
            first = first.args[0]
        assert isinstance(first, ast.Constant) and isinstance(first.value, str), ast.dump(call)
        return first.value

    def visit(statements: list[ast.stmt]) -> None:  # module level and its if-blocks; not the helpers' bodies
        for statement in statements:
            if isinstance(statement, ast.If):
                expressions: list[tuple[str | None, ast.expr]] = [(None, statement.test)]
                visit(statement.body)
                visit(statement.orelse)
            elif isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
                target = statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
                expressions = [(target.id if isinstance(target, ast.Name) else None, statement.value)]
            elif isinstance(statement, ast.Expr):
                expressions = [(None, statement.value)]
            else:
                continue
            for name, expression in expressions:
                for node in ast.walk(expression):
                    if isinstance(node, ast.Call) and (read := variable(node)) is not None:
                        reads.append((name, read))

    visit(tree.body)
    return reads


def test_every_setting_is_read_from_the_variable_of_its_own_name():
    tree = ast.parse((REPO / "docintel" / "settings.py").read_text(encoding="utf-8"))
    reads = _variable_reads(tree)
    assert len(reads) > 80  # the parser sees the module (a refactor that hides the reads fails here, not silently)
    wrong = [(setting, var) for setting, var in reads if setting != var and var not in NAME_EXCEPTIONS]
    assert wrong == []
    unexpected = [(s, v) for s, v in reads if v in NAME_EXCEPTIONS and NAME_EXCEPTIONS[v] not in (None, s)]
    assert unexpected == []
    assert set(NAME_EXCEPTIONS) <= {var for _, var in reads}, "an exception no longer read: drop it from the list"
    renamed_in_code = {setting for setting, var in reads} & {setting for setting, *_ in RENAMED + STANDARD}
    assert renamed_in_code == {setting for setting, *_ in RENAMED + STANDARD}


def _read_settings(env_overrides: dict[str, str], names: list[str]) -> tuple[dict[str, object], str]:
    """Import the settings in a fresh process with ``env_overrides``; return the named values and the log."""
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str, ensure_ascii=False))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {n for n, *_ in RENAMED + STANDARD}}
    env = {k: v for k, v in env.items() if k not in {o for _, o, *_ in RENAMED + STANDARD}}
    env.update({"DJANGO_SETTINGS_MODULE": "docintel.settings", "DOCINTEL_READ_DOT_ENV": "0", "DEBUG": "true"})
    env.update({"LOG_LEVEL": "WARNING", "LOG_JSON": "true", **env_overrides})
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_an_old_variable_name_still_works_and_is_logged_once_with_the_new_name():
    values, log = _read_settings(
        {old: raw for _, old, raw, _ in RENAMED + STANDARD}, [s for s, *_ in RENAMED + STANDARD]
    )
    assert values == {setting: expected for setting, _, _, expected in RENAMED + STANDARD}
    events = [json.loads(line) for line in log.splitlines() if "settings_variable_renamed" in line]
    assert sorted((e["old"], e["new"]) for e in events) == sorted((old, setting) for setting, old, *_ in RENAMED)
    assert all(e["level"] == "warning" for e in events)
    # another tool's own variable is a fallback, not a deprecation: no notice
    assert not any(e["old"] in {"TESSDATA_PREFIX", "DOCLING_ARTIFACTS_PATH"} for e in events)


def test_the_new_variable_name_wins_over_the_old_one_without_a_notice():
    new = {setting: raw for setting, _, raw, _ in RENAMED + STANDARD}
    old = {
        old: "0" if isinstance(expected, int | float) else "stale-παλιό" for _, old, _, expected in RENAMED + STANDARD
    }
    old["DOCINTEL_TESTING"] = "true"  # the new TESTING=false must win
    values, log = _read_settings({**old, **new}, [s for s, *_ in RENAMED + STANDARD])
    assert values == {setting: expected for setting, _, _, expected in RENAMED + STANDARD}
    assert "settings_variable_renamed" not in log


def test_the_axes_cool_off_reads_minutes_from_its_own_variable_or_the_old_one():
    values, log = _read_settings({"AXES_COOLOFF_MINUTES": "7", "LOGIN_COOLOFF_MINUTES": "99"}, ["AXES_COOLOFF_TIME"])
    assert values == {"AXES_COOLOFF_TIME": "0:07:00"} and "settings_variable_renamed" not in log
    values, log = _read_settings({"LOGIN_COOLOFF_MINUTES": "20"}, ["AXES_COOLOFF_TIME"])
    assert values == {"AXES_COOLOFF_TIME": "0:20:00"}
    assert '"old": "LOGIN_COOLOFF_MINUTES"' in log and '"new": "AXES_COOLOFF_MINUTES"' in log
