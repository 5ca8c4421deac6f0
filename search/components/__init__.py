"""The search page's Haystack component: the answering retriever with the page's filters inside the store's query."""

from search.components.retrieval import NarrowedHybridRetriever, narrowed

__all__ = ["NarrowedHybridRetriever", "narrowed"]
