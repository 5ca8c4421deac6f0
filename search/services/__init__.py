"""Search for readers and integrators: ranked, highlighted passages of the documents a user may read, no LLM."""

from __future__ import annotations

from search.services.highlight import Fragment, highlight_spans, query_terms, snippet_fragments
from search.services.query import DocumentHits, SearchFilters, SearchHit, SearchPage, search_run

__all__ = [
    "DocumentHits",
    "Fragment",
    "SearchFilters",
    "SearchHit",
    "SearchPage",
    "highlight_spans",
    "query_terms",
    "search_run",
    "snippet_fragments",
]
