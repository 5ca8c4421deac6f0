"""Ingestion's Haystack components (conversion, indexing) and Docling's model-free layout stage.

The components wrap the ingestion services one step each; :mod:`documents.pipelines` wires them into the two
pipelines a Celery step runs.
"""
