"""The Qdrant collection of chunk vectors: naming, creation, upsert, delete, payload sync, permission filter.

Always a remote client (``QdrantClient(url=QDRANT_URL)``): in the embedded mode the URL points at
``manage.py vectorstore``, which serves the same REST API over Qdrant Edge. Also the backup (snapshots) and the
migration of an old local-mode store.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import structlog
from django.conf import settings

from docintel.errors import VectorStoreUnavailable
from documents.services.embeddings import embed_query, embedding_model_slug

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

log = structlog.get_logger(__name__)

DENSE = "dense"
SPARSE = "sparse"
KNOWN_DIMENSIONS = {"e5": 384, "multilingual_e5_small": 384, "qwen3_embedding_0_6b": 1024}
INDEXED_FIELDS = {
    "document_id": "integer",
    "access_group_ids": "integer",
    "language": "keyword",
    "quarantined": "bool",
    "staged": "bool",
}
# Payload flag of a passage held out of retrieval (flagged as injected text, not released): every search excludes it.
QUARANTINED = "quarantined"
# Payload flag of the points of a document version still waiting to become current: every search excludes them.
STAGED = "staged"


@dataclass(frozen=True)
class PointData:
    """One chunk as a Qdrant point."""

    id: str
    dense: list[float]
    sparse_indices: list[int]
    sparse_values: list[float]
    payload: dict[str, Any]


@functools.cache
def embedding_dimension() -> int:
    """The dense vector size of ``EMBEDDING_MODEL`` (known models, else measured once per process)."""
    slug = embedding_model_slug()
    if slug in KNOWN_DIMENSIONS:
        return KNOWN_DIMENSIONS[slug]
    return len(embed_query("dimension probe"))


def collection_name(dim: int | None = None) -> str:
    """``{QDRANT_COLLECTION_PREFIX}_{model slug}_{dim}``: a new model or size gets a new collection."""
    return f"{settings.QDRANT_COLLECTION_PREFIX}_{embedding_model_slug()}_{dim or embedding_dimension()}"


def client_limits() -> Any:
    """The connection pool of every client of the store: connections kept alive between requests.

    qdrant-client turns keep-alive off when the URL's host is ``localhost`` or ``127.0.0.1`` (the embedded store's),
    so each request paid a TCP connection and the store a new connection to serve: about a millisecond, more than the
    engine spends on a filtered search at 10k points. Idle connections are dropped after 5 s, before the store drops
    them (10 s), so a request never goes out on a connection the store is closing.

    Returns:
        ``httpx.Limits`` for ``QdrantClient(limits=...)`` and ``AsyncQdrantClient(limits=...)``.
    """
    import httpx

    return httpx.Limits(max_connections=None, max_keepalive_connections=4, keepalive_expiry=5.0)


def qdrant_client() -> QdrantClient:
    """The process's client for ``QDRANT_URL`` (never local mode: one process owns the local store).

    One client per URL, key and timeout, kept: a new one costs about 20 ms (httpx builds a TLS context), and its
    connections are kept alive (:func:`client_limits`). QdrantClient's REST transport is safe to share between threads;
    a forked child (Celery's prefork pool) makes its own, never using its parent's sockets.
    """
    return _client(str(settings.QDRANT_URL), settings.QDRANT_API_KEY or None, int(settings.QDRANT_TIMEOUT), os.getpid())


@functools.cache
def _client(url: str, api_key: str | None, timeout: int, pid: int) -> QdrantClient:
    from qdrant_client import QdrantClient  # heavy, worker only

    return QdrantClient(url=url, api_key=api_key, timeout=timeout, check_compatibility=False, limits=client_limits())


@contextmanager
def _unavailable_as_transient() -> Iterator[None]:
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    try:
        yield
    except ResponseHandlingException as exc:
        raise VectorStoreUnavailable(f"The vector store is unreachable: {exc}") from exc
    except UnexpectedResponse as exc:
        if exc.status_code is not None and (exc.status_code >= 500 or exc.status_code == 429):
            raise VectorStoreUnavailable(f"The vector store answered {exc.status_code}.") from exc
        raise
    except (httpx.HTTPError, ConnectionError, TimeoutError) as exc:
        raise VectorStoreUnavailable(f"The vector store is unreachable: {type(exc).__name__}") from exc


def collection_ensure(*, client: QdrantClient, dim: int | None = None) -> str:
    """Create the collection (dense cosine + sparse with IDF) and its payload indexes when missing."""
    from qdrant_client import models

    name = collection_name(dim)
    with _unavailable_as_transient():
        if client.collection_exists(name):
            _payload_indexes_ensure(client=client, name=name)
            return name
        client.create_collection(
            collection_name=name,
            vectors_config={
                DENSE: models.VectorParams(size=dim or embedding_dimension(), distance=models.Distance.COSINE)
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        for field, schema in INDEXED_FIELDS.items():
            client.create_payload_index(name, field_name=field, field_schema=models.PayloadSchemaType(schema))
    log.info("vector_collection_created", collection=name)
    return name


_indexes_checked: set[tuple[str, str]] = set()


def _payload_indexes_ensure(*, client: QdrantClient, name: str) -> None:
    """Create the payload indexes an older collection lacks (once per process and collection).

    A collection made before a field joined ``INDEXED_FIELDS`` (``quarantined``, ``staged``) would filter on it by
    reading every candidate's payload: measured 3-6 ms a query instead of 1 ms at 10k points on the embedded store.
    """
    from qdrant_client import models

    key = (str(settings.QDRANT_URL), name)
    if key in _indexes_checked:
        return
    present = set(client.get_collection(name).payload_schema or {})
    for field, schema in INDEXED_FIELDS.items():
        if field not in present:
            client.create_payload_index(
                name, field_name=field, field_schema=models.PayloadSchemaType(schema), wait=True
            )
            log.info("vector_payload_index_created", collection=name, field=field)
    _indexes_checked.add(key)


def _document_filter(document_id: int) -> Any:
    from qdrant_client import models

    return models.Filter(must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))])


def points_batch(points: Sequence[PointData]) -> Any:
    """``points`` as one columnar ``models.Batch`` (ids, dense and sparse vector columns, payloads) for an upsert.

    Built with ``model_construct`` (no pydantic validation: ``PointData`` is typed, and the store validates every
    point it receives): validating 256 points of 384 floats as ``PointStruct`` took about 50 ms, as much as
    serialising them. The JSON body is the same ``PointsBatch`` qdrant-client sends for a validated ``Batch``.

    Returns:
        A ``qdrant_client.models.Batch`` for ``QdrantClient.upsert(points=...)``.
    """
    from qdrant_client import models

    return models.Batch.model_construct(
        ids=[p.id for p in points],
        vectors={
            DENSE: [p.dense for p in points],
            SPARSE: [
                models.SparseVector.model_construct(indices=p.sparse_indices, values=p.sparse_values) for p in points
            ],
        },
        payloads=[p.payload for p in points],
    )


def points_replace(*, document_id: int, points: Sequence[PointData], batch_size: int = 256) -> int:
    """Upsert a document's points (deterministic ids) and delete any of its points not in ``points``.

    A re-run upserts the same ids; chunks that no longer exist (a shorter re-ingest) lose their points.

    Returns:
        The number of points the document has afterwards.
    """
    from qdrant_client import models

    client = qdrant_client()
    dim = len(points[0].dense) if points else None
    name = collection_ensure(client=client, dim=dim)
    keep: list[int | str | uuid.UUID] = [p.id for p in points]
    with _unavailable_as_transient():
        for start in range(0, len(points), batch_size):
            client.upsert(collection_name=name, points=points_batch(points[start : start + batch_size]), wait=True)
        stale = models.Filter(
            must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))],
            must_not=[models.HasIdCondition(has_id=keep)] if keep else [],
        )
        client.delete(collection_name=name, points_selector=models.FilterSelector(filter=stale), wait=True)
        return int(client.count(name, count_filter=_document_filter(document_id), exact=True).count)


def points_delete_document(*, document_id: int) -> int:
    """Delete every point of a document; returns how many remain (0 unless the store misbehaves)."""
    from qdrant_client import models

    client = qdrant_client()
    name = collection_name()
    with _unavailable_as_transient():
        if not client.collection_exists(name):
            return 0
        client.delete(
            collection_name=name, points_selector=models.FilterSelector(filter=_document_filter(document_id)), wait=True
        )
        return int(client.count(name, count_filter=_document_filter(document_id), exact=True).count)


def points_count_document(*, document_id: int) -> int:
    """How many points a document has in the current collection."""
    client = qdrant_client()
    name = collection_name()
    with _unavailable_as_transient():
        if not client.collection_exists(name):
            return 0
        return int(client.count(name, count_filter=_document_filter(document_id), exact=True).count)


def points_set_access(*, document_id: int, access_group_ids: list[int]) -> None:
    """Rewrite ``access_group_ids`` on every point of a document (the groups changed)."""
    from qdrant_client import models

    client = qdrant_client()
    name = collection_name()
    with _unavailable_as_transient():
        if not client.collection_exists(name):
            return
        client.set_payload(
            collection_name=name,
            payload={"access_group_ids": access_group_ids},
            points=models.FilterSelector(filter=_document_filter(document_id)),
            wait=True,
        )


def points_set_staged(*, document_id: int, staged: bool) -> None:
    """Set or clear ``staged`` on every point of a document (one request): a version's points join the search."""
    from qdrant_client import models

    client = qdrant_client()
    name = collection_name()
    with _unavailable_as_transient():
        if not client.collection_exists(name):
            return
        client.set_payload(
            collection_name=name,
            payload={STAGED: staged},
            points=models.FilterSelector(filter=_document_filter(document_id)),
            wait=True,
        )


def retrievable_conditions() -> list[Any]:
    """The ``must_not`` conditions every search carries, librarians' too: quarantined passages are never retrieved."""
    from qdrant_client import models

    return [
        models.FieldCondition(key=QUARANTINED, match=models.MatchValue(value=True)),
        models.FieldCondition(key=STAGED, match=models.MatchValue(value=True)),  # a version not yet current
    ]


def permission_filter(*, group_ids: Sequence[int] | None) -> Any:
    """The Qdrant filter for a reader's groups (``None``: a librarian, no group condition) and the quarantine.

    An empty list gives a filter nothing matches: never a query without a filter for a reader.
    """
    from qdrant_client import models

    must_not = retrievable_conditions()
    if group_ids is None:
        return models.Filter(must_not=must_not)
    if not group_ids:
        return models.Filter(must=[models.HasIdCondition(has_id=[])])
    return models.Filter(
        must=[models.FieldCondition(key="access_group_ids", match=models.MatchAny(any=list(group_ids)))],
        must_not=must_not,
    )


def points_set_quarantine(*, point_ids: Sequence[str], quarantined: bool) -> None:
    """Set or clear the quarantine flag on the given points (a librarian quarantined or released passages)."""
    client = qdrant_client()
    name = collection_name()
    with _unavailable_as_transient():
        if not point_ids or not client.collection_exists(name):
            return
        client.set_payload(collection_name=name, payload={QUARANTINED: quarantined}, points=list(point_ids), wait=True)


def collections_backup(*, output: Path, collections: Sequence[str] | None = None) -> list[Path]:
    """Snapshot every collection (or ``collections``) of the store at ``QDRANT_URL`` and download the archives.

    Uses Qdrant's snapshot API (``POST``/``GET /collections/{name}/snapshots``), which the embedded store and a Qdrant
    server both serve. Returns the files written under ``output``.
    """
    import httpx

    client = qdrant_client()
    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    headers = {"api-key": settings.QDRANT_API_KEY} if settings.QDRANT_API_KEY else {}
    with _unavailable_as_transient():
        names = list(collections) if collections else [c.name for c in client.get_collections().collections]
        for name in names:
            snapshot = client.create_snapshot(name, wait=True)
            if snapshot is None:
                continue
            url = f"{settings.QDRANT_URL.rstrip('/')}/collections/{name}/snapshots/{snapshot.name}"
            target = output / snapshot.name
            partial = target.with_name(target.name + ".partial")
            with httpx.stream("GET", url, headers=headers, timeout=settings.QDRANT_TIMEOUT) as response:
                response.raise_for_status()
                with partial.open("wb") as fh:
                    for chunk in response.iter_bytes(1024 * 1024):
                        fh.write(chunk)
            partial.replace(target)
            written.append(target)
            log.info("vector_collection_backed_up", collection=name, path=str(target), bytes=target.stat().st_size)
    return written


def collections_migrate_local(
    *, source: Path, batch_size: int = 256, progress: Callable[[str, int, int], None] | None = None
) -> dict[str, int]:
    """Copy every collection of an old local-mode store (``QdrantClient(path=source)``) into the store at QDRANT_URL.

    The vectors are kept (nothing is re-embedded): each point is read with its vectors and payload and upserted with
    the same id, so re-running the migration is harmless. The payload indexes of ``INDEXED_FIELDS`` are created.

    Args:
        source: the folder holding the local-mode ``meta.json`` and ``collection/``.
        batch_size: points a request.
        progress: called with ``(collection, done, total)`` after each batch.

    Returns:
        Points copied per collection.
    """
    from qdrant_client import QdrantClient, models

    if not (source / "meta.json").exists():
        raise FileNotFoundError(f"No local-mode Qdrant store at {source} (meta.json is missing)")
    local = QdrantClient(path=str(source))
    target = qdrant_client()
    copied: dict[str, int] = {}
    try:
        for description in local.get_collections().collections:
            name = description.name
            info = local.get_collection(name)
            total = local.count(name, exact=True).count
            with _unavailable_as_transient():
                if not target.collection_exists(name):
                    target.create_collection(
                        collection_name=name,
                        vectors_config=info.config.params.vectors or {},
                        sparse_vectors_config=info.config.params.sparse_vectors,
                    )
                    for field, schema in INDEXED_FIELDS.items():
                        target.create_payload_index(
                            name, field_name=field, field_schema=models.PayloadSchemaType(schema)
                        )
                done, offset = 0, None
                while True:
                    records, offset = local.scroll(
                        name, limit=batch_size, offset=offset, with_payload=True, with_vectors=True
                    )
                    if records:
                        target.upsert(
                            collection_name=name,
                            points=[
                                models.PointStruct(id=r.id, vector=cast(Any, r.vector or {}), payload=r.payload)
                                for r in records
                            ],
                            wait=True,
                        )
                    done += len(records)
                    if progress is not None:
                        progress(name, done, total)
                    if offset is None:
                        break
                copied[name] = done
                log.info("vector_collection_migrated", collection=name, points=done)
    finally:
        local.close()
    return copied
