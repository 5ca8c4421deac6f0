"""Requests (validated with qdrant-client's models, points by hand) to Edge objects, and Edge results to answers.

The shapes of the answers are those qdrant-client's models parse (tests/devstack/test_vectorstore_server.py).
"""

from __future__ import annotations

import os
import re
import uuid
from typing import TYPE_CHECKING, Any, cast

import structlog

if TYPE_CHECKING:
    from devstack.vectorstore.store import Collection

log = structlog.get_logger(__name__)
MAX_LIMIT = 1_000  # points a query, scroll or retrieve may return (``limit`` + ``offset``)
MAX_BATCH = 10_000  # points or ids in one write or retrieve
MAX_QUERIES = 64  # queries in one batch request
MAX_PREFETCH_DEPTH = 3
MAX_FILTER_CONDITIONS = 256
DEFAULT_RRF_K = 2  # Qdrant server's default for ``{"fusion": "rrf"}``
OPTIMIZE_AFTER_IDLE_S = 2.0  # index, merge and vacuum segments once writes pause for this long
# No HNSW graph (m=0): Edge's optimize() holds the GIL for the whole build (88 s for 20k 384-d points on this 2-core
# machine; 46.5 s for 10k, during which a Python thread sleeping 10 ms waited 46.5 s: every request of the store
# would wait), and for a reader's filtered search (2 of 20 groups) the graph is slower than the exact scan over the
# payload index: at 10k HNSW p50 1.17 / p95 30 ms, recall@10 0.995, exact 0.38 / 0.58 ms, recall 1.0 (issue 12).
# Searches scan exactly; a collection declared with scalar int8 quantization scans its int8 copy (kept in RAM) and
# rescores the best candidates with the float vectors, which stay on disk: at 100k 384-d points, half of them
# visible to the reader, p50 3.2 / p95 3.8 ms against 8.7 / 10.4 ms for the float scan, recall@10 1.000 with
# oversampling 2 (0.924 without). A segment is indexed (payload indexes, the int8 copy) once it holds more than
# INDEXING_THRESHOLD_KB of vectors (~6,600 384-d): 1.2 s for 100k points at once, 0.09 s for a 7.5k segment, while
# a smaller appendable segment is scanned in floats. Up to DEFAULT_SEGMENTS segments are kept before the smallest
# are merged, so an ingestion's new points are indexed in a segment of their own instead of re-merging the largest.
INDEXING_THRESHOLD_KB = int(os.environ.get("QDRANT_EDGE_INDEXING_THRESHOLD_KB", "10000"))
# Segments are merged up to MAX_SEGMENT_KB (~26k 384-d vectors: a merge holds the GIL for under half a second), and a
# search scans up to SEARCH_THREADS of them at once, in Edge's own threads: 100k points in 6 segments, p50 2.1 ms on
# two threads against 3.5 on one (a library loaded at once stays one segment: 3.4).
DEFAULT_SEGMENTS = int(os.environ.get("QDRANT_EDGE_DEFAULT_SEGMENTS", "4"))
MAX_SEGMENT_KB = int(os.environ.get("QDRANT_EDGE_MAX_SEGMENT_KB", "40000"))
SEARCH_THREADS = int(os.environ.get("QDRANT_EDGE_SEARCH_THREADS", "2"))
# A collection's payloads are kept in RAM ("cached": each segment's payload file is read into memory when it is
# opened, Edge's in_ram_mmap storage) unless it declares ``on_disk_payload`` (then "cold": read from disk on demand).
# Every search returns its points' payloads, and after a reader's pause (20 ms) cold reads stalled the tail: the app's
# batch (dense + keyword, 30 points each, half of 100k visible) took p50 4.9 / p95 12.9 ms cold against 4.8 / 6.6
# cached, interleaved in one run (3.9 / 4.6 without payloads). 100k chunks' payloads take about 50 MB. This is the
# default of a collection that declares nothing (one made by an earlier version of the store, which was cold: the
# optimizer converts it after the first start, about 5 s for 100k points, once).
PAYLOAD_MEMORY = os.environ.get("QDRANT_EDGE_PAYLOAD_MEMORY", "cached").strip().lower()
if PAYLOAD_MEMORY not in ("cold", "cached"):
    raise ValueError(f"QDRANT_EDGE_PAYLOAD_MEMORY must be cold or cached, not {PAYLOAD_MEMORY!r}")
MAX_OVERSAMPLING = 16.0
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,200}")
_INT_TYPE = {int}


class StoreError(Exception):
    """A request the store refuses: rendered as Qdrant's error envelope with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        """Record the HTTP status and the message of Qdrant's error envelope.

        Args:
            status: the HTTP status (4xx, or 5xx for the store's own failures).
            message: the envelope's ``status.error``.
        """
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
    from qdrant_edge import SparseVector

    indices, values = value.get("indices"), value.get("values")
    # type checks at C speed (no per-element Python loop): Edge's conversion refuses what is out of u32's range
    if not isinstance(indices, list) or (indices and set(map(type, indices)) != _INT_TYPE):
        raise _bad("sparse vector indices must be unsigned 32-bit integers")
    floats = _floats(values, "sparse vector values")
    if len(indices) != len(floats) or len(set(indices)) != len(indices):
        raise _bad("sparse vector indices must be unique and as many as its values")
    try:
        return SparseVector(indices, floats)
    except OverflowError:
        raise _bad("sparse vector indices must be unsigned 32-bit integers") from None


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
    from qdrant_edge import Point

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
    import qdrant_edge as e
    from qdrant_client.http import models as m

    if isinstance(match, m.MatchValue):
        if isinstance(match.value, bool):
            # qdrant-edge-py 0.9 reads a Python bool as the integer 0/1, which matches no bool payload (a
            # ``must_not`` on it would exclude nothing); numpy's bool is not an int and arrives as a real bool
            import numpy as np

            return e.MatchValue(cast(Any, np.bool_(match.value)))
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
    import qdrant_edge as e
    from qdrant_client.http import models as m

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
    import qdrant_edge as e

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
    import qdrant_edge as e

    if params is None:
        return None
    if params.hnsw_ef is not None and not 0 < params.hnsw_ef <= 10_000:
        raise _bad("hnsw_ef must be between 1 and 10000")
    quantization = None
    if params.quantization is not None:
        q = params.quantization
        if q.oversampling is not None and not 1.0 <= q.oversampling <= MAX_OVERSAMPLING:
            raise _bad(f"oversampling must be between 1 and {MAX_OVERSAMPLING:g}")
        quantization = e.QuantizationSearchParams(ignore=bool(q.ignore), rescore=q.rescore, oversampling=q.oversampling)
    return e.SearchParams(
        hnsw_ef=params.hnsw_ef,
        exact=bool(params.exact),
        quantization=quantization,
        indexed_only=bool(params.indexed_only),
    )


def _with_payload(value: Any, default: bool) -> Any:
    import qdrant_edge as e
    from qdrant_client.http import models as m

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
    import qdrant_edge as e
    from qdrant_client.http import models as m

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
    import qdrant_edge as e
    from qdrant_client.http import models as m

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
    import qdrant_edge as e

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
    import qdrant_edge as e

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
