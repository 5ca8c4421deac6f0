"""Factories of answering's Haystack pipelines: retrieval, generation and condensing (:mod:`.answering`).

Built on first use, once per event loop, by :mod:`chat.services.pipelines_cache`; never at import time.
"""
