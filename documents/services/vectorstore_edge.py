"""Qdrant Edge (``qdrant-edge-py``, Qdrant's Rust engine in-process) under the subset of Qdrant's REST API the app uses.

One Edge shard per collection under ``<path>/edge/<collection>/``; the collection's REST definition (vectors, sparse
vectors) is kept beside it in ``collection.json`` so ``GET /collections/{name}`` answers what was created. Request
bodies are validated with qdrant-client's own models, then translated onto Edge objects; answers are built in the
shapes qdrant-client's models parse (tests/documents/test_vectorstore_server.py holds the contract).

Writes are acknowledged once Edge has applied them (its write-ahead log is on, so a killed process replays them on
the next load). Points are validated by hand (not through the pydantic unions), which keeps upserts fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import structlog

log = structlog.get_logger(__name__)

MAX_LIMIT = 1_000  # points a query, scroll or retrieve may return (``limit`` + ``offset``)
MAX_BATCH = 10_000  # points or ids in one write or retrieve
MAX_QUERIES = 64  # queries in one batch request
MAX_PREFETCH_DEPTH = 3
MAX_FILTER_CONDITIONS = 256
DEFAULT_RRF_K = 2  # Qdrant server's default for ``{"fusion": "rrf"}``
OPTIMIZE_AFTER_IDLE_S = 2.0  # merge and vacuum segments once writes pause for this long
# No HNSW graph: Edge's optimize() holds the GIL for the whole build (88 s for 20k 384-d points on this 2-core
# machine, every request of the store waiting), while the exact scan with payload-index filtering stays at a few
# milliseconds for a reader's filtered search at 100k points (recall 1.0). Segments are still merged and vacuumed.
INDEXING_THRESHOLD_KB = int(os.environ.get("QDRANT_EDGE_INDEXING_THRESHOLD_KB", str(2**40)))
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,200}")


class StoreError(Exception):
    """A request the store refuses: rendered as Qdrant's error envelope with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad(message: str) -> StoreError:
    return StoreError(400, f"Wrong input: {message}")


# --- requests -> Edge ----------------------------------------------------------------------------------------------
def point_id(value: Any) -> int | str:
    """A Qdrant point id: an unsigned integer or a UUID (returned in its canonical form)."""
    if isinstance(value, bool):
        raise _bad("point id must be an unsigned integer or a UUID")
    if isinstance(value, int):
        if value < 0 or value >= 2**64:
            raise _bad("point id must be an unsigned integer or a UUID")
        return value
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise _bad(f"Unable to parse UUID: {value[:64]}") from None
    raise _bad("point id must be an unsigned integer or a UUID")


def _ids(values: Any) -> list[int | str]:
    if not isinstance(values, list):
        raise _bad("ids must be a list")
    if len(values) > MAX_BATCH:
        raise _bad(f"at most {MAX_BATCH} ids a request")
    return [point_id(v) for v in values]


def _floats(value: Any, what: str) -> list[float]:
    """A list of numbers; the elements are checked by Edge as it converts them (a string raises TypeError -> 400)."""
    if not isinstance(value, list):
        raise _bad(f"{what} must be a list of numbers")
    return value


def _sparse(value: dict[str, Any]) -> Any:
    from qdrant_edge import SparseVector  # noqa: PLC0415

    indices, values = value.get("indices"), value.get("values")
    if not isinstance(indices, list) or not all(type(i) is int and 0 <= i < 2**32 for i in indices):
        raise _bad("sparse vector indices must be unsigned 32-bit integers")
    floats = _floats(values, "sparse vector values")
    if len(indices) != len(floats) or len(set(indices)) != len(indices):
        raise _bad("sparse vector indices must be unique and as many as its values")
    return SparseVector(indices=indices, values=floats)


