"""Get a web process ready to search before its first search: the search path run once, end to end, finding nothing.

Part of the web process's warm-up (``chat.services.answering.warmup``), which Daphne starts on its first connection.
Without it the first search in a fresh process paid for loading Haystack's retriever, the query encoder's clients,
qdrant-client's models and this event loop's Qdrant client, and for the highlighter's first Greek folding.

The query really goes to the embedding server and to the vector store (the same calls a search makes, on the same
event loop), under a narrowing that matches no point, so nothing is read and nothing is logged as a search.
"""

from __future__ import annotations

import asyncio
import importlib
import time

import structlog
from django.conf import settings

from chat.components.scope import AccessScope
from search.services.highlight import highlight_spans, query_terms, snippet_fragments
from search.services.query import SearchFilters, _retriever, search_narrowing  # the service's own retriever

log = structlog.get_logger(__name__)

WARM_UP_QUERY = "Επιτροπή ελέγχου: audit committee"
WARM_UP_TEXT = "Η Επιτροπή Ελέγχου (audit committee) εξετάζει τις οικονομικές καταστάσεις της εταιρείας."


async def search_warm_up() -> float:
    """Run the search path once: encode a query, one batch call to the store matching nothing, highlight a text.

    Returns:
        How long it took, in milliseconds.

    Raises:
        EmbeddingUnavailable, VectorStoreUnavailable: a dependency failed (the caller logs it; the first search then
            pays the cost).
    """
    started = time.perf_counter()
    for module in ("qdrant_client.models", "search.components"):  # heavy (Haystack): off the event loop
        await asyncio.to_thread(importlib.import_module, module)
    from qdrant_client import models  # noqa: PLC0415 - heavy, loaded just above in a thread

    from chat.components.retrieval import QueryEncoder  # noqa: PLC0415 - loads Haystack (done above)
    from search.components import narrowed  # noqa: PLC0415 - loads Haystack (done above)

    encoded = await QueryEncoder().run_async(text=WARM_UP_QUERY)
    nothing = models.Filter(must=[models.HasIdCondition(has_id=[])])
    narrowing = search_narrowing(filters=SearchFilters(language="el"), document_ids=None)
    with narrowed(models.Filter(must=[nothing, narrowing])):
        await _retriever().run_async(
            dense=encoded["dense"],
            sparse_indices=encoded["sparse_indices"],
            sparse_values=encoded["sparse_values"],
            scope=AccessScope(unrestricted=True, group_ids=()),
            top_k=1,
            mode=settings.DOCINTEL_RETRIEVAL_MODE,
        )
    spans = highlight_spans(WARM_UP_TEXT, query_terms(WARM_UP_QUERY))
    snippet_fragments(WARM_UP_TEXT, spans)
    took_ms = (time.perf_counter() - started) * 1000
    log.info("search_warmed_up", took_ms=round(took_ms, 1), highlights=len(spans))
    return took_ms
