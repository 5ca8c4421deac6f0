"""The embedded vector store: Qdrant Edge (Qdrant's Rust engine, in-process) behind Qdrant's REST API.

One process owns the store directory; the web process, the workers and the tests reach it with
``QdrantClient(url=QDRANT_URL)``, the same code path as a real Qdrant server in production. This module speaks the
subset of the REST API the app uses (collections, payload indexes, upsert, retrieve, delete, payload, scroll, count,
query and query batch with prefetch + fusion, snapshots); every other path or method answers Qdrant's error envelope
``{"status": {"error": ...}, "time": ...}`` with a 4xx. The engine is ``devstack.vectorstore``.

Security and bounds: binds to 127.0.0.1 by default; when an API key is configured every request but the health
probes must carry it (``api-key`` header or ``Authorization: Bearer``); bodies are capped (``MAX_BODY_BYTES``), a
missing, negative or non-numeric ``Content-Length`` on a body, or chunked bodies, get 400; a slow client times out.
The HTTP/1.1 layer is ``devstack.vectorstore.http``; ``python -m devstack.vectorstore.server``
starts the store without Django.
"""

from __future__ import annotations

import hmac
import re
import sys
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import structlog

from devstack.vectorstore import (
    MAX_BATCH,
    MAX_LIMIT,
    MAX_QUERIES,
    Collection,
    EdgeStore,
    StoreError,
    StoreInUse,
    edge_filter,
    point_id,
    points_from_body,
    query_request,
    record_out,
    scored_out,
)
from devstack.vectorstore.http import Answer, HTTPServer, Request, error_body, serve_until_stopped
from devstack.vectorstore.rest_models import light_rest_models, rest_models_warm_up
from devstack.vectorstore.store import collection_info

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
_NAME = r"(?P<name>[^/]{1,255})"
_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/livez"})


def _bad(message: str) -> StoreError:
    return StoreError(400, f"Bad request: {message}")


def _validate(model: Any, data: Any) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _bad(f"Format error in JSON body: {exc.errors(include_url=False, include_input=False)[:3]}") from None


