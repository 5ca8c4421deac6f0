"""A single-process Qdrant REST endpoint over a local store (``QdrantClient(path=...)``).

Qdrant's local mode may be opened by one process only, yet the web process, the workers and the tests all need the
store. This server owns it and speaks the subset of Qdrant's REST API that ``qdrant_client``'s remote client uses,
so application code always talks to ``QdrantClient(url=QDRANT_URL)``, as with a real Qdrant server.
Request bodies are parsed into ``qdrant_client.http.models`` and passed to the local client; every answer has
Qdrant's envelope ``{"result": ..., "status": "ok", "time": ...}``. Requests are served one at a time (a lock),
as the local store is not thread-safe.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 256 * 1024 * 1024
_NAME = r"(?P<name>[^/]+)"


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _dump(value: Any) -> Any:
    """JSON-ready form of what the local client returns (pydantic models, lists, tuples, scalars)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


class VectorStoreApp:
    """Routes Qdrant REST calls to a local Qdrant client."""

    def __init__(self, path: Path) -> None:
        from qdrant_client import QdrantClient  # noqa: PLC0415 - heavy, server process only

        path.mkdir(parents=True, exist_ok=True)
        self.client = QdrantClient(path=str(path))
        self.lock = threading.Lock()
        self.server_version = version("qdrant-client")
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"/collections"), self.collections_list),
            ("GET", re.compile(rf"/collections/{_NAME}"), self.collection_get),
            ("GET", re.compile(rf"/collections/{_NAME}/exists"), self.collection_exists),
            ("PUT", re.compile(rf"/collections/{_NAME}"), self.collection_create),
            ("DELETE", re.compile(rf"/collections/{_NAME}"), self.collection_delete),
            ("PUT", re.compile(rf"/collections/{_NAME}/index"), self.index_noop),
            ("DELETE", re.compile(rf"/collections/{_NAME}/index/(?P<field>[^/]+)"), self.index_noop),
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
        ]

    # --- dispatch ------------------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """Serve one request; returns the HTTP status and the JSON payload (enveloped)."""
        started = time.perf_counter()
        if method == "GET" and path == "/":
            return 200, {"title": "qdrant - vector search engine (docintel local)", "version": self.server_version}
        if method == "GET" and path in ("/healthz", "/readyz", "/livez"):
            return 200, f"{path[1:]} check passed"
        found = [(h, m) for verb, pattern, h in self.routes if verb == method and (m := pattern.fullmatch(path))]
        if not found:
            return 404, {"status": {"error": f"Not found: {method} {path}"}, "time": 0.0}
        handler, match = found[0]
        try:
            data = json.loads(body) if body else {}
            with self.lock:
                result = handler(data, **match.groupdict())
        except _HttpError as exc:
            return exc.status, {"status": {"error": exc.message}, "time": time.perf_counter() - started}
        except (ValueError, TypeError, KeyError, AssertionError) as exc:
            # pydantic.ValidationError is a ValueError; the local client raises ValueError for a missing collection
            missing = "not found" in str(exc).lower()
            status = 404 if missing else 400
            return status, {"status": {"error": str(exc)[:2000]}, "time": time.perf_counter() - started}
        return 200, {"result": _dump(result), "status": "ok", "time": time.perf_counter() - started}

    # --- collections ---------------------------------------------------------------------------------------------
    def collections_list(self, data: dict[str, Any]) -> Any:
        return self.client.get_collections()

    def collection_get(self, data: dict[str, Any], name: str) -> Any:
        return self.client.get_collection(name)

    def collection_exists(self, data: dict[str, Any], name: str) -> Any:
        return {"exists": self.client.collection_exists(name)}

    def collection_create(self, data: dict[str, Any], name: str) -> Any:
        from qdrant_client.http import models  # noqa: PLC0415

        body = models.CreateCollection.model_validate(data)
        if self.client.collection_exists(name):
            raise _HttpError(409, f"Wrong input: Collection `{name}` already exists!")
        return self.client.create_collection(
            collection_name=name, vectors_config=body.vectors, sparse_vectors_config=body.sparse_vectors
        )

    def collection_delete(self, data: dict[str, Any], name: str) -> Any:
        return self.client.delete_collection(name)

    def index_noop(self, data: dict[str, Any], name: str, field: str = "") -> Any:
        """Payload indexes change nothing in local mode (exact search); acknowledge like the server."""
        from qdrant_client.http import models  # noqa: PLC0415

        self._require(name)
        return models.UpdateResult(operation_id=0, status=models.UpdateStatus.COMPLETED)

    # --- points --------------------------------------------------------------------------------------------------
    def _require(self, name: str) -> None:
        if not self.client.collection_exists(name):
            raise _HttpError(404, f"Not found: Collection `{name}` doesn't exist!")

    @staticmethod
    def _selector(data: dict[str, Any]) -> Any:
        from qdrant_client.http import models  # noqa: PLC0415

        if data.get("points") is not None:
            return models.PointIdsList(points=data["points"])
        if data.get("filter") is not None:
            return models.FilterSelector(filter=models.Filter.model_validate(data["filter"]))
        raise _HttpError(400, "Bad request: either `points` or `filter` is required")

    def points_upsert(self, data: dict[str, Any], name: str) -> Any:
        from qdrant_client.http import models  # noqa: PLC0415

        self._require(name)
        if "batch" in data:
            return self.client.upsert(name, points=models.PointsBatch.model_validate(data).batch)
        body = models.PointsList.model_validate(data)
        return self.client.upsert(name, points=body.points, update_filter=body.update_filter)

    def points_retrieve(self, data: dict[str, Any], name: str) -> Any:
        from qdrant_client.http import models  # noqa: PLC0415

        self._require(name)
        body = models.PointRequest.model_validate(data)
        return self.client.retrieve(
            name,
            ids=body.ids,
            with_payload=body.with_payload if body.with_payload is not None else True,
            with_vectors=body.with_vector if body.with_vector is not None else False,
        )

    def point_get(self, data: dict[str, Any], name: str, point_id: str) -> Any:
        self._require(name)
        found = self.client.retrieve(name, ids=[int(point_id) if point_id.isdigit() else point_id], with_vectors=True)
        if not found:
            raise _HttpError(404, f"Not found: No point with id {point_id} found")
        return found[0]

    def points_delete(self, data: dict[str, Any], name: str) -> Any:
        self._require(name)
        return self.client.delete(name, points_selector=self._selector(data))

    def payload_set(self, data: dict[str, Any], name: str) -> Any:
        self._require(name)
        return self.client.set_payload(name, payload=data["payload"], points=self._selector(data), key=data.get("key"))

    def payload_overwrite(self, data: dict[str, Any], name: str) -> Any:
        self._require(name)
        return self.client.overwrite_payload(name, payload=data["payload"], points=self._selector(data))

    def payload_delete(self, data: dict[str, Any], name: str) -> Any:
        self._require(name)
        return self.client.delete_payload(name, keys=data["keys"], points=self._selector(data))

    def payload_clear(self, data: dict[str, Any], name: str) -> Any:
        self._require(name)
        return self.client.clear_payload(name, points_selector=self._selector(data))

    def points_scroll(self, data: dict[str, Any], name: str) -> Any:
        from qdrant_client.http import models  # noqa: PLC0415

        self._require(name)
        body = models.ScrollRequest.model_validate(data)
        points, next_offset = self.client.scroll(
            name,
            scroll_filter=body.filter,
            limit=body.limit or 10,
            order_by=body.order_by,
            offset=body.offset,
            with_payload=body.with_payload if body.with_payload is not None else True,
            with_vectors=body.with_vector if body.with_vector is not None else False,
        )
        return {"points": points, "next_page_offset": next_offset}

    def points_count(self, data: dict[str, Any], name: str) -> Any:
        from qdrant_client.http import models  # noqa: PLC0415

        self._require(name)
        body = models.CountRequest.model_validate(data)
        return self.client.count(name, count_filter=body.filter, exact=True)

    def _query(self, name: str, body: Any) -> Any:
        return self.client.query_points(
            name,
            query=body.query,
            using=body.using,
            prefetch=body.prefetch,
            query_filter=body.filter,
            search_params=body.params,
            limit=body.limit if body.limit is not None else 10,
            offset=body.offset,
            with_payload=body.with_payload if body.with_payload is not None else False,
            with_vectors=body.with_vector if body.with_vector is not None else False,
            score_threshold=body.score_threshold,
            lookup_from=body.lookup_from,
        )

    def points_query(self, data: dict[str, Any], name: str) -> Any:
        from qdrant_client.http import models  # noqa: PLC0415

        self._require(name)
        return self._query(name, models.QueryRequest.model_validate(data))

    def points_query_batch(self, data: dict[str, Any], name: str) -> Any:
        from qdrant_client.http import models  # noqa: PLC0415

        self._require(name)
        body = models.QueryRequestBatch.model_validate(data)
        return [self._query(name, request) for request in body.searches]

    def close(self) -> None:
        self.client.close()


def _handler_for(app: VectorStoreApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"status": {"error": "Payload too large"}})
                return
            body = self.rfile.read(length) if length else b""
            status, payload = app.handle(self.command, urlsplit(self.path).path.rstrip("/") or "/", body)
            self._send(status, payload)

        def _send(self, status: int, payload: Any) -> None:
            raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("vectorstore_request", line=format % args)

    return Handler


def vectorstore_serve(*, host: str, port: int, path: Path, ready: Callable[[], None] | None = None) -> None:
    """Serve the local store at ``path`` on ``host:port`` until interrupted."""
    app = VectorStoreApp(path)
    server = ThreadingHTTPServer((host, port), _handler_for(app))
    server.daemon_threads = True
    log.info("vectorstore_listening", host=host, port=port, path=str(path))
    if ready is not None:
        ready()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        app.close()
