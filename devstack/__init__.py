"""The development stack: what ``make run`` starts beside the portal on one machine, apart from product code.

- :mod:`devstack.vectorstore`: the embedded vector store, Qdrant Edge behind the REST subset the app calls, so the
  app reaches it through ``QdrantClient(url=QDRANT_URL)`` exactly as it reaches a Qdrant server in production.
- :mod:`devstack.llm_server`: llama.cpp serving the bundled SmolLM2 (OpenAI-compatible, like Ollama and vLLM).
- :mod:`devstack.localservers`: the launchers ``runportal``, the tests and the benchmarks share.

Production replaces each with a URL (``QDRANT_URL``, ``LLM_BASE_URL``, ``EMBEDDING_BASE_URL``); product code never
imports this package.
"""
