"""Permission-aware hybrid retrieval: the passages of the documents a user may read that best match a question."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from chat.components.scope import AccessScope
from chat.services.pipelines_cache import loop_pipeline
from documents.models import Chunk


@dataclass
class RetrievedPassage:
    """A chunk the reader may see, with its scores."""

    chunk_id: int
    document_id: int
    document_title: str
    text: str
    page: int | None
    page_end: int | None
    heading: str
    location: str
    score: float
    dense_score: float | None
    keyword_score: float | None
    flagged: bool

    def provenance(self) -> dict[str, Any]:
        """The passage's ids and scores (rounded) as stored with an answer's provenance."""
        return {
            "chunk_id": self.chunk_id,
            "document_id": self.document_id,
            "score": round(self.score, 6),
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "keyword_score": None if self.keyword_score is None else round(self.keyword_score, 6),
        }


@dataclass
class RetrievalResult:
    """What a retrieval found: the passages, the per-mode rankings (evaluation) and where the time went."""

    passages: list[RetrievedPassage]
    dense_chunk_ids: list[int] = field(default_factory=list)
    keyword_chunk_ids: list[int] = field(default_factory=list)
    dense_ranked: list[tuple[int, float]] = field(default_factory=list)  # all candidates, with scores
    keyword_ranked: list[tuple[int, float]] = field(default_factory=list)
    embed_ms: float = 0.0
    retrieve_ms: float = 0.0  # search and hydrate (the pipeline without the embedding, and loading the chunks)
    scope_ms: float = 0.0  # the reader's access scope (a database query)
    search_ms: float = 0.0  # the retriever component: the one Query API batch call and the fusion
    hydrate_ms: float = 0.0  # loading the hits' chunks (a database query)

    def relevant(self, *, min_dense_score: float | None = None) -> bool:
        """Whether the best passage is close enough to the question to answer from.

        Otherwise the answer is "the documents do not say". Keyword-only results count as relevant when the keyword
        search found something.
        """
        threshold = settings.DOCINTEL_RETRIEVAL_MIN_DENSE_SCORE if min_dense_score is None else min_dense_score
        if not self.passages:
            return False
        dense = [p.dense_score for p in self.passages if p.dense_score is not None]
        if not dense:
            return any(p.keyword_score for p in self.passages)
        return max(dense) >= threshold


def db_call[R](fn: Callable[..., R]) -> Callable[..., Awaitable[R]]:
    """Run ``fn`` in Django's sync thread and give its connection back afterwards (outside a transaction).

    So an answer never holds a database connection while it waits on a model.
    """

    def wrapper(*args: Any, **kwargs: Any) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:
                connection.close()

    return sync_to_async(wrapper, thread_sensitive=True)


class EarlyEmbedding:
    """A question's dense embedding (and its reader's access scope) started before the input guard has passed it.

    The guard's scanners run in a worker thread while the embedding server (its own process, the other core) embeds
    the question, and Django's sync thread reads the reader's roles and groups: the three overlap. Only a vector of
    exactly the question that is searched is used (:meth:`vector_for`): when the guard rewrote it (a redacted secret)
    or a follow-up was condensed, it is dropped and the searched text is embedded. The raw question then went to the
    embedding service, which is the organisation's own and keeps nothing (it embeds every document too); it never
    reaches the LLM, the logs or the database. The scope depends on the reader only, so it serves whatever is
    searched; hydration reads the reader's groups again, live, whatever the scope said.
    """

    def __init__(self, text: str, user: Any = None) -> None:
        """Start embedding ``text`` on the running loop (the event loop's kept-alive client), and ``user``'s scope.

        Args:
            text: the question as the reader sent it.
            user: the reader whose scope to read beside it (None: :func:`passages_retrieve` reads it itself).
        """
        from documents.services.embeddings import aembed_query

        self.text = text
        self.user = user
        self.duration_ms = 0.0  # the embedding's own time, once it is done (only part of it is waited for)

        async def timed() -> list[float]:
            started = time.perf_counter()
            try:
                return await aembed_query(text)
            finally:
                self.duration_ms = (time.perf_counter() - started) * 1000

        self._task: asyncio.Task[list[float]] = asyncio.ensure_future(timed())
        self._scope: asyncio.Task[AccessScope] | None = None
        if user is not None:
            self._scope = asyncio.ensure_future(db_call(access_scope_for)(user))
        # A dropped or failed task is never awaited: retrieve its outcome so asyncio does not report it.
        for task in (self._task, self._scope):
            if task is not None:
                task.add_done_callback(lambda task: task.cancelled() or task.exception())

    async def vector_for(self, text: str) -> list[float] | None:
        """The vector of ``text`` if that is the text this embedding was started for, else None (and it is dropped).

        A failed embedding gives None too: the retrieval pipeline then embeds again and reports its own failure.
        """
        from docintel.errors import DocIntelError

        if text != self.text:
            self._task.cancel()
            return None
        try:
            return await self._task
        except DocIntelError:
            return None

    async def scope_for(self, user: Any) -> AccessScope | None:
        """The access scope read for ``user`` beside the guard, or None when it was started for no one else."""
        if self._scope is None or user is not self.user:
            return None
        return await self._scope

    def discard(self) -> None:
        """Cancel what still runs (a blocked question, a rewritten one, an answer that ended)."""
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nothing runs any more
            self._task.cancel()
            if self._scope is not None:
                self._scope.cancel()


def access_scope_for(user: Any) -> AccessScope:
    """Librarians (and superusers) see everything; a reader the documents shared with their groups; others nothing."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return AccessScope(unrestricted=False, group_ids=())
    load = getattr(user, "access_load", None)
    if load is not None:
        load()  # roles and groups in one query
    if user.is_librarian:
        return AccessScope(unrestricted=True, group_ids=())
    return AccessScope(unrestricted=False, group_ids=tuple(sorted(user.group_ids)))


def _hydrate(user: Any, ids_in_order: list[tuple[str, dict[str, Any], float]]) -> list[RetrievedPassage]:
    """Load the chunks behind the vector hits, again under ``Document.objects.visible_to``'s rules.

    Defence in depth: a point whose document was deleted or un-shared since indexing is dropped, and so is a
    quarantined passage (flagged as injected text, not released) whose point has not been updated yet.
    """
    found = Chunk.objects.hits_visible_to(user, [pid for pid, _, _ in ids_in_order])
    chunks = {str(c.vector_id): c for c in found}
    out: list[RetrievedPassage] = []
    for pid, meta, score in ids_in_order:
        chunk = chunks.get(pid)
        if chunk is None:
            continue
        out.append(
            RetrievedPassage(
                chunk_id=chunk.pk,
                document_id=chunk.document_id,
                document_title=chunk.document_title,
                text=chunk.text,
                page=chunk.page_start,
                page_end=chunk.page_end,
                heading=chunk.heading,
                location=chunk.location,
                score=score,
                dense_score=meta.get("dense_score"),
                keyword_score=meta.get("keyword_score"),
                flagged=chunk.injection_flag,
            )
        )
    return out


async def passages_retrieve(
    *,
    user: Any,
    text: str,
    top_k: int | None = None,
    mode: str | None = None,
    hydrate: bool = True,
    early: EarlyEmbedding | None = None,
) -> RetrievalResult:
    """Find the passages of documents ``user`` may read that best answer ``text``.

    Args:
        user: the reader; their access groups filter the search inside Qdrant.
        text: the (standalone) question.
        top_k: passages to return (default ``DOCINTEL_RETRIEVAL_TOP_K``).
        mode: ``hybrid`` (default), ``dense`` or ``keyword``.
        hydrate: load the chunks from the database (False: ids and scores only, for evaluation).
        early: the question's embedding, started earlier (:class:`EarlyEmbedding`); used only if it is of ``text``,
            and the scope read beside it, used only if it is of ``user``.

    Returns:
        The fused passages, best first, with the per-mode rankings and timings.

    Raises:
        EmbeddingUnavailable, VectorStoreUnavailable: a dependency failed (transient).
    """
    from haystack.core.errors import PipelineRuntimeError

    from docintel.errors import DocIntelError

    began = time.perf_counter()
    scope = None if early is None else await early.scope_for(user)
    if scope is None:
        scope = await db_call(access_scope_for)(user)
    scope_ms = (time.perf_counter() - began) * 1000  # what the search waited for it
    k = top_k or settings.DOCINTEL_RETRIEVAL_TOP_K
    if scope.is_empty:
        if early is not None:
            early.discard()
        return RetrievalResult(passages=[], scope_ms=scope_ms)
    started = time.perf_counter()
    encoder: dict[str, Any] = {"text": text}
    waited_ms = 0.0
    if early is not None:
        from chat.components.vector import DenseVector

        vector = await early.vector_for(text)
        waited_ms = (time.perf_counter() - started) * 1000
        if vector is not None:
            encoder["dense"] = DenseVector(vector)
    try:
        result = await loop_pipeline("retrieval_pipeline").run_async(
            {
                "encoder": encoder,
                "retriever": {"scope": scope, "top_k": k, "mode": mode or settings.DOCINTEL_RETRIEVAL_MODE},
            },
            include_outputs_from={"encoder"},
        )
    except PipelineRuntimeError as exc:
        cause = exc.__cause__
        if isinstance(cause, DocIntelError):
            raise cause from exc
        raise
    embed_ms = waited_ms + float(result["encoder"]["timing_ms"])  # what the answer waited for its embedding
    retriever = result["retriever"]
    hits = [(d.id, d.meta, float(d.score or 0.0)) for d in retriever["documents"]]
    result_obj = RetrievalResult(
        passages=[], embed_ms=embed_ms, scope_ms=scope_ms, search_ms=float(retriever.get("timing_ms", 0.0))
    )
    hydrating = time.perf_counter()
    if hydrate:
        result_obj.passages = await db_call(_hydrate)(user, hits)
    else:
        result_obj.passages = [
            RetrievedPassage(
                chunk_id=int(meta.get("chunk_id", 0)), document_id=int(meta.get("document_id", 0)), document_title="",
                text="", page=meta.get("page"), page_end=None, heading="", location="", score=score,
                dense_score=meta.get("dense_score"), keyword_score=meta.get("keyword_score"), flagged=False,
            )
            for _, meta, score in hits
        ]  # fmt: skip
    result_obj.dense_ranked = [(p.chunk_id, p.score) for p in retriever["dense"]]
    result_obj.keyword_ranked = [(p.chunk_id, p.score) for p in retriever["keyword"]]
    result_obj.dense_chunk_ids = [cid for cid, _ in result_obj.dense_ranked[:k]]
    result_obj.keyword_chunk_ids = [cid for cid, _ in result_obj.keyword_ranked[:k]]
    result_obj.hydrate_ms = (time.perf_counter() - hydrating) * 1000
    result_obj.retrieve_ms = (time.perf_counter() - started) * 1000 - embed_ms
    return result_obj
