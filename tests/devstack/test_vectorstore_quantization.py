"""The embedded store's in-RAM copies: the int8 vectors and the payload, as the app uses them through ``QdrantClient``.

The app creates its collection with ``quantization_config`` (int8, in RAM) and asks each dense search to rescore
``QDRANT_OVERSAMPLING`` x the wanted hits with the float vectors; an older collection gets the quantization through
``PATCH /collections/{name}`` on the next ingest. The store indexes a segment (its int8 copy) once it holds more than
``QDRANT_EDGE_INDEXING_THRESHOLD_KB`` of vectors; the tests lower it to 1 KB so a few hundred points are indexed.
Payloads are kept in RAM (``QDRANT_EDGE_PAYLOAD_MEMORY``, cached); a store an earlier version made cold is converted.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from devstack import localservers

pytestmark = pytest.mark.slow

KEY = "test-key-" + uuid.uuid4().hex
DIM = 16
N = 600


def _client(url: str):
    from qdrant_client import QdrantClient

    return QdrantClient(url=url, api_key=KEY, timeout=10, check_compatibility=False, https=False)


def _start(path: Path, server_logs: Path, **options: str) -> tuple[localservers.ManagedProcess, str]:
    port = localservers.free_port()
    proc = localservers.vectorstore_server(
        port=port, path=path, log_dir=server_logs, api_key=KEY, indexing_threshold_kb=1, **options
    ).start()
    return proc, f"http://127.0.0.1:{port}"


def _vectors(n: int, seed: int = 3):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM)).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _upsert(client, name: str, vectors, groups: int = 4) -> list[str]:
    from qdrant_client import models

    from documents.services.vectorstore import search_keys

    ids = [str(uuid.uuid5(uuid.NAMESPACE_OID, f"q{i}")) for i in range(len(vectors))]
    client.upsert(
        name,
        points=[
            models.PointStruct(
                id=ids[i],
                vector={"dense": vectors[i].tolist(), "sparse": models.SparseVector(indices=[i % 40], values=[1.0])},
                payload=(payload := {"access_group_ids": [i % groups], "document_id": i // 10})
                | {"search_keys": search_keys(payload)},
            )
            for i in range(len(vectors))
        ],
        wait=True,
    )
    return ids


def _wait_indexed(client, name: str, count: int, timeout: float = 30.0) -> None:
    """Wait for the optimizer (it runs once writes pause 2 s): status grey (pending), yellow (running), green."""
    from qdrant_client import models

    deadline = time.monotonic() + timeout
    while (info := client.get_collection(name)).status != models.CollectionStatus.GREEN:
        assert info.status in (models.CollectionStatus.GREY, models.CollectionStatus.YELLOW), info
        assert time.monotonic() < deadline, info
        time.sleep(0.1)
    assert info.indexed_vectors_count >= count, info


def _exact_top(vectors, query, allowed, k: int = 10) -> list[int]:
    import numpy as np

    scores = vectors @ query
    scores[~allowed] = -9.0
    return [int(i) for i in np.argsort(-scores)[:k]]


@pytest.mark.parametrize("language", ["en", "el"])
def test_the_apps_collection_is_quantized_and_its_filtered_dense_search_matches_the_exact_scan(
    tmp_path, server_logs, settings, language
):
    """collection_ensure declares int8; once indexed, the app's dense leg (rescored) finds the exact top 10."""
    import numpy as np
    from qdrant_client import models

    from documents.services import vectorstore

    proc, url = _start(tmp_path, server_logs)
    try:
        settings.QDRANT_URL = url
        settings.QDRANT_COLLECTION_PREFIX = f"q{language}{uuid.uuid4().hex[:6]}"
        client = _client(url)
        name = vectorstore.collection_ensure(client=client, dim=DIM)
        config = client.get_collection(name).config
        assert isinstance(config.quantization_config, models.ScalarQuantization)
        assert config.quantization_config.scalar.type == models.ScalarType.INT8
        assert config.quantization_config.scalar.quantile == 0.99 and config.quantization_config.scalar.always_ram
        assert config.hnsw_config.m == 0  # no graph: exact scans (the GIL-holding build, translate.py)
        vectors = _vectors(N, seed=11 if language == "el" else 3)
        ids = _upsert(client, name, vectors)
        assert client.get_collection(name).status == models.CollectionStatus.GREY  # written, not yet optimized
        _wait_indexed(client, name, N)
        groups = np.array([i % 4 for i in range(N)])
        params = vectorstore.dense_search_params()
        assert params.quantization.rescore is True and params.quantization.oversampling == 2.0
        hits = 0
        for q in range(20):
            query = _vectors(20, seed=100 + q)[q]
            reader = vectorstore.permission_filter(group_ids=[1, 2])
            got = client.query_points(
                name, query=query.tolist(), using="dense", query_filter=reader, limit=10, search_params=params
            ).points
            assert len(got) == 10 and all(p.payload["access_group_ids"][0] in (1, 2) for p in got)
            exact = [ids[i] for i in _exact_top(vectors, query, np.isin(groups, [1, 2]))]
            hits += len({str(p.id) for p in got} & set(exact))
            floats = client.query_points(
                name,
                query=query.tolist(),
                using="dense",
                query_filter=reader,
                limit=10,
                search_params=models.SearchParams(quantization=models.QuantizationSearchParams(ignore=True)),
            ).points
            assert [str(p.id) for p in floats] == exact  # the float scan is exact
        assert hits / 200 >= 0.98
        # the int8 copy is what is scanned: without the rescore the scores are int8 approximations of the cosine,
        # with it they are the float cosine itself
        query = _vectors(1, seed=999)[0]
        approx = client.query_points(
            name,
            query=query.tolist(),
            using="dense",
            limit=10,
            search_params=models.SearchParams(quantization=models.QuantizationSearchParams(rescore=False)),
        ).points
        rescored = client.query_points(name, query=query.tolist(), using="dense", limit=10, search_params=params).points
        cosine = {ids[i]: float(vectors[i] @ query) for i in range(N)}
        assert all(abs(p.score - cosine[str(p.id)]) < 1e-4 for p in rescored)
        assert max(abs(p.score - cosine[str(p.id)]) for p in approx) > 1e-3
    finally:
        proc.stop()