def _vector_value(value: Any, name: str, collection: Collection) -> Any:
    if name in collection.dense:
        vec = _floats(value, f"vector `{name}`")
        if len(vec) != collection.dense[name]:
            raise _bad(f"Vector dimension error: expected dim: {collection.dense[name]}, got {len(vec)}")
        return vec
    if name in collection.sparse:
        if not isinstance(value, dict):
            raise _bad(f"vector `{name}` must be a sparse vector")
        return _sparse(value)
    raise _bad(f"Not existing vector name error: {name[:64]}")


def vector_struct(value: Any, collection: Collection) -> dict[str, Any]:
    """A point's vectors (``[..]`` for the unnamed vector or ``{name: [..] | {indices, values}}``) for Edge."""
    if isinstance(value, list):
        return {"": _vector_value(value, "", collection)}
    if isinstance(value, dict):
        return {str(name): _vector_value(v, str(name), collection) for name, v in value.items()}
    raise _bad("vector must be a list or an object of named vectors")


def points_from_body(body: dict[str, Any], collection: Collection) -> list[Any]:
    """``PointsList`` (``{"points": [...]}``) or ``PointsBatch`` (``{"batch": {...}}``) as Edge points."""
    from qdrant_edge import Point  # noqa: PLC0415

    if "points" in body:
        raw = body["points"]
        if not isinstance(raw, list):
            raise _bad("points must be a list")
        if len(raw) > MAX_BATCH:
            raise _bad(f"at most {MAX_BATCH} points a request")
        out = []
        for p in raw:
            if not isinstance(p, dict) or "id" not in p or "vector" not in p:
                raise _bad("each point needs an id and a vector")
            payload = p.get("payload")
            if payload is not None and not isinstance(payload, dict):
                raise _bad("payload must be an object")
            out.append(Point(point_id(p["id"]), vector_struct(p["vector"], collection), payload))
        return out
    batch = body.get("batch")
    if not isinstance(batch, dict):
        raise _bad("either `points` or `batch` is required")
    ids = _ids(batch.get("ids"))
    vectors, payloads = batch.get("vectors"), batch.get("payloads")
    if payloads is not None and (not isinstance(payloads, list) or len(payloads) != len(ids)):
        raise _bad("payloads must be a list as long as ids")
    if isinstance(vectors, list):
        per_point = [vector_struct(v, collection) for v in vectors]
    elif isinstance(vectors, dict):
        per_point = [{} for _ in ids]
        for name, column in vectors.items():
            if not isinstance(column, list) or len(column) != len(ids):
                raise _bad("each batch vector column must be as long as ids")
            for i, v in enumerate(column):
                per_point[i][str(name)] = _vector_value(v, str(name), collection)
    else:
        raise _bad("batch vectors must be a list or an object")
    if len(per_point) != len(ids):
        raise _bad("batch vectors must be as many as ids")
    return [
        Point(pid, vec, payloads[i] if payloads else None)
        for i, (pid, vec) in enumerate(zip(ids, per_point, strict=True))
    ]


def _match(match: Any) -> Any:
    import qdrant_edge as e  # noqa: PLC0415
    from qdrant_client.http import models as m  # noqa: PLC0415

    if isinstance(match, m.MatchValue):
        return e.MatchValue(match.value)
    if isinstance(match, m.MatchAny):
        return e.MatchAny(cast(Any, list(match.any)))
    if isinstance(match, m.MatchExcept):
        return e.MatchExcept(cast(Any, list(match.except_)))
    if isinstance(match, m.MatchText):
        return e.MatchText(match.text)
    if isinstance(match, m.MatchTextAny):
        return e.MatchTextAny(match.text_any)
    if isinstance(match, m.MatchPhrase):
        return e.MatchPhrase(match.phrase)
    raise _bad(f"unsupported match {type(match).__name__}")


def _iso(value: Any) -> str | None:
    return None if value is None else (value.isoformat() if hasattr(value, "isoformat") else str(value))


