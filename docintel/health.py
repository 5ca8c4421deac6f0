"""Health probes for the database, Redis, the vector store and the model servers. Never report secrets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import structlog
from django.conf import settings
from django.db import connection

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    """One dependency's answer to its probe, as ``/api/v1/health`` reports it under ``checks[name]``.

    ``error`` is the exception's class name only (never its message, which may hold a URL or a key); a probe that
    is not ``required`` does not make the whole status ``down``.
    """

    name: str
    ok: bool
    latency_ms: float
    error: str = ""
    required: bool = True


def _timed(name: str, probe: Callable[[], None], *, required: bool = True) -> ProbeResult:
    start = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - a probe boundary: any failure means "down", logged, never raised
        latency = (time.perf_counter() - start) * 1000
        log.warning("health_probe_failed", probe=name, error_type=type(exc).__name__)
        return ProbeResult(
            name=name, ok=False, latency_ms=round(latency, 1), error=type(exc).__name__, required=required
        )
    return ProbeResult(name=name, ok=True, latency_ms=round((time.perf_counter() - start) * 1000, 1), required=required)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _redis() -> None:
    import redis  # noqa: PLC0415 - only needed when Redis is configured

    assert settings.REDIS_URL
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _http_get(url: str, headers: dict[str, str] | None = None) -> None:
    response = httpx.get(url, timeout=3.0, headers=headers or {})
    response.raise_for_status()


def _qdrant() -> None:
    headers = {"api-key": settings.QDRANT_API_KEY} if settings.QDRANT_API_KEY else None
    _http_get(settings.QDRANT_URL.rstrip("/") + "/readyz", headers)


def _llm() -> None:
    _http_get(settings.LLM_BASE_URL.rstrip("/") + "/models", {"Authorization": f"Bearer {settings.LLM_API_KEY}"})


def _embeddings() -> None:
    _http_get(
        settings.EMBEDDING_BASE_URL.rstrip("/") + "/models", {"Authorization": f"Bearer {settings.EMBEDDING_API_KEY}"}
    )


def health_check() -> dict[str, Any]:
    """Run every probe and summarise: ``{"status": "ok"|"degraded"|"down", "checks": {...}}``."""
    probes = [_timed("database", _database)]
    if settings.REDIS_URL:
        probes.append(_timed("redis", _redis))
    probes.append(_timed("qdrant", _qdrant))
    probes.append(_timed("llm", _llm))
    if settings.EMBEDDING_BASE_URL.rstrip("/") != settings.LLM_BASE_URL.rstrip("/"):
        probes.append(_timed("embeddings", _embeddings))
    failed_required = [p for p in probes if not p.ok and p.required]
    status = "ok" if not failed_required else "down"
    return {
        "status": status,
        "checks": {p.name: {k: v for k, v in asdict(p).items() if k != "name"} for p in probes},
    }
