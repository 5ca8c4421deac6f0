"""The Edge shards of the store directory: one per collection, their REST definition, writes, optimizer, snapshots."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from devstack.vectorstore.translate import (
    _NAME_RE,
    DEFAULT_SEGMENTS,
    INDEXING_THRESHOLD_KB,
    MAX_SEGMENT_KB,
    OPTIMIZE_AFTER_IDLE_S,
    PAYLOAD_MEMORY,
    SEARCH_THREADS,
    StoreError,
    _bad,
)

log = structlog.get_logger(__name__)

LOCK_FILE = "store.lock"


class StoreInUse(StoreError):
    """Another process owns the store directory: one process owns a store (its WAL, its optimizer, its files)."""

    code = "vector_store_in_use"

    def __init__(self, path: Path, pid: str) -> None:
        """Say which directory, and which process holds it when it wrote its pid.

        Args:
            path: the store directory.
            pid: the owner's process id as it wrote it in the lock file (empty if it wrote none).
        """
        owner = f"process {pid}" if pid else "another process"
        super().__init__(
            409,
            f"The vector store at {path} is in use by {owner} [{self.code}]: one process owns a store. Stop that "
            "process (a `make run` or a test left running?) or give this one another directory (--path, QDRANT_PATH).",
        )
        self.path = path
        self.pid = pid


def store_lock(path: Path) -> int:
    """Own the store directory ``path`` for this process: an exclusive ``flock`` on ``path/store.lock``.

    The kernel drops the lock when the descriptor is closed or the process ends, however it ends (kill -9 too), so a
    crashed store never leaves a stale lock. The owner's pid is written into the file for the next one's message.

    Returns:
        The locked file descriptor; close it to give the directory up.

    Raises:
        StoreInUse: another process (or another open store in this one) holds the directory.
    """
    import fcntl

    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
        os.close(fd)
        raise StoreInUse(path, pid) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


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
    # opened as if just written: the optimizer looks at every shard once after start (a store stopped before it ran
    # would otherwise keep its new segments unindexed until the next write)
    last_write: float = field(default_factory=time.monotonic)
    optimized_at: float = 0.0
    optimizing: bool = False
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    # shared by readers and writers; taken exclusively to snapshot or drop the collection
    readers: int = 0
    gate: threading.Condition = field(default_factory=threading.Condition)
    closing: bool = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Use the shard (read or write) while no snapshot or drop holds it exclusively.

        Raises:
            StoreError: 404 when the collection is being dropped.
        """
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

    def status(self) -> str:
        """Qdrant's collection status: green (optimized), yellow (optimizing), grey (writes wait for the optimizer)."""
        if self.optimizing:
            return "yellow"
        return "grey" if self.last_write > self.optimized_at else "green"

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the shard alone: no write starts and every reader has left (snapshots, drops)."""
        with self.write_lock, self.gate:
            self.gate.wait_for(lambda: self.readers == 0)
            yield


def _edge_config(definition: dict[str, Any]) -> Any:
    """The Edge configuration of a collection's REST definition (see ``translate.INDEXING_THRESHOLD_KB``)."""
    import qdrant_edge as e

    distances = {n: getattr(e.Distance, n) for n in ("Cosine", "Dot", "Euclid", "Manhattan") if hasattr(e.Distance, n)}
    vectors = {}
    for name, params in definition["vectors"].items():
        if params["distance"] not in distances:
            raise _bad(f"unsupported distance {params['distance']}")
        scalar = params.get("quantization") or definition.get("quantization")
        # vectors stay on disk (mmap), paged in by the OS as searches touch them; no HNSW graph (m=0)
        vectors[name] = e.EdgeVectorParams(
            size=params["size"],
            distance=distances[params["distance"]],
            on_disk=True,
            hnsw_config=e.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000),
            quantization_config=(
                e.ScalarQuantizationConfig(
                    e.ScalarType.Int8, quantile=scalar.get("quantile"), always_ram=scalar.get("always_ram")
                )
                if scalar
                else None
            ),
        )
    sparse = {
        name: e.EdgeSparseVectorParams(modifier=e.Modifier.Idf if params.get("modifier") == "idf" else None)
        for name, params in definition["sparse_vectors"].items()
    }
    return e.EdgeConfig(
        vectors=vectors or None,
        sparse_vectors=sparse or None,
        payload_memory=e.Memory.Cold if payload_on_disk(definition) else e.Memory.Cached,
        max_search_threads=SEARCH_THREADS,
        optimizers=e.EdgeOptimizersConfig(
            indexing_threshold=INDEXING_THRESHOLD_KB,
            default_segment_number=DEFAULT_SEGMENTS,
            max_segment_size=MAX_SEGMENT_KB,
        ),
    )


