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
    "search_keys": "integer",
}
# Payload flag of a passage held out of retrieval (flagged as injected text, not released): every search excludes it.
QUARANTINED = "quarantined"
# Payload flag of the points of a document version still waiting to become current: every search excludes them.
STAGED = "staged"
# What every search filters on: the point's access groups plus LIBRARIAN_KEY while it may be retrieved (neither
# quarantined nor staged), nothing otherwise. Derived from the three fields above by every writer (``points_batch``
# and the payload setters below); ``search_keys_refresh`` recomputes it from them. One integer condition a search:
# beside the groups, the two ``must_not`` flag conditions doubled Edge's filtered scan (100k points, half of them the
# reader's: 15.3 ms, against 7.4 ms on the one field).
SEARCH_KEYS = "search_keys"
LIBRARIAN_KEY = -1  # never a group id (positive integers): the key of an unrestricted (librarian) search


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


INSECURE_KEY_WARNING = "Api key is used with an insecure connection"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def loopback_key_warning_silence(url: str) -> bool:
    """Silence qdrant-client's "Api key is used with an insecure connection" when the store is on this machine.

    The embedded store listens on 127.0.0.1 over HTTP with an API key (``make run`` makes one): the key keeps other
    local users out, and nothing crosses a network, so the warning every process logged once was a false alarm. For
    a store elsewhere over plain HTTP the warning stays: the key would travel in clear text.

    Args:
        url: the store's ``QDRANT_URL``.

    Returns:
        Whether the warning is now ignored in this process.
    """
    import warnings
    from urllib.parse import urlsplit

    parts = urlsplit(str(url))
    if parts.scheme != "http" or parts.hostname not in _LOOPBACK:
        return False
    warnings.filterwarnings("ignore", message=INSECURE_KEY_WARNING, category=UserWarning)
    return True


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


def client_connection(url: str, *, asynchronous: bool = False, transport: str | None = None) -> dict[str, Any]:
    """How every client of the store connects: the keyword arguments for ``QdrantClient``/``AsyncQdrantClient``.

    For an ``http://`` URL and ``QDRANT_HTTP_TRANSPORT=lean`` (the default) a lean HTTP/1.1 transport
    (:mod:`documents.services.store_transport`: about 0.4 ms less a request than httpx's own), otherwise httpx's
    transport with connections kept alive (:func:`client_limits`).

    Args:
        url: The store's URL (``QDRANT_URL``).
        asynchronous: For an ``AsyncQdrantClient``.
        transport: ``lean`` or ``httpx``; ``QDRANT_HTTP_TRANSPORT`` when not given.

    Returns:
        ``{"transport": ...}`` or ``{"limits": ...}``.
    """
    if str(url).startswith("http://") and (transport or settings.QDRANT_HTTP_TRANSPORT) == "lean":
        from documents.services.store_transport import AsyncLeanTransport, LeanTransport

        return {"transport": AsyncLeanTransport() if asynchronous else LeanTransport()}
    return {"limits": client_limits()}


def qdrant_client() -> QdrantClient:
    """The process's client for ``QDRANT_URL`` (never local mode: one process owns the local store).

    One client per URL, key, timeout and transport, kept: a new one costs about 20 ms (httpx builds a TLS context), and
    its connections are kept alive (:func:`client_connection`). QdrantClient's REST transport is safe to share between
    threads; a forked child (Celery's prefork pool) makes its own, never using its parent's sockets.
    """
    url, key, timeout = str(settings.QDRANT_URL), settings.QDRANT_API_KEY or None, int(settings.QDRANT_TIMEOUT)
    return _client(url, key, timeout, settings.QDRANT_HTTP_TRANSPORT, os.getpid())


@functools.cache
def _client(url: str, api_key: str | None, timeout: int, transport: str, pid: int) -> QdrantClient:
    from qdrant_client import QdrantClient  # heavy, worker only

    connection = client_connection(url, transport=transport)
    return QdrantClient(url=url, api_key=api_key, timeout=timeout, check_compatibility=False, **connection)


