"""JWT sign-in, the anonymous persona on every route, the OpenAPI schema and its committed copy, deploy checks."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
import yaml
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import REPO

SCHEMA_FILE = REPO / "docs" / "openapi.yaml"
REGENERATE = "DEBUG=true .venv/bin/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml"


def _generated_schema() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


@pytest.mark.django_db
def test_sign_in_refresh_and_verify_with_jwt(api_as, anon, reader):
    tokens = anon.post("/api/v1/auth/token/", {"email": "reader@example.com", "password": "pw-reader-1"}, format="json")
    assert tokens.status_code == 200, tokens.content
    access, refresh = tokens.json()["access"], tokens.json()["refresh"]

    client = api_as(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.get("/api/v1/sessions/").status_code == 200

    renewed = anon.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert renewed.status_code == 200 and renewed.json()["access"]
    assert anon.post("/api/v1/auth/token/verify/", {"token": access}, format="json").status_code == 200

    bad = anon.post("/api/v1/auth/token/verify/", {"token": "not-a-token"}, format="json")
    assert bad.status_code == 401
    assert bad.json()["code"] == "authentication_failed" and bad.json()["detail"] == {"reason": "token_not_valid"}
    bad_refresh = anon.post("/api/v1/auth/token/refresh/", {"refresh": access}, format="json")  # wrong token type
    assert bad_refresh.status_code == 401


@pytest.mark.django_db
def test_sign_in_refuses_a_wrong_password_an_inactive_user_and_missing_fields(anon, reader, outsider):
    wrong = anon.post("/api/v1/auth/token/", {"email": "reader@example.com", "password": "nope"}, format="json")
    assert wrong.status_code == 401 and wrong.json()["code"] == "authentication_failed"
    assert "password" not in str(wrong.json()["detail"] or "")
    outsider.is_active = False
    outsider.save(update_fields=["is_active"])
    inactive = anon.post("/api/v1/auth/token/", {"email": outsider.email, "password": "pw-outsider-1"}, format="json")
    assert inactive.status_code == 401
    for junk in ({"email": "reader@example.com", "password": "pw\x00"}, {"email": 1, "password": "pw-reader-1"}):
        assert anon.post("/api/v1/auth/token/", junk, format="json").status_code == 400
    assert anon.post("/api/v1/auth/token/refresh/", {"refresh": "\xa0"}, format="json").status_code == 401
    missing = anon.post("/api/v1/auth/token/", {"email": "reader@example.com"}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_input"
    assert set(missing.json()["detail"]) == {"password"}


@pytest.mark.django_db
def test_an_expired_or_foreign_token_is_refused(api_as, reader, anon):
    expired = AccessToken.for_user(reader)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    client = api_as(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")
    response = client.get("/api/v1/documents/")
    assert response.status_code == 401 and response.json()["detail"] == {"reason": "token_not_valid"}
    client.credentials(HTTP_AUTHORIZATION="Bearer " + str(expired)[:-4] + "AAAA")  # signature tampered
    assert client.get("/api/v1/documents/").status_code == 401


def _protected_operations() -> list[tuple[str, str]]:
    operations = []
    for path, item in _generated_schema()["paths"].items():
        for method, operation in item.items():
            if operation.get("security"):
                concrete = path.replace("{id}", "1").replace("{response_id}", "1")
                concrete = concrete.replace("{session_id}", "00000000-0000-0000-0000-000000000001")
                operations.append((method, concrete))
    return operations


@pytest.mark.django_db
def test_every_route_but_health_schema_docs_and_sign_in_requires_a_user(anon):
    operations = _protected_operations()
    assert len(operations) >= 12, operations
    for method, path in operations:
        response = getattr(anon, method)(path, {}, format="json")
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["code"] == "not_authenticated"
    public = {
        op["operationId"]
        for item in _generated_schema()["paths"].values()
        for op in item.values()
        if not op.get("security")
    }
    assert public == {
        "health_retrieve",
        "auth_token_create",
        "auth_token_refresh_create",
        "auth_token_verify_create",
        "auth_logout_create",  # the refresh token in the body is the credential
    }


@pytest.mark.django_db
def test_schema_and_swagger_ui_are_served_offline(anon):
    schema = anon.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert schema.status_code == 200 and b"/api/v1/documents/" in schema.content
    docs = anon.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html and "cdn." not in html


@pytest.mark.django_db
def test_an_unknown_api_path_answers_the_json_error_shape(api_as, librarian):
    response = api_as(librarian).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "detail": None}
    assert api_as(librarian).get("/api/v1/documents/-1/").json()["code"] == "not_found"
    # a write to an unknown path is a JSON 404 too (no CSRF page: nothing there to protect)
    strict = APIClient(enforce_csrf_checks=True)
    assert strict.delete("/api/v1/documents/x/").json()["code"] == "not_found"
    assert strict.delete("/api/v1/documents/a%0D%0Ab/").json()["code"] == "not_found"


def test_committed_schema_matches_the_generated_one():
    generated = yaml.safe_load(OpenApiYamlRenderer().render(_generated_schema(), renderer_context={}))
    committed = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == generated, f"docs/openapi.yaml is stale; regenerate it with: {REGENERATE}"


def test_schema_generates_without_warnings_and_validates():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", os.devnull],
        check=False,
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "docintel.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_deploy_checks_pass_with_production_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "docintel.settings",
            "DOCINTEL_READ_DOT_ENV": "0",
            "TESTING": "false",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "docintel.example.com",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
