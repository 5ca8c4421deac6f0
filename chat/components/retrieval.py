"""Haystack components of the retrieval pipeline: query encoding and the permission-filtered hybrid Qdrant search.

The permission filter is applied inside Qdrant (default deny): a reader's search carries ``access_group_ids`` any-of
their groups; a reader without groups gets no search at all. Only librarians search unfiltered.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from haystack import Document, component

from chat.components.scope import AccessScope
from chat.components.vector import DenseVector, RankedPoint, Ranking


@component
class QueryEncoder:
    """Encode a question as a dense vector (the embedding service) and a sparse keyword vector (Greek-aware)."""

    @component.output_types(dense=DenseVector, sparse_indices=list[int], sparse_values=list[float], timing_ms=float)
    def run(self, text: str, dense: DenseVector | None = None) -> dict[str, Any]:
        """Embed ``text`` (dense, the embedding service) and encode its keywords (sparse), synchronously.

        Args:
            text: the question.
            dense: its dense vector when it was already embedded (an early embedding): not embedded again.

        Returns:
            ``dense``, ``sparse_indices``, ``sparse_values`` and ``timing_ms`` (both encodings).

        Raises:
            EmbeddingUnavailable: the embedding service failed (transient).
        """
        from documents.services.embeddings import embed_query
        from documents.services.textnorm import sparse_encode

        started = time.perf_counter()
        vector = dense if dense is not None else DenseVector(embed_query(text))
        indices, values = sparse_encode(text)
        return {
            "dense": vector,
            "sparse_indices": indices,
            "sparse_values": values,
            "timing_ms": (time.perf_counter() - started) * 1000,
        }

    @component.output_types(dense=DenseVector, sparse_indices=list[int], sparse_values=list[float], timing_ms=float)
    async def run_async(self, text: str, dense: DenseVector | None = None) -> dict[str, Any]:
        """Async :meth:`run`: the dense embedding through the event loop's kept-alive client.

        Args:
            text: the question.
            dense: its dense vector when it was already embedded (an early embedding): not embedded again.

        Returns:
            ``dense``, ``sparse_indices``, ``sparse_values`` and ``timing_ms`` (both encodings).

        Raises:
            EmbeddingUnavailable: the embedding service failed (transient).
        """
        from documents.services.embeddings import aembed_query
        from documents.services.textnorm import sparse_encode

        started = time.perf_counter()
        vector = dense if dense is not None else DenseVector(await aembed_query(text))
        indices, values = sparse_encode(text)
        return {
            "dense": vector,
            "sparse_indices": indices,
            "sparse_values": values,
            "timing_ms": (time.perf_counter() - started) * 1000,
        }


def score_fusion(rankings: dict[str, list[tuple[str, float]]], *, weights: dict[str, float]) -> list[tuple[str, float]]:
    """Relative score fusion: each ranking's scores min-max normalised over its candidates, then weighted and summed.

    Chosen over reciprocal-rank fusion on the XQuAD dev run (tests/evaluation): with a strong dense model, RRF lets a
    weaker keyword ranking pull the right passage down; score fusion keeps how sure each search was.
    """
    fused: dict[str, float] = {}
    for name, ranking in rankings.items():
        if not ranking:
            continue
        high, low = ranking[0][1], ranking[-1][1]
        for point_id, value in ranking:
            normalised = (value - low) / (high - low) if high > low else 1.0
            fused[point_id] = fused.get(point_id, 0.0) + weights.get(name, 0.0) * normalised
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


FUSIONS = ("relative", "rrf", "dbsf")
# The payload fields a search answer carries: what the retriever's readers take from a hit before the chunk is
# loaded (the ranking's chunk and groups, the document, the page and the language); the rest of the payload
# (ordinal, MIME type, flags, search keys) stays in the store, neither serialised by it nor parsed here.
RETURNED_FIELDS = ["chunk_id", "document_id", "access_group_ids", "language", "page"]
RRF_K = 60


@component
class HybridQdrantRetriever:
    """Dense + sparse search in Qdrant, filtered by access groups inside Qdrant, fused, in one request.

    One Query API batch call per search (``POST /points/query/batch``): the dense leg, the sparse leg and, with
    ``fusion`` ``rrf`` or ``dbsf``, the fused query (dense and sparse prefetch fused in the engine). The two legs come
    back in the same round trip, so ``meta`` keeps the exact per-leg ``dense_score``/``keyword_score`` the answering
    code reads (the fused query alone would only give the fused score). ``relative`` fuses the two legs here
    (``score_fusion``). ``fusion=None`` reads ``DOCINTEL_RETRIEVAL_FUSION`` at run time.

    Outputs ``documents`` (fused, best first, ``meta`` = Qdrant payload plus ``dense_score``/``keyword_score``) and
    the per-mode rankings, so evaluation can compare dense-only, keyword-only and hybrid on the same run.
    """

    def __init__(
        self,
        *,
        url: str,
        api_key: str | None = None,
        timeout: float = 10.0,
        candidates: int = 30,
        dense_weight: float = 0.7,
        fusion: str | None = None,
    ) -> None:
        """Configure the store, the number of candidates a leg and the fusion.

        Args:
            url: the store's ``QDRANT_URL``.
            api_key: its API key, if it requires one.
            timeout: seconds a search may take.
            candidates: points each leg (dense, keyword) returns before fusion.
            dense_weight: the dense leg's weight (the keyword leg's is ``1 - dense_weight``).
            fusion: ``relative``, ``rrf`` or ``dbsf``; ``None`` reads ``DOCINTEL_RETRIEVAL_FUSION`` at run time.
        """
        self.url = url
        self.dense_weight = dense_weight
        self.api_key = api_key
        self.timeout = timeout
        self.candidates = candidates
        self.fusion = fusion
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def _client(self) -> Any:
        """The running loop's ``AsyncQdrantClient``, its connections kept alive (``client_connection``)."""
        from qdrant_client import AsyncQdrantClient

        from documents.services.vectorstore import client_connection

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = AsyncQdrantClient(
                url=self.url,
                api_key=self.api_key,
                timeout=int(self.timeout),
                check_compatibility=False,
                **client_connection(self.url, asynchronous=True),
            )
            self._clients[loop] = client
        return client

    def _fusion(self) -> str:
        from django.conf import settings

        fusion = self.fusion or settings.DOCINTEL_RETRIEVAL_FUSION
        if fusion not in FUSIONS:
            raise ValueError(f"Unknown retrieval fusion {fusion!r}; one of {', '.join(FUSIONS)}")
        return fusion

    def _requests(
        self, *, dense: list[float], sparse: Any, query_filter: Any, mode: str, top_k: int
    ) -> tuple[list[str], list[Any]]:
        """The named searches of one batch call: ``dense``, ``keyword`` and, fused in the engine, ``fused``."""
        from qdrant_client import models

        from documents.services.vectorstore import dense_search_params

        dense_params = dense_search_params()
        legs: dict[str, tuple[Any, str]] = {}
        if mode in ("hybrid", "dense"):
            legs["dense"] = (dense, "dense")
        if mode in ("hybrid", "keyword") and sparse is not None:
            legs["keyword"] = (sparse, "sparse")
        names = list(legs)
        requests = [
            models.QueryRequest(
                query=vector,
                using=using,
                filter=query_filter,
                limit=self.candidates,
                with_payload=RETURNED_FIELDS,
                params=dense_params if using == "dense" else None,
            )
            for vector, using in legs.values()
        ]
        fusion = self._fusion()
        if mode == "hybrid" and len(legs) == 2 and fusion != "relative":
            prefetch = [
                models.Prefetch(
                    query=vector,
                    using=using,
                    filter=query_filter,
                    limit=self.candidates,
                    params=dense_params if using == "dense" else None,
                )
                for vector, using in legs.values()
            ]
            query: Any = (
                models.FusionQuery(fusion=models.Fusion.DBSF)
                if fusion == "dbsf"
                else models.RrfQuery(rrf=models.Rrf(k=RRF_K, weights=[self.dense_weight, 1.0 - self.dense_weight]))
            )
            requests.append(
                models.QueryRequest(
                    prefetch=prefetch, query=query, filter=query_filter, limit=top_k, with_payload=RETURNED_FIELDS
                )
            )
            names.append("fused")
        return names, requests

    @component.output_types(documents=list[Document], dense=Ranking, keyword=Ranking, timing_ms=float)
    async def run_async(  # noqa: PLR0917 - Haystack passes component inputs by name; the signature is the socket list
        self,
        dense: DenseVector | list[float],
        sparse_indices: list[int],
        sparse_values: list[float],
        scope: AccessScope,
        top_k: int = 5,
        mode: str = "hybrid",
    ) -> dict[str, Any]:
        """Search the store once (one Query API batch call) within the reader's scope and fuse.

        Args:
            dense: the question's dense vector.
            sparse_indices: its keyword vector's indices.
            sparse_values: its keyword vector's values.
            scope: the reader's access scope; an empty scope returns nothing without a search.
            top_k: fused passages to return.
            mode: ``hybrid``, ``dense`` or ``keyword``.

        Returns:
            ``documents`` (fused, best first), the per-leg rankings ``dense`` and ``keyword``, and ``timing_ms``.

        Raises:
            VectorStoreUnavailable: the store is unreachable or answers an error other than a missing collection.
        """
        from qdrant_client import models
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        from docintel.errors import VectorStoreUnavailable
        from documents.services.vectorstore import collection_name, permission_filter

        started = time.perf_counter()
        empty: dict[str, Any] = {"documents": [], "dense": Ranking(), "keyword": Ranking(), "timing_ms": 0.0}
        if scope.is_empty:  # default deny: never a query without a filter for a reader
            return empty
        client = self._client()
        vector = dense.as_list() if isinstance(dense, DenseVector) else list(dense)
        collection = collection_name(len(vector))
        query_filter = permission_filter(group_ids=None if scope.unrestricted else list(scope.group_ids))
        sparse = models.SparseVector(indices=sparse_indices, values=sparse_values) if sparse_indices else None
        names, requests = self._requests(dense=vector, sparse=sparse, query_filter=query_filter, mode=mode, top_k=top_k)
        if not requests:
            return empty
        try:
            responses = await client.query_batch_points(collection, requests=requests)
        except UnexpectedResponse as exc:
            if exc.status_code == 404:  # no collection yet: nothing has been indexed
                return empty
            raise VectorStoreUnavailable(f"The vector store answered {exc.status_code}.") from exc
        except (ResponseHandlingException, OSError) as exc:
            raise VectorStoreUnavailable(f"The vector store is unreachable: {type(exc).__name__}.") from exc
        results = dict(zip(names, responses, strict=True))
        per_mode: dict[str, Ranking] = {}
        payloads: dict[str, dict[str, Any]] = {}
        scores: dict[str, dict[str, float]] = {}
        for name in ("dense", "keyword"):
            if name not in results:
                continue
            ranked = []
            for point in results[name].points:
                pid = str(point.id)
                payload = payloads[pid] = dict(point.payload or {})
                scores.setdefault(pid, {})[f"{name}_score"] = float(point.score)
                groups = tuple(int(g) for g in payload.get("access_group_ids") or ())
                ranked.append(RankedPoint(pid, float(point.score), int(payload.get("chunk_id", 0)), groups))
            per_mode[name] = Ranking(ranked)
        if "fused" in results:
            fused = [(str(p.id), float(p.score)) for p in results["fused"].points]
            for point in results["fused"].points:
                payloads.setdefault(str(point.id), dict(point.payload or {}))
        else:
            fused = score_fusion(
                {name: [(p.id, p.score) for p in ranking] for name, ranking in per_mode.items()},
                weights={"dense": self.dense_weight, "keyword": 1.0 - self.dense_weight},
            )
        documents = [
            Document(id=pid, content="", meta={**payloads[pid], **scores.get(pid, {})}, score=score)
            for pid, score in fused[:top_k]
        ]
        return {
            "documents": documents,
            "dense": per_mode.get("dense", Ranking()),
            "keyword": per_mode.get("keyword", Ranking()),
            "timing_ms": (time.perf_counter() - started) * 1000,
        }

    @component.output_types(documents=list[Document], dense=Ranking, keyword=Ranking, timing_ms=float)
    def run(  # noqa: PLR0917 - Haystack passes component inputs by name; the signature is the socket list
        self,
        dense: DenseVector | list[float],
        sparse_indices: list[int],
        sparse_values: list[float],
        scope: AccessScope,
        top_k: int = 5,
        mode: str = "hybrid",
    ) -> dict[str, Any]:
        """Synchronous :meth:`run_async` (its own event loop), for Haystack's sync pipelines.

        Args:
            dense: the question's dense vector.
            sparse_indices: its keyword vector's indices.
            sparse_values: its keyword vector's values.
            scope: the reader's access scope.
            top_k: fused passages to return.
            mode: ``hybrid``, ``dense`` or ``keyword``.

        Returns:
            The outputs of :meth:`run_async`.
        """
        return asyncio.run(
            self.run_async(
                dense=dense, sparse_indices=sparse_indices, sparse_values=sparse_values, scope=scope, top_k=top_k,
                mode=mode,
            )
        )  # fmt: skip