@contextmanager
def store_errors_as_transient() -> Iterator[None]:
    """Raise the store's outages (unreachable, 5xx, 429) as ``VectorStoreUnavailable`` (transient: retried).

    Other answers (a 4xx) are raised as qdrant-client raised them: they are the caller's mistake.
    """
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


def quantization_config() -> Any:
    """The dense vectors' quantization (scalar int8 in RAM), or None when ``QDRANT_QUANTIZATION`` is off."""
    from qdrant_client import models

    if not settings.QDRANT_QUANTIZATION:
        return None
    return models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
    )


def dense_search_params() -> Any:
    """A dense search's parameters: scan the int8 copy, rescore ``QDRANT_OVERSAMPLING`` x the wanted hits in floats."""
    from qdrant_client import models

    if not settings.QDRANT_QUANTIZATION:
        return None
    return models.SearchParams(
        quantization=models.QuantizationSearchParams(rescore=True, oversampling=settings.QDRANT_OVERSAMPLING)
    )


def collection_ensure(*, client: QdrantClient, dim: int | None = None) -> str:
    """Create the collection (dense cosine + sparse with IDF) and its payload indexes when missing."""
    from qdrant_client import models

    name = collection_name(dim)
    with store_errors_as_transient():
        if client.collection_exists(name):
            payload_indexes_ensure(client=client, name=name)
            return name
        _collection_create(
            client,
            name,
            vectors={DENSE: models.VectorParams(size=dim or embedding_dimension(), distance=models.Distance.COSINE)},
            sparse={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
    log.info("vector_collection_created", collection=name)
    return name


def _collection_create(client: QdrantClient, name: str, *, vectors: Any, sparse: Any) -> None:
    """Create a collection with the app's storage settings (quantization, payloads in RAM) and its payload indexes."""
    from qdrant_client import models

    client.create_collection(
        collection_name=name,
        vectors_config=vectors,
        sparse_vectors_config=sparse,
        quantization_config=quantization_config(),
        on_disk_payload=settings.QDRANT_ON_DISK_PAYLOAD,
    )
    for field, schema in INDEXED_FIELDS.items():
        client.create_payload_index(name, field_name=field, field_schema=models.PayloadSchemaType(schema))


_indexes_checked: set[tuple[str, str]] = set()


def payload_indexes_ensure(*, client: QdrantClient, name: str) -> None:
    """Create the payload indexes and the quantization an older collection lacks (once per process and collection).

    A collection made before a field joined ``INDEXED_FIELDS`` (``quarantined``, ``staged``) would filter on it by
    reading every candidate's payload: measured 3-6 ms a query instead of 1 ms at 10k points on the embedded store.
    A collection whose payloads are stored otherwise than ``QDRANT_ON_DISK_PAYLOAD`` says (one made before the
    setting, on disk: Qdrant server's default) is changed to it; the store moves the payloads once writes pause.
    """
    from qdrant_client import models

    key = (str(settings.QDRANT_URL), name)
    if key in _indexes_checked:
        return
    info = client.get_collection(name)
    present = set(info.payload_schema or {})
    wanted = quantization_config()
    if wanted is not None and info.config.quantization_config is None:  # a collection from before quantization
        client.update_collection(name, quantization_config=wanted)
        log.info("vector_quantization_enabled", collection=name)
    on_disk = bool(settings.QDRANT_ON_DISK_PAYLOAD)
    if info.config.params.on_disk_payload is not None and info.config.params.on_disk_payload != on_disk:
        client.update_collection(name, collection_params=models.CollectionParamsDiff(on_disk_payload=on_disk))
        log.info("vector_payload_storage_changed", collection=name, on_disk_payload=on_disk)
    for field, schema in INDEXED_FIELDS.items():
        if field not in present:
            client.create_payload_index(
                name, field_name=field, field_schema=models.PayloadSchemaType(schema), wait=True
            )
            log.info("vector_payload_index_created", collection=name, field=field)
    if SEARCH_KEYS not in present:  # a collection from before the field: every point needs its keys to be found
        search_keys_refresh(client=client, name=name)
    _indexes_checked.add(key)


def search_keys(payload: dict[str, Any]) -> list[int]:
    """The ``search_keys`` of a point with this payload: its groups and ``LIBRARIAN_KEY``, or none when held out."""
    if payload.get(QUARANTINED) or payload.get(STAGED):
        return []
    return [*sorted({int(g) for g in payload.get("access_group_ids") or []}), LIBRARIAN_KEY]


def search_keys_refresh(*, client: QdrantClient, name: str, point_filter: Any = None, point_ids: Any = None) -> int:
    """Recompute ``search_keys`` of the selected points (a filter, ids, or the whole collection) from their payload.

    Called after every change of ``access_group_ids``, ``quarantined`` or ``staged``, and over the whole collection
    when the field is new (an older store) and by ``vectorstore_reconcile`` (drift from a crash between the two
    writes). Points are read without vectors, 1,000 at a time, and rewritten only where the keys differ, one
    ``set_payload`` per distinct key list.

    Returns:
        How many points got new keys.
    """
    from qdrant_client import models

    fields = models.PayloadSelectorInclude(include=["access_group_ids", QUARANTINED, STAGED, SEARCH_KEYS])
    wrong: dict[tuple[int, ...], list[Any]] = {}
    if point_ids is not None:
        ids = list(point_ids)
        records = [
            record
            for start in range(0, len(ids), 1000)
            for record in client.retrieve(name, ids=ids[start : start + 1000], with_payload=fields)
        ]
    else:
        records, offset = [], None
        while True:
            page, offset = client.scroll(
                name, scroll_filter=point_filter, limit=1000, offset=offset, with_payload=fields, with_vectors=False
            )
            records.extend(page)
            if offset is None:
                break
    for record in records:
        payload = record.payload or {}
        expected = search_keys(payload)
        if payload.get(SEARCH_KEYS) != expected:
            wrong.setdefault(tuple(expected), []).append(record.id)
    for keys, ids in wrong.items():
        for start in range(0, len(ids), 1000):
            client.set_payload(name, payload={SEARCH_KEYS: list(keys)}, points=ids[start : start + 1000], wait=True)
    changed = sum(len(ids) for ids in wrong.values())
    if changed:
        log.info("vector_search_keys_refreshed", collection=name, points=changed)
    return changed


def document_filter(document_id: int) -> Any:
    """The filter of every point of one document (any version state, any quarantine)."""
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
        payloads=[{**p.payload, SEARCH_KEYS: search_keys(p.payload)} for p in points],
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
    with store_errors_as_transient():
        for start in range(0, len(points), batch_size):
            client.upsert(collection_name=name, points=points_batch(points[start : start + batch_size]), wait=True)
        stale = models.Filter(
            must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))],
            must_not=[models.HasIdCondition(has_id=keep)] if keep else [],
        )
        client.delete(collection_name=name, points_selector=models.FilterSelector(filter=stale), wait=True)
        return int(client.count(name, count_filter=document_filter(document_id), exact=True).count)


