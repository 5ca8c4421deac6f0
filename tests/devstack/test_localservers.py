"""The embedded-mode process supervisor starts real servers and reports health with them up."""

from __future__ import annotations

import httpx
import pytest

from devstack import localservers
from docintel.management.commands.runportal import _local_port


def test_embedding_server_starts_serves_and_stops(server_logs):
    port = localservers.free_port()
    proc = localservers.embedding_server(port=port, log_dir=server_logs).start(timeout=60)
    try:
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/embeddings", json={"model": "e5-query", "input": ["Πόσο κοστίζει;"]}
        )
        assert len(response.json()["data"][0]["embedding"]) == 384
    finally:
        proc.stop()
    assert proc.process is not None and proc.process.poll() is not None
    assert not localservers.port_open(port)


def test_a_process_that_exits_at_once_is_reported(tmp_path):
    proc = localservers.ManagedProcess(
        name="broken", argv=["false"], env={}, ready=lambda: False, log_path=tmp_path / "broken.log"
    )
    with pytest.raises(RuntimeError, match="broken exited"):
        proc.start(timeout=10)


def test_runportal_starts_only_local_dependencies_that_are_not_running():
    assert _local_port("http://ollama.internal:11434/v1") is None
    busy = localservers.free_port()
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", busy))
        sock.listen()
        assert _local_port(f"http://127.0.0.1:{busy}/v1") is None
    free = localservers.free_port()
    assert _local_port(f"http://127.0.0.1:{free}/v1") == free


def test_llm_server_finds_the_bundled_model():
    from devstack.llm_server import default_model_path

    path = default_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


@pytest.mark.django_db
def test_health_is_ok_when_every_dependency_answers(client, settings, llm_url, embedding_url, qdrant_url):
    settings.LLM_BASE_URL = llm_url
    settings.EMBEDDING_BASE_URL = embedding_url
    settings.QDRANT_URL = qdrant_url
    response = client.get("/api/v1/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "qdrant", "llm", "embeddings"}
    assert all(check["ok"] for check in body["checks"].values())


def test_background_servers_run_niced_so_a_readers_answer_keeps_its_core(server_logs):
    """`make run` starts the worker and the ingestion embedder at nice 10 (README, "CPU on the embedded default")."""
    import os

    port = localservers.free_port()
    proc = localservers.embedding_server(port=port, log_dir=server_logs, name="embeddings-ingest", nice=10)
    proc.start(timeout=60)
    try:
        assert proc.process is not None
        assert os.getpriority(os.PRIO_PROCESS, proc.process.pid) == 10
        assert proc.log_path is not None and proc.log_path.name == "embeddings-ingest.log"
    finally:
        proc.stop()
    worker = localservers.celery_worker(log_dir=server_logs, nice=10)
    assert worker.argv[:3] == ["nice", "-n", "10"]
    assert localservers.celery_worker(log_dir=server_logs).argv[0].endswith("celery")
