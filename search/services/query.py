"""Search: the permission-filtered hybrid retrieval of answering, deeper and filtered, ranked and highlighted; no LLM.

The path of a search: the reader's access scope and the filters (default deny: no groups, no search) -> the query
encoded like a question (dense + Greek-aware sparse) -> one Qdrant batch call through the answering retriever, its
permission filter plus the search filters (language, document, access group, upload date) -> every hit re-checked
through ``Document.objects.visible_to`` (the answering hydration) -> hits that neither contain a query word nor are
close in meaning dropped -> the page highlighted.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import structlog
from django.conf import settings
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chat.services.retrieval import (
    _hydrate,  # the answering hydration (visible_to and quarantine re-check), reused on purpose, not duplicated
    access_scope_for,
    db_call,
)
from docintel.errors import DocumentNotFound, InvalidInput, NotFound
from documents.models import Document
from search.services.highlight import Fragment, highlight_spans, query_terms, snippet_fragments, text_matches

if TYPE_CHECKING:
    from chat.components.scope import AccessScope
    from chat.services.retrieval import RetrievedPassage

log = structlog.get_logger(__name__)

Hit = tuple[str, dict[str, Any], float]  # point id, payload + per-leg scores, fused score

LANGUAGES = ("el", "en", "mixed")
MAX_QUERY_CHARS = 500
MAX_PAGE_SIZE = 50
QUOTE_MAX_CHARS = 200


@dataclass(frozen=True)
class SearchFilters:
    """What a search may be narrowed to; every filter is optional and they combine (all must hold)."""

    language: str = ""
    document_id: int | None = None
    group_id: int | None = None
    uploaded_from: date | None = None
    uploaded_to: date | None = None

    def as_log(self) -> dict[str, Any]:
        """The filters as ``search_run`` log fields (None for each one unset; dates in ISO form)."""
        return {
            "language": self.language or None,
            "document_id": self.document_id,
            "group_id": self.group_id,
            "uploaded_from": self.uploaded_from.isoformat() if self.uploaded_from else None,
            "uploaded_to": self.uploaded_to.isoformat() if self.uploaded_to else None,
        }


@dataclass
class SearchHit:
    """One passage found, where it sits in its document, its matches and the link to the source view there."""

    chunk_id: int
    document_id: int
    document_title: str
    language: str
    uploaded_at: datetime
    text: str
    page: int | None
    page_end: int | None
    heading: str
    location: str
    score: float
    dense_score: float | None
    keyword_score: float | None
    highlights: list[tuple[int, int]] = field(default_factory=list)
    snippet: list[Fragment] = field(default_factory=list)
    source_url: str = ""

    @property
    def snippet_html(self) -> SafeString:
        """The snippet as HTML: text escaped, matches in ``<mark>``."""
        parts = [f"<mark>{escape(f.text)}</mark>" if f.marked else str(escape(f.text)) for f in self.snippet]
        return mark_safe("".join(parts))  # noqa: S308 - every piece of text is escaped above


@dataclass
class DocumentHits:
    """A document among the results: how many of its passages matched and its best one."""

    document_id: int
    title: str
    language: str
    uploaded_at: datetime
    hits: int
    best_score: float
    best_chunk_id: int
    source_url: str


@dataclass
class SearchPage:
    """One page of results, and the documents of all results (best first)."""

    query: str
    filters: SearchFilters
    page: int
    page_size: int
    count: int
    hits: list[SearchHit]
    documents: list[DocumentHits]
    took_ms: float
    embed_ms: float = 0.0
    retrieve_ms: float = 0.0  # the Qdrant batch call

    @property
    def num_pages(self) -> int:
        """How many pages the results fill; at least 1, so an empty result is page 1 of 1."""
        return max(1, math.ceil(self.count / self.page_size))

    @property
    def first_rank(self) -> int:
        """The 1-based rank of this page's first hit (the search page's list numbering starts there)."""
        return (self.page - 1) * self.page_size + 1

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self.page < self.num_pages

    @property
    def has_previous(self) -> bool:
        """Whether a page precedes this one."""
        return self.page > 1


@dataclass
class _Plan:
    """What a search may look at: the reader's scope and the documents the filters leave."""

    scope: AccessScope
    document_ids: list[int] | None  # None: no restriction to documents
    nothing: bool  # the filters leave nothing to search