def points_delete_document(*, document_id: int) -> int:
    """Delete every point of a document; returns how many remain (0 unless the store misbehaves)."""
    from qdrant_client import models

    client = qdrant_client()
    name = collection_name()
    with store_errors_as_transient():
        if not client.collection_exists(name):
            return 0
        client.delete(
            collection_name=name, points_selector=models.FilterSelector(filter=document_filter(document_id)), wait=True
        )
        return int(client.count(name, count_filter=document_filter(document_id), exact=True).count)


def points_count_document(*, document_id: int) -> int:
    """How many points a document has in the current collection."""
    client = qdrant_client()
    name = collection_name()
    with store_errors_as_transient():
        if not client.collection_exists(name):
            return 0
        return int(client.count(name, count_filter=document_filter(document_id), exact=True).count)


def points_set_access(*, document_id: int, access_group_ids: list[int]) -> None:
    """Rewrite ``access_group_ids`` (and so ``search_keys``) on every point of a document (the groups changed)."""
    from qdrant_client import models

    client = qdrant_client()
    name = collection_name()
    with store_errors_as_transient():
        if not client.collection_exists(name):
            return
        client.set_payload(
            collection_name=name,
            payload={"access_group_ids": access_group_ids},
            points=models.FilterSelector(filter=document_filter(document_id)),
            wait=True,
        )
        search_keys_refresh(client=client, name=name, point_filter=document_filter(document_id))