class VectorStoreApp:
    """Routes Qdrant REST calls to the Edge store."""

    def __init__(self, path: Path, *, api_key: str | None = None) -> None:
        """Open (or create) the store at ``path`` and build the route table.

        Args:
            path: the store directory (``edge/`` holds one Edge shard a collection, ``snapshots/`` the archives).
            api_key: required on every request but the health probes when set.
        """
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.api_key = api_key or None
        self.store = EdgeStore(path)
        self.server_version = version("qdrant-edge-py")
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"/collections"), self.collections_list),
            ("GET", re.compile(rf"/collections/{_NAME}"), self.collection_get),
            ("GET", re.compile(rf"/collections/{_NAME}/exists"), self.collection_exists),
            ("PUT", re.compile(rf"/collections/{_NAME}"), self.collection_create),
            ("DELETE", re.compile(rf"/collections/{_NAME}"), self.collection_delete),
            ("PATCH", re.compile(rf"/collections/{_NAME}"), self.collection_update),
            ("PUT", re.compile(rf"/collections/{_NAME}/index"), self.index_create),
            ("DELETE", re.compile(rf"/collections/{_NAME}/index/(?P<field>[^/]+)"), self.index_delete),
            ("PUT", re.compile(rf"/collections/{_NAME}/points"), self.points_upsert),
            ("POST", re.compile(rf"/collections/{_NAME}/points"), self.points_retrieve),
            ("GET", re.compile(rf"/collections/{_NAME}/points/(?P<point_id>[^/]+)"), self.point_get),
            ("POST", re.compile(rf"/collections/{_NAME}/points/delete"), self.points_delete),
            ("POST", re.compile(rf"/collections/{_NAME}/points/payload"), self.payload_set),
            ("PUT", re.compile(rf"/collections/{_NAME}/points/payload"), self.payload_overwrite),
            ("POST", re.compile(rf"/collections/{_NAME}/points/payload/delete"), self.payload_delete),
            ("POST", re.compile(rf"/collections/{_NAME}/points/payload/clear"), self.payload_clear),
            ("POST", re.compile(rf"/collections/{_NAME}/points/scroll"), self.points_scroll),
            ("POST", re.compile(rf"/collections/{_NAME}/points/count"), self.points_count),
            ("POST", re.compile(rf"/collections/{_NAME}/points/query"), self.points_query),
            ("POST", re.compile(rf"/collections/{_NAME}/points/query/batch"), self.points_query_batch),
            ("POST", re.compile(rf"/collections/{_NAME}/snapshots"), self.snapshot_create),
            ("GET", re.compile(rf"/collections/{_NAME}/snapshots"), self.snapshot_list),
        ]
        self.by_method: dict[str, list[tuple[re.Pattern[str], Callable[..., Any]]]] = {}
        for verb, pattern, handler in self.routes:
            self.by_method.setdefault(verb, []).append((pattern, handler))

    # --- dispatch ------------------------------------------------------------------------------------------------
    def authorized(self, headers: Any) -> bool:
        """Whether a request's ``api-key`` header (or ``Authorization: Bearer``) is the store's key.

        Compared in constant time; always true when no key is configured.
        """
        if self.api_key is None:
            return True
        given = headers.get("api-key") or ""
        bearer = headers.get("authorization") or ""
        if not given and bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        return hmac.compare_digest(given.encode(), self.api_key.encode())

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """Serve one request; returns the HTTP status and the JSON payload (enveloped)."""
        started = time.perf_counter()
        if method == "GET" and path == "/":
            return 200, {"title": "qdrant - vector search engine (docintel edge)", "version": self.server_version}
        if method == "GET" and path in _OPEN_PATHS:
            return 200, f"{path[1:]} check passed"
        try:
            handler, match = None, None
            for pattern, candidate in self.by_method.get(method, ()):
                if (match := pattern.fullmatch(path)) is not None:
                    handler = candidate
                    break
            if handler is None or match is None:
                raise StoreError(404, f"Not found: {method} {path[:200]}")
            try:
                data = orjson.loads(body) if body else {}
            except orjson.JSONDecodeError as exc:
                raise _bad(f"Json deserialize error: {str(exc)[:200]}") from None
            if not isinstance(data, dict):
                raise _bad("the body must be a JSON object")
            result = handler(data, **{k: unquote(v) for k, v in match.groupdict().items()})
        except StoreError as exc:
            return exc.status, {"status": {"error": exc.message}, "time": time.perf_counter() - started}
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            # Edge raises ValueError/TypeError for input it refuses (wrong types, bad filters)
            return 400, {"status": {"error": f"Bad request: {str(exc)[:500]}"}, "time": time.perf_counter() - started}
        except Exception as exc:  # the request boundary: log it and answer the envelope, never drop the connection
            log.exception("vectorstore_request_failed", method=method, path=path[:200])
            error = f"Service internal error: {type(exc).__name__}"
            return 500, {"status": {"error": error}, "time": time.perf_counter() - started}
        return 200, {"result": result, "status": "ok", "time": time.perf_counter() - started}

    # --- collections ---------------------------------------------------------------------------------------------
    def collections_list(self, data: dict[str, Any]) -> Any:
        """``GET /collections``: the names of every collection."""
        return {"collections": [{"name": name} for name in sorted(self.store.collections)]}

    def collection_get(self, data: dict[str, Any], name: str) -> Any:
        """``GET /collections/{name}``: the collection's info in ``models.CollectionInfo``'s shape.

        Raises:
            StoreError: 404 when the collection does not exist.
        """
        return collection_info(self.store.get(name))

    def collection_exists(self, data: dict[str, Any], name: str) -> Any:
        """``GET /collections/{name}/exists``: whether the collection exists."""
        return {"exists": name in self.store.collections}

    def collection_create(self, data: dict[str, Any], name: str) -> Any:
        """``PUT /collections/{name}``: create a collection (dense and sparse vectors of the body).

        Raises:
            StoreError: 400 for an invalid name or definition, 409 when it already exists.
        """
        return self.store.create(name, data)

    def collection_update(self, data: dict[str, Any], name: str) -> Any:
        """``PATCH /collections/{name}``: change the quantization or ``params.on_disk_payload`` (the rest is refused).

        Raises:
            StoreError: 400 for another field or an invalid body, 404 when the collection does not exist.
        """
        return self.store.reconfigure(name, data)

    def collection_delete(self, data: dict[str, Any], name: str) -> Any:
        """``DELETE /collections/{name}``: drop the collection and its files; false when it did not exist."""
        return self.store.drop(name)

    def index_create(self, data: dict[str, Any], name: str) -> Any:
        """``PUT /collections/{name}/index``: create a payload index (keyword, integer, bool, ...).

        Raises:
            StoreError: 400 without ``field_schema`` or for a schema Edge does not support.
        """
        import qdrant_edge as e
        from qdrant_client.http import models

        collection = self.store.get(name)
        body = _validate(models.CreateFieldIndex, data)
        schema = body.field_schema
        if schema is None:
            raise _bad("field_schema is required")
        kind = schema.value if isinstance(schema, models.PayloadSchemaType) else str(schema.type.value)
        edge_kind = getattr(e.PayloadSchemaType, kind.capitalize(), None) if kind.isalpha() else None
        if edge_kind is None:
            raise _bad(f"unsupported field_schema {kind}")
        return self.store.update(collection, [e.UpdateOperation.create_field_index(body.field_name, edge_kind)])

    def index_delete(self, data: dict[str, Any], name: str, field: str) -> Any:
        """``DELETE /collections/{name}/index/{field}``: drop a payload index."""
        import qdrant_edge as e

        collection = self.store.get(name)
        return self.store.update(collection, [e.UpdateOperation.delete_field_index(field)])

    # --- points --------------------------------------------------------------------------------------------------
    def points_upsert(self, data: dict[str, Any], name: str) -> Any:
        """``PUT /collections/{name}/points``: upsert a ``PointsList`` or a columnar ``PointsBatch``.

        Acknowledged once Edge applied it (write-ahead log on). ``update_filter`` limits the update to matching points.

        Raises:
            StoreError: 400 for malformed points, too many points, or a wrong vector name or size.
        """
        import qdrant_edge as e
        from qdrant_client.http import models

        collection = self.store.get(name)
        points = points_from_body(data, collection)
        condition = None
        if data.get("update_filter") is not None:
            condition = edge_filter(_validate(models.Filter, data["update_filter"]))
        return self.store.update(collection, [e.UpdateOperation.upsert_points(points, condition)])

    def points_retrieve(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/points``: the points with the given ids (payload, vectors on request).

        Raises:
            StoreError: 400 beyond ``MAX_LIMIT`` ids.
        """
        from qdrant_client.http import models

        from devstack.vectorstore import _with_payload

        collection = self.store.get(name)
        body = _validate(models.PointRequest, data)
        ids = [point_id(str(i) if not isinstance(i, int) else i) for i in body.ids]
        if len(ids) > MAX_LIMIT:
            raise _bad(f"at most {MAX_LIMIT} ids a retrieve")
        with collection.reading():
            records = collection.shard.retrieve(
                ids,
                with_payload=_with_payload(body.with_payload, default=True),
                with_vector=body.with_vector if body.with_vector is not None else False,
            )
        return [record_out(r) for r in records]

    def point_get(self, data: dict[str, Any], name: str, point_id: str) -> Any:
        """``GET /collections/{name}/points/{id}``: one point with its payload and vectors.

        Raises:
            StoreError: 404 when there is no such point.
        """
        from devstack.vectorstore import point_id as parse_id

        collection = self.store.get(name)
        pid = parse_id(int(point_id) if point_id.isdigit() else point_id)
        with collection.reading():
            found = collection.shard.retrieve([pid], with_payload=True, with_vector=True)
        if not found:
            raise StoreError(404, f"Not found: No point with id {point_id[:64]} found")
        return record_out(found[0])

    def _selected(self, data: dict[str, Any]) -> tuple[list[Any] | None, Any]:
        """``points`` (ids) or ``filter`` of a selector body: exactly one of them."""
        from qdrant_client.http import models

        if data.get("points") is not None:
            if not isinstance(data["points"], list) or len(data["points"]) > MAX_BATCH:
                raise _bad(f"points must be a list of at most {MAX_BATCH} ids")
            return [point_id(p) for p in data["points"]], None
        if data.get("filter") is not None:
            return None, edge_filter(_validate(models.Filter, data["filter"]))
        raise _bad("either `points` or `filter` is required")

    def points_delete(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/points/delete``: delete points by ids or by filter."""
        import qdrant_edge as e

        collection = self.store.get(name)
        ids, flt = self._selected(data)
        op = e.UpdateOperation.delete_points(ids) if ids is not None else e.UpdateOperation.delete_points_by_filter(flt)
        return self.store.update(collection, [op])

    def _payload(self, data: dict[str, Any]) -> dict[str, Any]:
        payload = data.get("payload")
        if not isinstance(payload, dict):
            raise _bad("payload must be an object")
        return payload

    def payload_set(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/points/payload``: merge keys into the payload of the selected points."""
        import qdrant_edge as e

        collection = self.store.get(name)
        payload, (ids, flt), key = self._payload(data), self._selected(data), data.get("key")
        op = (
            e.UpdateOperation.set_payload(ids, payload, key)
            if ids is not None
            else e.UpdateOperation.set_payload_by_filter(flt, payload, key)
        )
        return self.store.update(collection, [op])

    def payload_overwrite(self, data: dict[str, Any], name: str) -> Any:
        """``PUT /collections/{name}/points/payload``: replace the payload of the selected points."""
        import qdrant_edge as e

        collection = self.store.get(name)
        payload, (ids, flt) = self._payload(data), self._selected(data)
        op = (
            e.UpdateOperation.overwrite_payload(ids, payload)
            if ids is not None
            else e.UpdateOperation.overwrite_payload_by_filter(flt, payload)
        )
        return self.store.update(collection, [op])

    def payload_delete(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/points/payload/delete``: remove keys from the selected points' payload.

        Raises:
            StoreError: 400 unless ``keys`` is a list of strings.
        """
        import qdrant_edge as e

        collection = self.store.get(name)
        keys = data.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise _bad("keys must be a list of strings")
        ids, flt = self._selected(data)
        op = (
            e.UpdateOperation.delete_payload(ids, keys)
            if ids is not None
            else e.UpdateOperation.delete_payload_by_filter(flt, keys)
        )
        return self.store.update(collection, [op])

    def payload_clear(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/points/payload/clear``: empty the selected points' payload."""
        import qdrant_edge as e

        collection = self.store.get(name)
        ids, flt = self._selected(data)
        op = e.UpdateOperation.clear_payload(ids) if ids is not None else e.UpdateOperation.clear_payload_by_filter(flt)
        return self.store.update(collection, [op])

    def points_scroll(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/points/scroll``: a page of points in id order, and the next offset.

        Raises:
            StoreError: 400 for ``order_by`` or a limit beyond ``MAX_BATCH``.
        """
        import qdrant_edge as e
        from qdrant_client.http import models

        from devstack.vectorstore import _with_payload

        collection = self.store.get(name)
        body = _validate(models.ScrollRequest, data)
        if body.order_by is not None:
            raise _bad("order_by is not supported by this store")
        limit = 10 if body.limit is None else body.limit
        if not 0 <= limit <= MAX_BATCH:
            raise _bad(f"scroll limit must be between 0 and {MAX_BATCH}")
        offset = (
            None
            if body.offset is None
            else point_id(str(body.offset) if not isinstance(body.offset, int) else body.offset)
        )
        request = e.ScrollRequest(
            offset=offset,
            limit=limit,
            filter=edge_filter(body.filter),
            with_payload=_with_payload(body.with_payload, default=True),
            with_vector=body.with_vector if body.with_vector is not None else False,
        )
        with collection.reading():
            records, next_offset = collection.shard.scroll(request)
        return {
            "points": [record_out(r) for r in records],
            "next_page_offset": None
            if next_offset is None
            else (next_offset if isinstance(next_offset, int) else str(next_offset)),
        }

    def points_count(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/points/count``: the exact number of points matching the filter."""
        import qdrant_edge as e
        from qdrant_client.http import models

        collection = self.store.get(name)
        body = _validate(models.CountRequest, data)
        with collection.reading():
            count = collection.shard.count(e.CountRequest(exact=True, filter=edge_filter(body.filter)))
        return {"count": count}

    def _run_queries(self, collection: Collection, requests: list[Any]) -> list[dict[str, Any]]:
        import qdrant_edge as e

        edge_requests = [query_request(r, collection) for r in requests]
        with collection.reading():
            if len(edge_requests) == 1:
                results = [collection.shard.query(edge_requests[0])]
            else:
                results = collection.shard.query_batch(e.QueryBatchRequest(edge_requests))
        return [{"points": [scored_out(p) for p in points]} for points in results]

    def points_query(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/points/query``: one Query API request (prefetch and fusion in Edge)."""
        from qdrant_client.http import models

        collection = self.store.get(name)
        return self._run_queries(collection, [_validate(models.QueryRequest, data)])[0]

    def points_query_batch(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/points/query/batch``: several queries, answered in one Edge call.

        Raises:
            StoreError: 400 beyond ``MAX_QUERIES`` searches.
        """
        from qdrant_client.http import models

        collection = self.store.get(name)
        body = _validate(models.QueryRequestBatch, data)
        if len(body.searches) > MAX_QUERIES:
            raise _bad(f"at most {MAX_QUERIES} searches a batch")
        if not body.searches:
            return []
        return self._run_queries(collection, body.searches)

    # --- snapshots -----------------------------------------------------------------------------------------------
    def _snapshot_dir(self, name: str) -> Path:
        return self.path / "snapshots" / name

    def snapshot_create(self, data: dict[str, Any], name: str) -> Any:
        """``POST /collections/{name}/snapshots``: archive the collection (consistent: no write runs meanwhile)."""
        collection = self.store.get(name)
        target = self.store.snapshot(collection, self._snapshot_dir(name))
        return _snapshot_description(target)

    def snapshot_list(self, data: dict[str, Any], name: str) -> Any:
        """``GET /collections/{name}/snapshots``: the collection's archives, oldest name first."""
        self.store.get(name)
        folder = self._snapshot_dir(name)
        return [_snapshot_description(p) for p in sorted(folder.glob("*.snapshot"))] if folder.exists() else []

    def snapshot_file(self, name: str, snapshot: str) -> Path:
        """The archive of ``GET /collections/{name}/snapshots/{snapshot}`` (served as a file, not JSON)."""
        self.store.get(name)
        target = self._snapshot_dir(name) / snapshot
        if "/" in snapshot or snapshot.startswith(".") or not snapshot.endswith(".snapshot") or not target.is_file():
            raise StoreError(404, f"Not found: Snapshot {snapshot[:100]} not found")
        return target

    def close(self) -> None:
        """Flush and close every collection (the process is stopping)."""
        self.store.close()


def _snapshot_description(path: Path) -> dict[str, Any]:
    stat = path.stat()
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stat.st_mtime))
    return {"name": path.name, "creation_time": created, "size": stat.st_size, "checksum": None}


_SNAPSHOT_FILE = re.compile(r"/collections/(?P<name>[^/]{1,255})/snapshots/(?P<snapshot>[^/]{1,255})")
_JSON = b"application/json"
_REPO = Path(__file__).resolve().parents[2]


def _http_handler(app: VectorStoreApp) -> Callable[[Request], Answer]:
    def answer(request: Request) -> Answer:
        if request.method == "GET" and (snap := _SNAPSHOT_FILE.fullmatch(request.path)):
            try:
                return app.snapshot_file(unquote(snap["name"]), unquote(snap["snapshot"]))
            except StoreError as exc:
                return exc.status, error_body(exc.message), _JSON
        status, payload = app.handle(request.method, request.path, request.body)
        if isinstance(payload, str):
            return status, payload.encode(), b"text/plain"
        return status, orjson.dumps(payload), _JSON

    return answer


def vectorstore_serve(
    *, host: str, port: int, path: Path, api_key: str | None = None, ready: Callable[[], None] | None = None
) -> None:
    """Serve the Edge store at ``path`` on ``host:port`` until interrupted (SIGINT, or SIGTERM turned into one)."""
    started = time.perf_counter()
    app = VectorStoreApp(path, api_key=api_key)
    server = HTTPServer(
        host=host,
        port=port,
        handler=_http_handler(app),
        authorize=lambda request: app.authorized(request.headers),
        open_paths=_OPEN_PATHS | {"/"},
        max_body=MAX_BODY_BYTES,
    )
    log.info(
        "vectorstore_listening",
        host=host,
        port=server.port,
        path=str(path),
        engine="qdrant-edge",
        api_key=bool(app.api_key),
        startup_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    threading.Thread(target=rest_models_warm_up, name="vectorstore-warm-up", daemon=True).start()
    try:
        serve_until_stopped(server, ready)
    finally:
        server.shutdown()
        app.close()


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``python -m devstack.vectorstore.server``: the store without Django (it needs none of its apps).

    The same options as ``manage.py vectorstore``; the API key comes from ``QDRANT_API_KEY`` (the environment, not
    argv, so ``ps`` does not show it), the default path from ``QDRANT_PATH`` (else ``var/qdrant``).
    """
    import argparse
    import contextlib
    import importlib.util
    import os
    import signal

    # docintel.logging by its file: importing the ``docintel`` package would load Celery (most of a second)
    spec = importlib.util.spec_from_file_location("docintel_logging", _REPO / "docintel" / "logging.py")
    assert spec is not None
    assert spec.loader is not None
    logging_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(logging_module)

    parser = argparse.ArgumentParser(description="Serve the embedded vector store (Qdrant Edge), Qdrant's REST API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6333)
    parser.add_argument("--path", default=os.environ.get("QDRANT_PATH") or str(_REPO / "var" / "qdrant"))
    args = parser.parse_args(argv)
    debug = os.environ.get("DEBUG", "").lower() in ("1", "true", "yes", "on")
    json_logs = os.environ.get("LOG_JSON", str(not debug)).lower() in ("1", "true", "yes", "on")
    logging_module.configure_logging(json_output=json_logs, level=os.environ.get("LOG_LEVEL", "INFO"))
    # SIGTERM stops the store as Ctrl-C does. Raised here, not re-sent as SIGINT: a store started in the background
    # by a shell (``... &``) inherits SIGINT ignored, and a re-sent SIGINT would then be dropped.
    signal.signal(signal.SIGTERM, _terminate)
    light_rest_models()
    try:
        with contextlib.suppress(KeyboardInterrupt):  # SIGINT or SIGTERM: vectorstore_serve flushed and closed it
            vectorstore_serve(
                host=args.host, port=args.port, path=Path(args.path), api_key=os.environ.get("QDRANT_API_KEY") or None
            )
    except StoreInUse as exc:  # a second store on the same directory: say so, no traceback
        log.error("vectorstore_in_use", code=exc.code, path=str(exc.path), owner_pid=exc.pid)
        sys.stderr.write(f"{exc.message}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