def test_an_older_collection_is_quantized_on_the_next_ingest_and_keeps_its_points_across_a_restart(
    tmp_path, server_logs, settings
):
    """A collection made before quantization gets it by PATCH (collection_ensure); the store reopens it quantized."""
    from qdrant_client import models

    from documents.services import vectorstore

    proc, url = _start(tmp_path, server_logs)
    settings.QDRANT_URL = url
    settings.QDRANT_COLLECTION_PREFIX = f"old{uuid.uuid4().hex[:6]}"
    name = vectorstore.collection_name(DIM)
    try:
        client = _client(url)
        client.create_collection(
            name,
            vectors_config={"dense": models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
            sparse_vectors_config={"sparse": models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        vectors = _vectors(N)
        _upsert(client, name, vectors)
        assert client.get_collection(name).config.quantization_config is None
        vectorstore._indexes_checked.clear()
        assert vectorstore.collection_ensure(client=client, dim=DIM) == name
        assert isinstance(client.get_collection(name).config.quantization_config, models.ScalarQuantization)
        _wait_indexed(client, name, N)
        before = client.query_points(name, query=vectors[5].tolist(), using="dense", limit=3).points
        assert str(before[0].id) == str(uuid.uuid5(uuid.NAMESPACE_OID, "q5"))
    finally:
        proc.stop()
    proc, url = _start(tmp_path, server_logs)
    try:
        client = _client(url)
        info = client.get_collection(name)
        assert info.points_count == N and isinstance(info.config.quantization_config, models.ScalarQuantization)
        after = client.query_points(
            name, query=vectors[5].tolist(), using="dense", limit=3, search_params=vectorstore.dense_search_params()
        ).points
        assert [p.id for p in after] == [p.id for p in before]
        client.update_collection(name, quantization_config=models.Disabled.DISABLED)  # and off again
        assert client.get_collection(name).config.quantization_config is None
        assert client.count(name).count == N
    finally:
        proc.stop()


def test_unsupported_updates_and_bad_search_params_get_400_in_the_error_envelope(tmp_path, server_logs):
    proc, url = _start(tmp_path, server_logs)
    headers = {"api-key": KEY}
    try:
        create = {"vectors": {"dense": {"size": DIM, "distance": "Cosine"}}}
        assert httpx.put(f"{url}/collections/c", json=create, headers=headers).status_code == 200
        cases = [
            ("PATCH", "/collections/c", {"optimizers_config": {"indexing_threshold": 1}}),
            ("PATCH", "/collections/c", {"quantization_config": {"binary": {"always_ram": True}}}),
            ("PATCH", "/collections/c", {"quantization_config": {"scalar": {"type": "int8", "quantile": 0.1}}}),
            ("PATCH", "/collections/c", {"vectors": {"nope": {"quantization_config": {"scalar": {"type": "int8"}}}}}),
            ("PATCH", "/collections/c", {"quantization_config": "sideways"}),
            (
                "POST",
                "/collections/c/points/query",
                {"query": [0.1] * DIM, "using": "dense", "params": {"quantization": {"oversampling": 100}}},
            ),
            ("PUT", "/collections/d", create | {"quantization_config": {"product": {"compression": "x4"}}}),
        ]
        for method, path, body in cases:
            answer = httpx.request(method, f"{url}{path}", json=body, headers=headers)
            assert answer.status_code == 400, (path, body, answer.text)
            assert answer.json()["status"]["error"], answer.text
        missing = httpx.patch(f"{url}/collections/absent", json={"quantization_config": None}, headers=headers)
        assert missing.status_code == 404
        assert httpx.patch(f"{url}/collections/c", json={"quantization_config": None}).status_code == 401  # no key
        assert (
            httpx.get(f"{url}/collections/c", headers=headers).json()["result"]["config"]["quantization_config"] is None
        )
    finally:
        proc.stop()


def _payload_storage(path: Path, name: str) -> set[str]:
    """The payload storage of every segment of collection ``name`` in the store directory ``path`` (Edge's files)."""
    import json

    segments = list(path.rglob(f"{name}/shard/segments/*/segment.json"))
    assert segments, f"no segments of {name} under {path}"
    return {json.loads(segment.read_text())["config"]["payload_storage_type"]["type"] for segment in segments}


def _search(client, name: str, vectors):
    from documents.services import vectorstore

    reader = vectorstore.permission_filter(group_ids=[1])
    return client.query_points(
        name,
        query=vectors[9].tolist(),
        using="dense",
        query_filter=reader,
        limit=10,
        search_params=vectorstore.dense_search_params(),
    ).points


def _heading(language: str) -> str:
    return "Άρθρο 5. Υποχρεώσεις του αιτούντος" if language == "el" else "Section 5. The applicant's duties"


def _assert_intact(client, name: str, ids: list[str], heading: str) -> None:
    from documents.services import vectorstore

    assert client.count(name, exact=True).count == N
    reader = vectorstore.permission_filter(group_ids=[1])
    assert client.count(name, count_filter=reader, exact=True).count == N // 4
    titled = {str(r.id): r.payload.get("heading") for r in client.retrieve(name, ids=ids[:52])}
    assert titled == dict.fromkeys(ids[:50], heading) | {ids[50]: None, ids[51]: None}


@pytest.mark.parametrize("language", ["en", "el"])
def test_a_store_made_with_payloads_on_disk_reopens_with_them_in_ram_and_its_points_intact(
    tmp_path, server_logs, settings, language
):
    """An earlier version's store (payloads read from disk on demand, nothing declared) is converted after a start."""
    from qdrant_client import models

    from documents.services import vectorstore

    settings.QDRANT_COLLECTION_PREFIX = f"pm{language}{uuid.uuid4().hex[:6]}"
    name, heading = vectorstore.collection_name(DIM), _heading(language)
    vectors = _vectors(N, seed=5 if language == "el" else 6)
    proc, url = _start(tmp_path, server_logs, payload_memory="cold")  # the store's former default
    try:
        client = _client(url)
        client.create_collection(  # as the app made it before: nothing said of the payload
            name,
            vectors_config={"dense": models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
            sparse_vectors_config={"sparse": models.SparseVectorParams(modifier=models.Modifier.IDF)},
            quantization_config=vectorstore.quantization_config(),
        )
        ids = _upsert(client, name, vectors)
        client.set_payload(name, payload={"heading": heading}, points=ids[:50], wait=True)
        _wait_indexed(client, name, N)
        assert client.get_collection(name).config.params.on_disk_payload is True
        assert _payload_storage(tmp_path, name) == {"mmap"}  # on disk, read on demand
        before = _search(client, name, vectors)
    finally:
        proc.stop()
    proc, url = _start(tmp_path, server_logs)  # today's default: cached
    try:
        settings.QDRANT_URL = url
        client = _client(url)
        _wait_indexed(client, name, N)  # the optimizer looks at every shard once after start: it converts them
        assert client.get_collection(name).config.params.on_disk_payload is False
        after = _search(client, name, vectors)
        assert [(p.id, p.payload) for p in after] == [(p.id, p.payload) for p in before]
        assert all(p.payload["access_group_ids"] == [1] for p in after)
        _assert_intact(client, name, ids, heading)
        vectorstore._indexes_checked.clear()
        assert vectorstore.collection_ensure(client=client, dim=DIM) == name  # its payload indexes; the storage stays
        assert client.get_collection(name).config.params.on_disk_payload is False
    finally:
        proc.stop()
    # the segments the next start opens (the replaced ones are removed when their last reader lets go, at the latest
    # when the store closes)
    assert _payload_storage(tmp_path, name) == {"in_ram_mmap"}


@pytest.mark.parametrize("language", ["en", "el"])
def test_the_app_declares_payloads_in_ram_and_moves_an_older_collections_there(
    tmp_path, server_logs, settings, language
):
    """collection_ensure creates the collection with on_disk_payload false, and PATCHes one declared on disk."""
    from qdrant_client import models
    from qdrant_client.http.exceptions import UnexpectedResponse

    from documents.services import vectorstore

    heading = _heading(language)
    vectors = _vectors(N, seed=7 if language == "el" else 8)
    # the store's own default on disk: what the app declares, not the default, puts the payloads in RAM
    proc, url = _start(tmp_path, server_logs, payload_memory="cold")
    try:
        settings.QDRANT_URL = url
        client = _client(url)
        settings.QDRANT_COLLECTION_PREFIX = f"new{language}{uuid.uuid4().hex[:6]}"
        fresh = vectorstore.collection_ensure(client=client, dim=DIM)
        assert client.get_collection(fresh).config.params.on_disk_payload is False
        _upsert(client, fresh, vectors[:100])
        assert _payload_storage(tmp_path, fresh) == {"in_ram_mmap"}

        settings.QDRANT_COLLECTION_PREFIX = f"disk{language}{uuid.uuid4().hex[:6]}"
        name = vectorstore.collection_name(DIM)
        client.create_collection(  # on disk, as a Qdrant server makes a collection by default
            name,
            vectors_config={"dense": models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
            sparse_vectors_config={"sparse": models.SparseVectorParams(modifier=models.Modifier.IDF)},
            quantization_config=vectorstore.quantization_config(),
            on_disk_payload=True,
        )
        ids = _upsert(client, name, vectors)
        client.set_payload(name, payload={"heading": heading}, points=ids[:50], wait=True)
        assert _payload_storage(tmp_path, name) == {"mmap"}  # written, not yet indexed: one appendable segment
        before = _search(client, name, vectors)
        with pytest.raises(UnexpectedResponse) as refused:  # the store changes no other parameter
            client.update_collection(name, collection_params=models.CollectionParamsDiff(replication_factor=2))
        assert refused.value.status_code == 400 and b"params.replication_factor" in refused.value.content
        vectorstore._indexes_checked.clear()
        assert vectorstore.collection_ensure(client=client, dim=DIM) == name
        assert client.get_collection(name).config.params.on_disk_payload is False
        _wait_indexed(client, name, N)
        assert [(p.id, p.payload) for p in _search(client, name, vectors)] == [(p.id, p.payload) for p in before]
        _assert_intact(client, name, ids, heading)
        settings.QDRANT_ON_DISK_PAYLOAD = True  # an operator's choice is applied the same way
        vectorstore._indexes_checked.clear()
        vectorstore.collection_ensure(client=client, dim=DIM)
        assert client.get_collection(fresh).config.params.on_disk_payload is False  # only the collection in use
        assert client.get_collection(name).config.params.on_disk_payload is True
        _wait_indexed(client, name, N)
        _assert_intact(client, name, ids, heading)
    finally:
        proc.stop()
    assert _payload_storage(tmp_path, name) == {"mmap"}
    assert _payload_storage(tmp_path, fresh) == {"in_ram_mmap"}


def test_an_unknown_payload_memory_setting_stops_the_store_at_start_with_a_message(tmp_path):
    """A typo in ``QDRANT_EDGE_PAYLOAD_MEMORY`` is not taken for either mode: the store refuses to start, naming it."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QDRANT_EDGE_PAYLOAD_MEMORY": "warm"}
    argv = [sys.executable, "-m", "devstack.vectorstore.server", "--port", str(localservers.free_port())]
    done = subprocess.run(
        [*argv, "--path", str(tmp_path / "store")], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "QDRANT_EDGE_PAYLOAD_MEMORY must be cold or cached, not 'warm'" in done.stderr
    assert not (tmp_path / "store").exists()  # nothing was created under the wrong setting
