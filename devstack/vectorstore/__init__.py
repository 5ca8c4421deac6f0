"""Qdrant Edge (``qdrant-edge-py``, Qdrant's Rust engine in-process) under the subset of Qdrant's REST API the app uses.

One Edge shard per collection under ``<path>/edge/<collection>/``; the collection's REST definition (vectors, sparse
vectors) is kept beside it in ``collection.json`` so ``GET /collections/{name}`` answers what was created. Request
bodies are validated with qdrant-client's own models, then translated onto Edge objects; answers are built in the
shapes qdrant-client's models parse (tests/devstack/test_vectorstore_server.py holds the contract).

Writes are acknowledged once Edge has applied them (its write-ahead log is on, so a killed process replays them on
the next load). Points are validated by hand (not through the pydantic unions), which keeps upserts fast.
"""

from devstack.vectorstore.store import Collection, EdgeStore, StoreInUse, _edge_config, snapshot_restore, store_lock
from devstack.vectorstore.translate import (
    MAX_BATCH,
    MAX_LIMIT,
    MAX_QUERIES,
    StoreError,
    _with_payload,
    edge_filter,
    point_id,
    points_from_body,
    query_request,
    record_out,
    scored_out,
)

__all__ = [
    "MAX_BATCH",
    "MAX_LIMIT",
    "MAX_QUERIES",
    "Collection",
    "EdgeStore",
    "StoreError",
    "StoreInUse",
    "_edge_config",
    "_with_payload",
    "edge_filter",
    "point_id",
    "points_from_body",
    "query_request",
    "record_out",
    "scored_out",
    "snapshot_restore",
    "store_lock",
]