def _condition(cond: Any, counter: list[int]) -> Any:
    import qdrant_edge as e  # noqa: PLC0415
    from qdrant_client.http import models as m  # noqa: PLC0415

    counter[0] += 1
    if counter[0] > MAX_FILTER_CONDITIONS:
        raise _bad(f"at most {MAX_FILTER_CONDITIONS} filter conditions")
    if isinstance(cond, m.Filter):
        return edge_filter(cond, counter)
    if isinstance(cond, m.FieldCondition):
        if cond.geo_bounding_box or cond.geo_radius or cond.geo_polygon:
            raise _bad("geo conditions are not supported by this store")
        kwargs: dict[str, Any] = {}
        if cond.match is not None:
            kwargs["match"] = _match(cond.match)
        if cond.range is not None:
            if isinstance(cond.range, m.DatetimeRange):
                r = cond.range
                kwargs["range"] = e.RangeDateTime(gte=_iso(r.gte), gt=_iso(r.gt), lte=_iso(r.lte), lt=_iso(r.lt))
            else:
                kwargs["range"] = e.RangeFloat(
                    gte=cond.range.gte, gt=cond.range.gt, lte=cond.range.lte, lt=cond.range.lt
                )
        if cond.values_count is not None:
            vc = cond.values_count
            kwargs["values_count"] = e.ValuesCount(lt=vc.lt, gt=vc.gt, lte=vc.lte, gte=vc.gte)
        if cond.is_empty is not None:
            kwargs["is_empty"] = cond.is_empty
        if cond.is_null is not None:
            kwargs["is_null"] = cond.is_null
        if not kwargs:
            raise _bad("a field condition needs match, range, values_count, is_empty or is_null")
        return e.FieldCondition(key=cond.key, **kwargs)
    if isinstance(cond, m.IsEmptyCondition):
        return e.IsEmptyCondition(cond.is_empty.key)
    if isinstance(cond, m.IsNullCondition):
        return e.IsNullCondition(cond.is_null.key)
    if isinstance(cond, m.HasIdCondition):
        if len(cond.has_id) > MAX_BATCH:
            raise _bad(f"at most {MAX_BATCH} ids in has_id")
        return e.HasIdCondition({point_id(str(i) if isinstance(i, uuid.UUID) else i) for i in cond.has_id})
    if isinstance(cond, m.HasVectorCondition):
        return e.HasVectorCondition(cond.has_vector)
    if isinstance(cond, m.NestedCondition):
        return e.NestedCondition(cond.nested.key, edge_filter(cond.nested.filter, counter))
    raise _bad(f"unsupported condition {type(cond).__name__}")


def _conditions(value: Any, counter: list[int]) -> list[Any] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [_condition(c, counter) for c in items]


def edge_filter(flt: Any, counter: list[int] | None = None) -> Any:
    """A ``qdrant_client`` ``Filter`` as an Edge ``Filter`` (``None`` stays ``None``)."""
    import qdrant_edge as e  # noqa: PLC0415

    if flt is None:
        return None
    counter = counter if counter is not None else [0]
    min_should = None
    if flt.min_should is not None:
        min_should = e.MinShould([_condition(c, counter) for c in flt.min_should.conditions], flt.min_should.min_count)
    return e.Filter(
        must=_conditions(flt.must, counter),
        should=_conditions(flt.should, counter),
        must_not=_conditions(flt.must_not, counter),
        min_should=min_should,
    )


def _params(params: Any) -> Any:
    import qdrant_edge as e  # noqa: PLC0415

    if params is None:
        return None
    if params.hnsw_ef is not None and not 0 < params.hnsw_ef <= 10_000:
        raise _bad("hnsw_ef must be between 1 and 10000")
    return e.SearchParams(hnsw_ef=params.hnsw_ef, exact=bool(params.exact), indexed_only=bool(params.indexed_only))


def _with_payload(value: Any, default: bool) -> Any:
    import qdrant_edge as e  # noqa: PLC0415
    from qdrant_client.http import models as m  # noqa: PLC0415

    if value is None:
        return default
    if isinstance(value, (bool, list)):
        return value
    if isinstance(value, m.PayloadSelectorInclude):
        return e.PayloadSelector.Include(value.include)
    if isinstance(value, m.PayloadSelectorExclude):
        return e.PayloadSelector.Exclude(value.exclude)
    raise _bad("unsupported with_payload")