def _plan(user: Any, filters: SearchFilters) -> _Plan:
    """The reader's scope and the documents the filters leave (a foreign document id: ``document_not_found``).

    Args:
        user: the reader.
        filters: the search's filters; only document, group and upload dates matter here.

    Returns:
        The plan; ``nothing`` when no document can match (no access, a foreign group, no document in the dates).

    Raises:
        DocumentNotFound: the document filter names a document the reader may not read.
    """
    scope = access_scope_for(user)
    if scope.is_empty:
        return _Plan(scope, None, nothing=True)
    if filters.group_id is not None and not scope.unrestricted and filters.group_id not in scope.group_ids:
        # not one of the reader's groups: no hits, or the filter would tell which documents another group shares
        return _Plan(scope, None, nothing=True)
    visible = Document.objects.visible_to(user)
    if filters.document_id is not None and not visible.filter(pk=filters.document_id).exists():
        raise DocumentNotFound
    if filters.document_id is None and filters.uploaded_from is None and filters.uploaded_to is None:
        return _Plan(scope, None, nothing=False)
    documents = visible.order_by()
    if filters.document_id is not None:
        documents = documents.filter(pk=filters.document_id)
    if filters.uploaded_from is not None:
        documents = documents.filter(created_at__date__gte=filters.uploaded_from)
    if filters.uploaded_to is not None:
        documents = documents.filter(created_at__date__lte=filters.uploaded_to)
    ids = sorted(set(documents.values_list("pk", flat=True)))
    return _Plan(scope, ids, nothing=not ids)


def search_narrowing(*, filters: SearchFilters, document_ids: list[int] | None) -> Any:
    """The Qdrant filter of the search filters, ANDed to the permission filter (None: no narrowing).

    Builds on :func:`documents.services.vectorstore.permission_filter`, which the retriever still applies: this
    clause can only take hits away.

    Args:
        filters: the search's filters (language and group are matched on the points' payload).
        document_ids: the documents the plan leaves, or None for no restriction to documents.

    Returns:
        A ``qdrant_client.models.Filter``, or None when nothing narrows the search.
    """
    from qdrant_client import models  # noqa: PLC0415 - heavy, loaded on the first search

    conditions: list[Any] = []
    if filters.language:
        conditions.append(models.FieldCondition(key="language", match=models.MatchValue(value=filters.language)))
    if document_ids is not None:
        conditions.append(models.FieldCondition(key="document_id", match=models.MatchAny(any=document_ids)))
    if filters.group_id is not None:
        conditions.append(
            models.FieldCondition(key="access_group_ids", match=models.MatchValue(value=filters.group_id))
        )
    return models.Filter(must=conditions) if conditions else None


_retrievers: dict[tuple[Any, ...], Any] = {}


def _retriever() -> Any:
    """One retriever per configuration (its HTTP clients are per event loop inside it)."""
    from search.components import NarrowedHybridRetriever  # noqa: PLC0415 - loads Haystack

    key = (
        settings.QDRANT_URL,
        settings.QDRANT_API_KEY,
        settings.QDRANT_TIMEOUT,
        settings.SEARCH_CANDIDATES,
        settings.DOCINTEL_RETRIEVAL_DENSE_WEIGHT,
    )
    retriever = _retrievers.get(key)
    if retriever is None:
        retriever = NarrowedHybridRetriever(
            url=settings.QDRANT_URL,
            api_key=settings.QDRANT_API_KEY,
            timeout=settings.QDRANT_TIMEOUT,
            candidates=settings.SEARCH_CANDIDATES,
            dense_weight=settings.DOCINTEL_RETRIEVAL_DENSE_WEIGHT,
        )
        _retrievers[key] = retriever
    return retriever


async def _vector_hits(*, text: str, scope: AccessScope, narrowing: Any) -> tuple[list[Hit], float, float]:
    """The fused hits of one batch call (dense + keyword legs), permission filter and narrowing inside Qdrant."""
    from chat.components.retrieval import QueryEncoder  # noqa: PLC0415 - loads Haystack
    from search.components import narrowed  # noqa: PLC0415 - loads Haystack

    encoded = await QueryEncoder().run_async(text=text)
    with narrowed(narrowing):
        found = await _retriever().run_async(
            dense=encoded["dense"],
            sparse_indices=encoded["sparse_indices"],
            sparse_values=encoded["sparse_values"],
            scope=scope,
            top_k=settings.SEARCH_MAX_RESULTS,
            mode=settings.DOCINTEL_RETRIEVAL_MODE,
        )
    hits = [(d.id, d.meta, float(d.score or 0.0)) for d in found["documents"]]
    return hits, float(encoded["timing_ms"]), float(found["timing_ms"])


def _source_url(document_id: int, chunk_id: int, quote: str = "") -> str:
    """The source view at ``chunk_id``, with the match to mark as ``quote`` when it is 3 to 200 characters long."""
    params: dict[str, Any] = {"chunk": chunk_id}
    if 3 <= len(quote) <= QUOTE_MAX_CHARS:
        params["quote"] = quote
    return f"{reverse('chat:document_source', args=[document_id])}?{urlencode(params)}"


def _relevant(passage: RetrievedPassage, wanted: list[str]) -> bool:
    """A hit is close in meaning (the answering threshold, ``SEARCH_MIN_DENSE_SCORE``) or holds a query word.

    The similarity first: it is free, folding a passage's words is not.
    """
    if passage.dense_score is not None and passage.dense_score >= settings.SEARCH_MIN_DENSE_SCORE:
        return True
    return text_matches(passage.text, wanted)