def payload_on_disk(definition: dict[str, Any]) -> bool:
    """Whether the collection's payloads are read from disk on demand: as declared, else the store's default.

    A collection's ``on_disk_payload`` (declared at creation or changed by ``PATCH``) decides; one made by an earlier
    version of the store declared none and follows ``QDRANT_EDGE_PAYLOAD_MEMORY`` (cached: in RAM).
    """
    declared = definition.get("on_disk_payload")
    return PAYLOAD_MEMORY == "cold" if declared is None else bool(declared)


def quantization_definition(value: Any) -> dict[str, Any] | None:
    """A ``quantization_config`` of the REST API (qdrant-client's model) as the store keeps it, or None.

    Raises:
        StoreError: 400 for binary and product quantization (this store keeps scalar int8 only).
    """
    from qdrant_client.http import models as m

    if value is None or isinstance(value, m.Disabled) or value == m.Disabled.DISABLED:
        return None
    if not isinstance(value, m.ScalarQuantization):
        raise _bad("only scalar (int8) quantization is supported by this store")
    scalar = value.scalar
    if scalar.quantile is not None and not 0.5 <= scalar.quantile <= 1.0:
        raise _bad("quantile must be between 0.5 and 1")
    return {"type": "int8", "quantile": scalar.quantile, "always_ram": scalar.always_ram}


def quantization_out(scalar: dict[str, Any] | None) -> dict[str, Any] | None:
    """The kept quantization in the REST API's shape (``ScalarQuantization``)."""
    if not scalar:
        return None
    return {
        "scalar": {"type": "int8"}
        | {key: scalar[key] for key in ("quantile", "always_ram") if scalar.get(key) is not None}
    }


def collection_definition(body: dict[str, Any]) -> dict[str, Any]:
    """The vectors, sparse vectors, quantization and payload storage of a ``CreateCollection`` body, JSON-ready."""
    from qdrant_client.http import models as m

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
        if (scalar := quantization_definition(params.quantization_config)) is not None:
            vectors[name]["quantization"] = scalar
    sparse = {
        name: {"modifier": params.modifier.value if params.modifier is not None else None}
        for name, params in (parsed.sparse_vectors or {}).items()
    }
    if not vectors and not sparse:
        raise _bad("a collection needs vectors or sparse vectors")
    return {
        "vectors": vectors,
        "sparse_vectors": sparse,
        "quantization": quantization_definition(parsed.quantization_config),
        "on_disk_payload": parsed.on_disk_payload,
    }


def _open(name: str, path: Path, definition: dict[str, Any], created_at: str, *, create: bool) -> Collection:
    from qdrant_edge import EdgeShard

    shard_dir = path / "shard"
    config = _edge_config(definition)
    # loading with the configuration brings a shard made by an earlier version of the store to today's settings
    # (the optimizer then indexes, quantizes and merges its segments); Edge checks that it is compatible
    shard = EdgeShard.create(str(shard_dir), config) if create else EdgeShard.load(str(shard_dir), config)
    return Collection(
        name=name,
        path=path,
        shard=shard,
        definition=definition,
        dense={n: int(p["size"]) for n, p in definition["vectors"].items()},
        sparse=set(definition["sparse_vectors"]),
        created_at=created_at,
    )