def _nearest(vector: Any, using: str | None, collection: Collection) -> Any:
    import qdrant_edge as e  # noqa: PLC0415
    from qdrant_client.http import models as m  # noqa: PLC0415

    name = using or ""
    if isinstance(vector, m.SparseVector):
        if name not in collection.sparse:
            raise _bad(f"Not existing vector name error: {name[:64]}")
        return e.Query.Nearest(_sparse({"indices": vector.indices, "values": vector.values}), using=name)
    if isinstance(vector, list) and (not vector or not isinstance(vector[0], list)):
        if name not in collection.dense:
            raise _bad(f"Not existing vector name error: {name[:64]}")
        vec = _floats(vector, "query vector")
        if len(vec) != collection.dense[name]:
            raise _bad(f"Vector dimension error: expected dim: {collection.dense[name]}, got {len(vec)}")
        return e.Query.Nearest(vec, using=name)
    raise _bad("only dense and sparse vectors can be queried here")


def _scoring(query: Any, using: str | None, collection: Collection, has_prefetch: bool) -> Any:
    import qdrant_edge as e  # noqa: PLC0415
    from qdrant_client.http import models as m  # noqa: PLC0415

    if query is None:
        return None
    if isinstance(query, m.NearestQuery):
        if query.mmr is not None:
            raise _bad("mmr is not supported by this store")
        return _nearest(query.nearest, using, collection)
    if isinstance(query, m.FusionQuery):
        if not has_prefetch:
            raise _bad("fusion needs a prefetch")
        return e.Fusion.Dbsf() if query.fusion == m.Fusion.DBSF else e.Fusion.Rrf(k=DEFAULT_RRF_K)
    if isinstance(query, m.RrfQuery):
        if not has_prefetch:
            raise _bad("fusion needs a prefetch")
        k = query.rrf.k if query.rrf.k is not None else DEFAULT_RRF_K
        if k < 1:
            raise _bad("rrf k must be positive")
        return e.Fusion.Rrf(k=k, weights=query.rrf.weights)
    if isinstance(query, (list, m.SparseVector)):
        return _nearest(query, using, collection)
    raise _bad(f"unsupported query {type(query).__name__}")


def _limit(value: int | None, default: int = 10) -> int:
    limit = default if value is None else value
    if limit < 0 or limit > MAX_LIMIT:
        raise _bad(f"limit must be between 0 and {MAX_LIMIT}")
    return limit


def _prefetches(value: Any, collection: Collection, depth: int) -> list[Any] | None:
    import qdrant_edge as e  # noqa: PLC0415

    if value is None:
        return None
    if depth > MAX_PREFETCH_DEPTH:
        raise _bad(f"prefetch may nest at most {MAX_PREFETCH_DEPTH} deep")
    items = value if isinstance(value, list) else [value]
    if len(items) > 16:
        raise _bad("at most 16 prefetches a stage")
    out = []
    for p in items:
        if p.lookup_from is not None:
            raise _bad("lookup_from is not supported by this store")
        nested = _prefetches(p.prefetch, collection, depth + 1)
        out.append(
            e.Prefetch(
                limit=_limit(p.limit),
                query=_scoring(p.query, p.using, collection, bool(nested)),
                prefetches=nested,
                params=_params(p.params),
                filter=edge_filter(p.filter),
                score_threshold=p.score_threshold,
            )
        )
    return out


