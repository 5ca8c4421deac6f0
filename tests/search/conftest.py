"""The search tests' stack: the session's real embedding server and vector store, a fresh collection; no LLM."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def search_stack(settings, embedding_url, qdrant_url):
    settings.EMBEDDING_BASE_URL = embedding_url
    settings.QDRANT_URL = qdrant_url
    settings.QDRANT_COLLECTION_PREFIX = f"s{uuid.uuid4().hex[:10]}"
    return settings
