"""The documents app: what librarians upload and what answers cite (Document, Chunk).

It turns a file into retrievable passages (validation, parsing with Docling, OCR, cleaning, chunking, embedding,
indexing in Qdrant), keeps versions, containers and quarantined passages, and gives librarians the admin and the API
to curate them. It does not import ``chat`` (answering depends on documents, not the reverse).
"""
