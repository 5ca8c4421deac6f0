"""The error family renders one shape; health reports each dependency with latency and no secrets."""

from __future__ import annotations

import pytest

from docintel.errors import DocumentRejected, DuplicateDocument, LLMUnavailable


def test_errors_carry_code_status_and_public_shape():
    err = DuplicateDocument(detail={"document_id": 3})
    assert (err.code, err.status) == ("duplicate_document", 409)
    assert err.as_dict() == {"code": "duplicate_document", "message": err.default_message, "detail": {"document_id": 3}}
    assert LLMUnavailable().status == 503
    assert DocumentRejected("locked", code="encrypted").code == "encrypted"
    assert DocumentRejected().code == "document_rejected"


@pytest.mark.django_db
def test_health_reports_each_probe_and_503_when_a_dependency_is_down(client, settings):
    settings.QDRANT_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.LLM_API_KEY = "sk-secret-value"
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"]["ok"] is True and body["checks"]["redis"]["ok"] is True
    assert body["checks"]["qdrant"]["ok"] is False and body["checks"]["llm"]["ok"] is False
    assert all("latency_ms" in check for check in body["checks"].values())
    assert "sk-secret-value" not in response.content.decode()
    assert "127.0.0.1:9" not in response.content.decode()


def test_request_id_is_echoed_and_generated(client, db):
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="req-42")
    assert response["X-Request-ID"] == "req-42"
    generated = client.get("/accounts/login/", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32