def collection_info(collection: Collection) -> dict[str, Any]:
    """``GET /collections/{name}``'s answer for ``collection``, in ``models.CollectionInfo``'s shape."""
    with collection.reading():
        info = collection.shard.info()
    vectors: Any = {
        n: {"size": p["size"], "distance": p["distance"]}
        | ({"quantization_config": quantization_out(p["quantization"])} if p.get("quantization") else {})
        for n, p in collection.definition["vectors"].items()
    }
    if set(vectors) == {""}:
        vectors = vectors[""]
    sparse = {
        n: ({"modifier": p["modifier"]} if p["modifier"] else {})
        for n, p in collection.definition["sparse_vectors"].items()
    }
    return {
        "status": collection.status(),
        "optimizer_status": "ok",
        "indexed_vectors_count": info.indexed_vectors_count,
        "points_count": info.points_count,
        "segments_count": info.segments_count,
        "config": {
            "params": {
                "vectors": vectors or None,
                "sparse_vectors": sparse or None,
                "shard_number": 1,
                "replication_factor": 1,
                "write_consistency_factor": 1,
                "on_disk_payload": payload_on_disk(collection.definition),
            },
            "hnsw_config": {"m": 0, "ef_construct": 100, "full_scan_threshold": 10_000},  # no graph: exact scans
            "optimizer_config": {
                "deleted_threshold": 0.2,
                "vacuum_min_vector_number": 1000,
                "default_segment_number": DEFAULT_SEGMENTS,
                "max_segment_size": MAX_SEGMENT_KB,
                "indexing_threshold": INDEXING_THRESHOLD_KB,
                "flush_interval_sec": 5,
            },
            "quantization_config": quantization_out(collection.definition.get("quantization")),
        },
        "payload_schema": {
            key: {"data_type": str(index.data_type).rsplit(".", 1)[-1].lower(), "points": index.points}
            for key, index in info.payload_schema.items()
        },
        "created_at": collection.created_at,
    }