def points_set_staged(*, document_id: int, staged: bool) -> None:
    """Set or clear ``staged`` (and so ``search_keys``) on every point of a document: a version joins the search.

    Staging empties the keys in the same request (no search may see a staged point meanwhile); un-staging sets the
    flag, then the keys from each point's groups and quarantine.
    """
    from qdrant_client import models

    client = qdrant_client()
    name = collection_name()
    with store_errors_as_transient():
        if not client.collection_exists(name):
            return
        client.set_payload(
            collection_name=name,
            payload={STAGED: True, SEARCH_KEYS: []} if staged else {STAGED: False},
            points=models.FilterSelector(filter=document_filter(document_id)),
            wait=True,
        )
        if not staged:
            search_keys_refresh(client=client, name=name, point_filter=document_filter(document_id))


def retrievable_conditions() -> list[Any]:
    """The ``must_not`` conditions of a point held out of search: quarantined, or of a version not yet current.

    Searches do not use them (``permission_filter`` reads ``search_keys``, which encodes them); tests and the
    versions service read the flags themselves.
    """
    from qdrant_client import models

    return [
        models.FieldCondition(key=QUARANTINED, match=models.MatchValue(value=True)),
        models.FieldCondition(key=STAGED, match=models.MatchValue(value=True)),  # a version not yet current
    ]


MAX_KEY_CONDITIONS = 64  # a reader's groups as that many exact-value conditions at most (then one MatchAny)


def permission_filter(*, group_ids: Sequence[int] | None) -> Any:
    """The Qdrant filter of a search: a reader's groups (``None``: a librarian, every group), never a held-out point.

    Conditions on ``search_keys`` only: a quarantined or staged point has no keys, so no search matches it,
    librarians' neither. An empty list gives a filter nothing matches: never a query without a filter for a reader.

    The reader's keys are exact-value conditions, any of which matches (``should``), rather than one ``MatchAny``:
    Qdrant Edge checks a point against a ``MatchValue`` about twice as fast. For a reader who sees half of 100k
    chunks, the filtered dense scan took 2.5-3.5 ms against 5.8-7.8 ms, for 1 to 32 groups alike; a librarian's
    (every point) 4.6-4.8 against 8.9-11.7 (issue 12). Beyond :data:`MAX_KEY_CONDITIONS` groups it stays one
    ``MatchAny`` (the store bounds a filter's conditions).
    """
    from qdrant_client import models

    if group_ids is not None and not group_ids:
        return models.Filter(must=[models.HasIdCondition(has_id=[])])
    keys = [LIBRARIAN_KEY] if group_ids is None else sorted({int(g) for g in group_ids})
    if len(keys) > MAX_KEY_CONDITIONS:
        return models.Filter(must=[models.FieldCondition(key=SEARCH_KEYS, match=models.MatchAny(any=keys))])
    conditions: list[Any] = [models.FieldCondition(key=SEARCH_KEYS, match=models.MatchValue(value=k)) for k in keys]
    return models.Filter(must=conditions) if len(conditions) == 1 else models.Filter(should=conditions)


def points_set_quarantine(*, point_ids: Sequence[str], quarantined: bool) -> None:
    """Set or clear the quarantine flag (and so ``search_keys``) on the given points (quarantined or released).

    Quarantine empties the keys in the same request; a release sets the flag, then the keys from the points' groups.
    """
    client = qdrant_client()
    name = collection_name()
    with store_errors_as_transient():
        if not point_ids or not client.collection_exists(name):
            return
        payload: dict[str, Any] = {QUARANTINED: True, SEARCH_KEYS: []} if quarantined else {QUARANTINED: False}
        client.set_payload(collection_name=name, payload=payload, points=list(point_ids), wait=True)
        if not quarantined:
            search_keys_refresh(client=client, name=name, point_ids=list(point_ids))


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
    with store_errors_as_transient():
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
            with store_errors_as_transient():
                if not target.collection_exists(name):
                    _collection_create(
                        target, name, vectors=info.config.params.vectors or {}, sparse=info.config.params.sparse_vectors
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
