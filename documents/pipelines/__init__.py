"""Ingestion's Haystack pipelines, one per Celery step (:mod:`documents.pipelines.ingestion`)."""

from documents.pipelines.ingestion import conversion_pipeline, indexing_pipeline, pipeline_run

__all__ = ["conversion_pipeline", "indexing_pipeline", "pipeline_run"]
