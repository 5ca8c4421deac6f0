"""The answering retriever with an extra, optional Qdrant filter (the search page's filters), nothing else changed.

Imported only by :mod:`search.services.query` inside its functions: it loads Haystack and qdrant-client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from chat.components.retrieval import HybridQdrantRetriever

# The narrowing of the search running in this task (asyncio tasks copy the context, so concurrent searches on one
# retriever never see each other's filters).
_NARROWING: ContextVar[Any] = ContextVar("search_narrowing", default=None)


@contextmanager
def narrowed(narrowing: Any) -> Iterator[None]:
    """Apply ``narrowing`` (a ``qdrant_client.models.Filter`` or None) to the searches made inside the block."""
    token = _NARROWING.set(narrowing)
    try:
        yield
    finally:
        _NARROWING.reset(token)


class NarrowedHybridRetriever(HybridQdrantRetriever):
    """:class:`HybridQdrantRetriever` whose every leg also carries the narrowing of :func:`narrowed`.

    The permission filter (access groups, quarantine) stays as the parent builds it; the narrowing is a second
    ``must`` clause beside it, so it can only take hits away. Called directly by the search service (not added to
    a pipeline), so it is not re-registered with ``@component``: the decorator would copy the class.
    """

    def _requests(
        self, *, dense: list[float], sparse: Any, query_filter: Any, mode: str, top_k: int
    ) -> tuple[list[str], list[Any]]:
        """The parent's Qdrant requests, their filter ANDed with this task's narrowing when there is one."""
        narrowing = _NARROWING.get()
        if narrowing is not None:
            from qdrant_client import models  # noqa: PLC0415 - imported where Haystack's retriever imports it

            query_filter = narrowing if query_filter is None else models.Filter(must=[query_filter, narrowing])
        return super()._requests(dense=dense, sparse=sparse, query_filter=query_filter, mode=mode, top_k=top_k)