class EdgeStore:
    """Every collection of the store directory, opened at start (Edge loads segments lazily from disk)."""

    def __init__(self, path: Path) -> None:
        """Open every collection under ``path/edge`` and start the background optimizer thread.

        Args:
            path: the store directory.

        Raises:
            StoreInUse: another process owns ``path`` (:func:`store_lock`).
        """
        self._lock_fd = store_lock(path)
        self.root = path / "edge"
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.collections: dict[str, Collection] = {}
        try:
            for folder in sorted(self.root.iterdir()):
                meta = folder / "collection.json"
                if not folder.is_dir() or not meta.exists():
                    continue
                saved = json.loads(meta.read_text())
                self.collections[folder.name] = _open(
                    folder.name, folder, saved["definition"], saved["created_at"], create=False
                )
                log.info("vectorstore_collection_loaded", collection=folder.name)
        except BaseException:
            for collection in self.collections.values():
                collection.shard.close()
            os.close(self._lock_fd)
            raise
        if (path / "collection").is_dir() and (path / "meta.json").exists():
            log.warning("vectorstore_local_mode_data_found", path=str(path), hint="manage.py vectorstore_migrate")
        self._stop = threading.Event()
        self._optimizer = threading.Thread(target=self._optimize_loop, name="edge-optimizer", daemon=True)
        self._optimizer.start()

    # collections
    def get(self, name: str) -> Collection:
        """The open collection ``name``.

        Raises:
            StoreError: 404 when it does not exist.
        """
        found = self.collections.get(name)
        if found is None:
            raise StoreError(404, f"Not found: Collection `{name}` doesn't exist!")
        return found

    def create(self, name: str, body: dict[str, Any]) -> bool:
        """Create the collection ``name`` from a ``CreateCollection`` body; true once created.

        Args:
            name: 1-200 letters, digits, ``_``, ``-`` or ``.``.
            body: the REST body (``vectors``, ``sparse_vectors``).

        Returns:
            True.

        Raises:
            StoreError: 400 for an invalid name or definition, 409 when it exists.
        """
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
        """Close and delete the collection ``name``; false when it did not exist."""
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

    def reconfigure(self, name: str, body: dict[str, Any]) -> bool:
        """Apply an ``UpdateCollection`` body (quantization, ``params.on_disk_payload``); true once done.

        The quantization is the collection's or a named vector's.

        The shard is closed and loaded again with the new configuration while no request holds it; the optimizer
        then quantizes (or drops the quantized copy of) its indexed segments, and moves their payloads into RAM or
        onto disk, once writes pause.

        Raises:
            StoreError: 400 for a field this store does not change, 404 when the collection does not exist.
        """
        from qdrant_client.http import models as m
        from qdrant_edge import EdgeShard

        parsed = m.UpdateCollection.model_validate(body)
        unsupported = sorted(
            field for field in parsed.model_fields_set if field not in ("quantization_config", "vectors", "params")
        )
        if parsed.params is not None:
            unsupported += sorted(f"params.{field}" for field in parsed.params.model_fields_set - {"on_disk_payload"})
        if unsupported:
            raise _bad(
                f"this store changes only quantization_config and params.on_disk_payload, not {', '.join(unsupported)}"
            )
        with self.lock:
            collection = self.get(name)
            definition = json.loads(json.dumps(collection.definition))
            if "quantization_config" in parsed.model_fields_set:
                definition["quantization"] = quantization_definition(parsed.quantization_config)
            if parsed.params is not None and parsed.params.on_disk_payload is not None:
                definition["on_disk_payload"] = parsed.params.on_disk_payload
            for vector, diff in (parsed.vectors or {}).items():
                if vector not in definition["vectors"]:
                    raise _bad(f"Wrong input: Not existing vector name error: {vector}")
                if diff.model_fields_set - {"quantization_config"}:
                    raise _bad("this store changes only a vector's quantization_config")
                scalar = quantization_definition(diff.quantization_config)
                if scalar is None:
                    definition["vectors"][vector].pop("quantization", None)
                else:
                    definition["vectors"][vector]["quantization"] = scalar
            config = _edge_config(definition)
            with collection.exclusive():
                collection.shard.flush()
                collection.shard.close()
                try:
                    shard = EdgeShard.load(str(collection.path / "shard"), config)
                except BaseException:
                    collection.shard = EdgeShard.load(str(collection.path / "shard"))
                    raise
                collection.shard = shard
                tmp = collection.path / "collection.json.tmp"
                tmp.write_text(json.dumps({"definition": definition, "created_at": collection.created_at}))
                tmp.replace(collection.path / "collection.json")
                collection.definition = definition
                collection.last_write = time.monotonic()  # the optimizer indexes the segments again
        log.info(
            "vectorstore_collection_updated",
            collection=name,
            quantization=definition.get("quantization"),
            on_disk_payload=payload_on_disk(definition),
        )
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
                    collection.optimizing = True
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
                    finally:
                        collection.optimizing = False

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
        """Stop the optimizer, flush and close every shard."""
        self._stop.set()
        with self.lock:
            for collection in self.collections.values():
                with collection.exclusive():
                    collection.shard.flush()
                    collection.shard.close()
            self.collections.clear()
            if self._lock_fd >= 0:  # the directory is free for the next store
                os.close(self._lock_fd)
                self._lock_fd = -1


def snapshot_restore(*, snapshot: Path, store_path: Path, collection: str | None = None) -> str:
    """Unpack a snapshot made by the store into ``store_path`` (the store must be stopped); returns the collection.

    The archive is checked (only ``collection.json`` and ``shard/...`` regular files and folders) and unpacked beside
    the live folder, loaded once to prove it opens, then swapped in.

    Raises:
        StoreInUse: a store is serving ``store_path`` (:func:`store_lock`).
        StoreError: the archive is not one of the store's snapshots.
    """
    fd = store_lock(store_path)
    try:
        return _snapshot_unpack(snapshot=snapshot, store_path=store_path, collection=collection)
    finally:
        os.close(fd)


def _snapshot_unpack(*, snapshot: Path, store_path: Path, collection: str | None) -> str:
    from qdrant_edge import EdgeShard

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