def _results(
    *, user: Any, text: str, hits: list[Hit], page: int, page_size: int
) -> tuple[int, list[SearchHit], list[DocumentHits]]:
    """Hydrate (re-checked through ``visible_to``), keep the relevant hits, group by document, highlight a page."""
    wanted = query_terms(text)
    languages = {int(meta.get("chunk_id", 0)): str(meta.get("language") or "") for _, meta, _ in hits}
    passages = [p for p in _hydrate(user, hits) if _relevant(p, wanted)]
    count = len(passages)
    if page > max(1, math.ceil(count / page_size)):
        raise NotFound("Invalid page.", detail={"page": page, "count": count})
    rows = list(
        Document.objects.filter(pk__in={p.document_id for p in passages}).values_list("pk", "created_at", "language")
    )
    uploaded = {pk: created for pk, created, _ in rows}
    document_language = {pk: language for pk, _, language in rows}
    documents: dict[int, DocumentHits] = {}
    for p in passages:
        entry = documents.get(p.document_id)
        if entry is None:
            documents[p.document_id] = DocumentHits(
                document_id=p.document_id,
                title=p.document_title,
                language=document_language[p.document_id],
                uploaded_at=uploaded[p.document_id],
                hits=1,
                best_score=p.score,
                best_chunk_id=p.chunk_id,
                source_url=_source_url(p.document_id, p.chunk_id),
            )
        else:
            entry.hits += 1
    shown: list[SearchHit] = []
    for p in passages[(page - 1) * page_size : page * page_size]:
        spans = highlight_spans(p.text, wanted)
        longest = max(spans, key=lambda s: s[1] - s[0], default=(0, 0))
        shown.append(
            SearchHit(
                chunk_id=p.chunk_id,
                document_id=p.document_id,
                document_title=p.document_title,
                language=languages.get(p.chunk_id, ""),
                uploaded_at=uploaded[p.document_id],
                text=p.text,
                page=p.page,
                page_end=p.page_end,
                heading=p.heading,
                location=p.location,
                score=p.score,
                dense_score=p.dense_score,
                keyword_score=p.keyword_score,
                highlights=spans,
                snippet=snippet_fragments(p.text, spans),
                source_url=_source_url(p.document_id, p.chunk_id, p.text[longest[0] : longest[1]]),
            )
        )
    return count, shown, list(documents.values())


async def search_run(
    *, user: Any, text: str, filters: SearchFilters | None = None, page: int = 1, page_size: int = 10
) -> SearchPage:
    """Search the passages of the documents ``user`` may read, ranked like answering retrieves, highlighted.

    Args:
        user: the reader; their access groups filter the search inside Qdrant (default deny), and every hit is
            checked again against ``Document.objects.visible_to``.
        text: the query, Greek or English (accents, case, final sigma and inflection do not matter).
        filters: language, document, one of the reader's access groups, upload dates.
        page: 1-based page number.
        page_size: hits per page (at most ``MAX_PAGE_SIZE``).

    Returns:
        The page of hits with highlights and source-view links, the documents of all hits, the count.

    Raises:
        DocumentNotFound: the document filter names a document the user may not read (or none).
        NotFound: ``page`` is past the last page.
        InvalidInput: an empty or too long query, a bad page size.
        EmbeddingUnavailable, VectorStoreUnavailable: a dependency failed (transient).
    """
    started = time.perf_counter()
    filters = filters or SearchFilters()
    text = text.strip()
    if not text or len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"The query must have 1 to {MAX_QUERY_CHARS} characters.", detail={"q": len(text)})
    if not 1 <= page_size <= MAX_PAGE_SIZE or page < 1:
        raise InvalidInput("Invalid page or page size.", detail={"page": page, "page_size": page_size})
    if filters.uploaded_from and filters.uploaded_to and filters.uploaded_from > filters.uploaded_to:
        raise InvalidInput("The upload dates end before they start.", detail={"uploaded_from": "after uploaded_to"})
    if filters.language and filters.language not in LANGUAGES:
        raise InvalidInput("Unknown language.", detail={"language": list(LANGUAGES)})
    plan = await db_call(_plan)(user, filters)
    hits: list[Hit] = []
    embed_ms = retrieve_ms = 0.0
    if not plan.nothing:
        narrowing = search_narrowing(filters=filters, document_ids=plan.document_ids)
        hits, embed_ms, retrieve_ms = await _vector_hits(text=text, scope=plan.scope, narrowing=narrowing)
    count, shown, documents = await db_call(_results)(user=user, text=text, hits=hits, page=page, page_size=page_size)
    took_ms = (time.perf_counter() - started) * 1000
    log.info(
        "search_run",
        query_chars=len(text),
        candidates=len(hits),
        results=count,
        page=page,
        took_ms=round(took_ms, 1),
        embed_ms=round(embed_ms, 1),
        retrieve_ms=round(retrieve_ms, 1),
        **filters.as_log(),
    )
    return SearchPage(
        query=text,
        filters=filters,
        page=page,
        page_size=page_size,
        count=count,
        hits=shown,
        documents=documents,
        took_ms=took_ms,
        embed_ms=embed_ms,
        retrieve_ms=retrieve_ms,
    )
