"""Services of the documents app: the work behind every transport (admin, API, tasks, commands).

Lifecycle (upload, re-ingest, re-OCR, delete, versions), ingestion and its steps (validation, parsing, OCR,
cleaning, chunking, embeddings, the vector store), containers and quarantine. Heavy libraries are imported inside
the functions that run in the worker.
"""