def query_request(body: Any, collection: Collection) -> Any:
    """A ``qdrant_client`` ``QueryRequest`` as an Edge ``QueryRequest``."""
    import qdrant_edge as e  # noqa: PLC0415

    if body.lookup_from is not None:
        raise _bad("lookup_from is not supported by this store")
    limit, offset = _limit(body.limit), body.offset or 0
    if offset < 0 or limit + offset > MAX_LIMIT:
        raise _bad(f"limit + offset must be at most {MAX_LIMIT}")
    prefetches = _prefetches(body.prefetch, collection, 1)
    return e.QueryRequest(
        limit=limit,
        offset=offset,
        query=_scoring(body.query, body.using, collection, bool(prefetches)),
        prefetches=prefetches,
        with_vector=body.with_vector if body.with_vector is not None else False,
        with_payload=_with_payload(body.with_payload, default=False),
        filter=edge_filter(body.filter),
        score_threshold=body.score_threshold,
        params=_params(body.params),
    )


# --- Edge -> answers -----------------------------------------------------------------------------------------------
def _id_out(value: Any) -> int | str:
    return value if isinstance(value, int) else str(value)


def _vector_out(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        out = {}
        for name, v in value.items():
            out[name] = {"indices": list(v.indices), "values": list(v.values)} if hasattr(v, "indices") else v
        if set(out) == {""}:
            return out[""]
        return out
    return value


def scored_out(point: Any) -> dict[str, Any]:
    """An Edge ``ScoredPoint`` in the shape of ``models.ScoredPoint``."""
    return {
        "id": _id_out(point.id),
        "version": point.version,
        "score": point.score,
        "payload": point.payload,
        "vector": _vector_out(point.vector),
        "shard_key": None,
        "order_value": point.order_value,
    }


def record_out(record: Any) -> dict[str, Any]:
    """An Edge ``Record`` in the shape of ``models.Record``."""
    return {
        "id": _id_out(record.id),
        "payload": record.payload,
        "vector": _vector_out(record.vector),
        "shard_key": None,
        "order_value": record.order_value,
    }


# --- collections ---------------------------------------------------------------------------------------------------
@dataclass
class Collection:
    """One Edge shard and what the REST API declared for it."""

    name: str
    path: Path
    shard: Any
    definition: dict[str, Any]
    dense: dict[str, int]
    sparse: set[str]
    created_at: str
    operation_id: int = 0
    last_write: float = 0.0
    optimized_at: float = field(default_factory=time.monotonic)
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    # shared by readers and writers; taken exclusively to snapshot or drop the collection
    readers: int = 0
    gate: threading.Condition = field(default_factory=threading.Condition)
    closing: bool = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self.gate:
            if self.closing:
                raise StoreError(404, f"Not found: Collection `{self.name}` doesn't exist!")
            self.readers += 1
        try:
            yield
        finally:
            with self.gate:
                self.readers -= 1
                self.gate.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self.write_lock, self.gate:
            self.gate.wait_for(lambda: self.readers == 0)
            yield


def _edge_config(definition: dict[str, Any]) -> Any:
    import qdrant_edge as e  # noqa: PLC0415

    distances = {n: getattr(e.Distance, n) for n in ("Cosine", "Dot", "Euclid", "Manhattan") if hasattr(e.Distance, n)}
    vectors = {}
    for name, params in definition["vectors"].items():
        if params["distance"] not in distances:
            raise _bad(f"unsupported distance {params['distance']}")
        # vectors stay on disk (mmap), paged in by the OS as searches touch them
        vectors[name] = e.EdgeVectorParams(size=params["size"], distance=distances[params["distance"]], on_disk=True)
    sparse = {
        name: e.EdgeSparseVectorParams(modifier=e.Modifier.Idf if params.get("modifier") == "idf" else None)
        for name, params in definition["sparse_vectors"].items()
    }
    return e.EdgeConfig(
        vectors=vectors or None,
        sparse_vectors=sparse or None,
        payload_memory=e.Memory.Cold,
        optimizers=e.EdgeOptimizersConfig(indexing_threshold=INDEXING_THRESHOLD_KB),
    )


def collection_definition(body: dict[str, Any]) -> dict[str, Any]:
    """The vectors and sparse vectors of a ``CreateCollection`` body, validated, in a JSON-ready form."""
    from qdrant_client.http import models as m  # noqa: PLC0415

    parsed = m.CreateCollection.model_validate(body)
    vectors_cfg = parsed.vectors
    if isinstance(vectors_cfg, m.VectorParams):
        vectors_cfg = {"": vectors_cfg}
    vectors: dict[str, Any] = {}
    for name, params in (vectors_cfg or {}).items():
        if params.multivector_config is not None:
            raise _bad("multivectors are not supported by this store")
        if not 0 < params.size <= 65_536:
            raise _bad("vector size must be between 1 and 65536")
        vectors[name] = {"size": params.size, "distance": params.distance.value}
    sparse = {
        name: {"modifier": params.modifier.value if params.modifier is not None else None}
        for name, params in (parsed.sparse_vectors or {}).items()
    }
    if not vectors and not sparse:
        raise _bad("a collection needs vectors or sparse vectors")
    return {"vectors": vectors, "sparse_vectors": sparse}


def _open(name: str, path: Path, definition: dict[str, Any], created_at: str, *, create: bool) -> Collection:
    from qdrant_edge import EdgeShard  # noqa: PLC0415

    shard_dir = path / "shard"
    shard = EdgeShard.create(str(shard_dir), _edge_config(definition)) if create else EdgeShard.load(str(shard_dir))
    return Collection(
        name=name,
        path=path,
        shard=shard,
        definition=definition,
        dense={n: int(p["size"]) for n, p in definition["vectors"].items()},
        sparse=set(definition["sparse_vectors"]),
        created_at=created_at,
    )


class EdgeStore:
    """Every collection of the store directory, opened at start (Edge loads segments lazily from disk)."""

    def __init__(self, path: Path) -> None:
        self.root = path / "edge"
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.collections: dict[str, Collection] = {}
        for folder in sorted(self.root.iterdir()):
            meta = folder / "collection.json"
            if not folder.is_dir() or not meta.exists():
                continue
            saved = json.loads(meta.read_text())
            self.collections[folder.name] = _open(
                folder.name, folder, saved["definition"], saved["created_at"], create=False
            )
            log.info("vectorstore_collection_loaded", collection=folder.name)
        if (path / "collection").is_dir() and (path / "meta.json").exists():
            log.warning("vectorstore_local_mode_data_found", path=str(path), hint="manage.py vectorstore_migrate")
        self._stop = threading.Event()
        self._optimizer = threading.Thread(target=self._optimize_loop, name="edge-optimizer", daemon=True)
        self._optimizer.start()

    # collections
    def get(self, name: str) -> Collection:
        found = self.collections.get(name)
        if found is None:
            raise StoreError(404, f"Not found: Collection `{name}` doesn't exist!")
        return found

    def create(self, name: str, body: dict[str, Any]) -> bool:
        if not _NAME_RE.fullmatch(name) or name in (".", ".."):
            raise _bad("collection names are 1-200 letters, digits, '_', '-' or '.'")
        definition = collection_definition(body)
        with self.lock:
            if name in self.collections:
                raise StoreError(409, f"Wrong input: Collection `{name}` already exists!")
            folder = self.root / name
            shutil.rmtree(folder, ignore_errors=True)  # a half-created leftover
            folder.mkdir(parents=True)
            created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            collection = _open(name, folder, definition, created_at, create=True)
            tmp = folder / "collection.json.tmp"
            tmp.write_text(json.dumps({"definition": definition, "created_at": created_at}))
            tmp.replace(folder / "collection.json")
            self.collections[name] = collection
        log.info("vectorstore_collection_created", collection=name)
        return True

    def drop(self, name: str) -> bool:
        with self.lock:
            collection = self.collections.get(name)
            if collection is None:
                return False
            with collection.exclusive():
                collection.closing = True
                del self.collections[name]
                (collection.path / "collection.json").unlink(missing_ok=True)
                collection.shard.close()
            shutil.rmtree(collection.path, ignore_errors=True)
        log.info("vectorstore_collection_deleted", collection=name)
        return True

    # writes
    def update(self, collection: Collection, operations: list[Any]) -> dict[str, Any]:
        """Apply operations in order (serialised per collection); acknowledged once Edge has them in its WAL."""
        with collection.write_lock, collection.reading():
            for op in operations:
                collection.shard.update(op)
            collection.operation_id += 1
            collection.last_write = time.monotonic()
            return {"operation_id": collection.operation_id, "status": "completed"}

    def _optimize_loop(self) -> None:
        """Build HNSW and payload indexes (Edge's optimizers) in the background once writes pause."""
        while not self._stop.wait(0.5):
            for collection in list(self.collections.values()):
                idle = time.monotonic() - collection.last_write
                if collection.last_write > collection.optimized_at and idle >= OPTIMIZE_AFTER_IDLE_S:
                    collection.optimized_at = time.monotonic()
                    try:
                        with collection.reading():
                            started = time.perf_counter()
                            changed = collection.shard.optimize()
                        if changed:
                            log.info(
                                "vectorstore_optimized",
                                collection=collection.name,
                                seconds=round(time.perf_counter() - started, 2),
                            )
                    except StoreError:
                        continue
                    except Exception:  # the optimizer thread must survive a failed run; it logs it
                        log.exception("vectorstore_optimize_failed", collection=collection.name)

    def wait_optimized(self, timeout: float = 600.0) -> None:
        """Run the optimizers now on every collection (benchmarks, before measuring)."""
        for collection in list(self.collections.values()):
            with collection.reading():
                collection.shard.optimize()
            collection.optimized_at = time.monotonic()

    # snapshots
    def snapshot(self, collection: Collection, folder: Path) -> Path:
        """Flush and archive the collection's shard while no write runs (a consistent copy)."""
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
        target = folder / f"{collection.name}-{stamp}-{uuid.uuid4().hex[:6]}.snapshot"
        partial = target.with_suffix(".partial")
        with collection.exclusive():
            collection.shard.flush()
            with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
                tar.add(collection.path / "collection.json", arcname="collection.json")
                tar.add(collection.path / "shard", arcname="shard")
        partial.replace(target)
        log.info("vectorstore_snapshot_created", collection=collection.name, path=str(target))
        return target

    def close(self) -> None:
        self._stop.set()
        with self.lock:
            for collection in self.collections.values():
                with collection.exclusive():
                    collection.shard.flush()
                    collection.shard.close()
            self.collections.clear()


def snapshot_restore(*, snapshot: Path, store_path: Path, collection: str | None = None) -> str:
    """Unpack a snapshot made by the store into ``store_path`` (the store must be stopped); returns the collection.

    The archive is checked (only ``collection.json`` and ``shard/...`` regular files and folders) and unpacked beside
    the live folder, loaded once to prove it opens, then swapped in.
    """
    from qdrant_edge import EdgeShard  # noqa: PLC0415

    with tarfile.open(snapshot) as tar:
        members = tar.getmembers()
        for member in members:
            parts = Path(member.name).parts
            if (
                not parts
                or parts[0] not in ("collection.json", "shard")
                or ".." in parts
                or member.name.startswith("/")
            ):
                raise _bad(f"unexpected entry in snapshot: {member.name[:100]}")
            if not (member.isfile() or member.isdir()):
                raise _bad(f"unexpected entry type in snapshot: {member.name[:100]}")
        name = collection or snapshot.name.rsplit("-", 7)[0]
        if not _NAME_RE.fullmatch(name):
            raise _bad("invalid collection name")
        root = store_path / "edge"
        root.mkdir(parents=True, exist_ok=True)
        staging = root / f".restore-{name}-{uuid.uuid4().hex[:6]}"
        tar.extractall(staging, filter="data")
    EdgeShard.load(str(staging / "shard")).close()
    live = root / name
    if live.exists():
        old = root / f".replaced-{name}-{uuid.uuid4().hex[:6]}"
        live.replace(old)
        shutil.rmtree(old, ignore_errors=True)
    staging.replace(live)
    return name
