"""Evaluation of the answering service: runs (metrics and per-question results), curated questions, reports."""
