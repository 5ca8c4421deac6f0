"""The search app: the reader's search page and ``/api/v1/search`` over answering's permission-filtered retrieval.

No models and no LLM: ranked passages with Greek-aware highlights (:mod:`search.services`).
"""
