"""Factories of the answering pipelines (Haystack). Called only from chat.services; never built at import time."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def retrieval_pipeline() -> Any:
    """Question -> dense + sparse encoding -> permission-filtered hybrid Qdrant search (score fusion).

    Inputs: ``encoder.text`` (and ``encoder.dense`` when it was embedded early), ``retriever.scope``,
    ``retriever.top_k``, ``retriever.mode``.
    """
    from haystack import Pipeline

    from chat.components.retrieval import HybridQdrantRetriever, QueryEncoder

    pipeline = Pipeline()
    pipeline.add_component("encoder", QueryEncoder())
    pipeline.add_component(
        "retriever",
        HybridQdrantRetriever(
            url=settings.QDRANT_URL,
            api_key=settings.QDRANT_API_KEY,
            timeout=settings.QDRANT_TIMEOUT,
            candidates=settings.DOCINTEL_RETRIEVAL_CANDIDATES,
            dense_weight=settings.DOCINTEL_RETRIEVAL_DENSE_WEIGHT,
        ),
    )
    pipeline.connect("encoder.dense", "retriever.dense")
    pipeline.connect("encoder.sparse_indices", "retriever.sparse_indices")
    pipeline.connect("encoder.sparse_values", "retriever.sparse_values")
    return pipeline


def _chat_generator(*, max_tokens: int, stream: bool) -> Any:
    """Haystack's OpenAI-compatible chat generator against LLM_BASE_URL / LLM_MODEL, one attempt, no retries.

    Args:
        max_tokens: the answer's length limit.
        stream: ask the server for token usage in the stream's last chunk (the speed measurement needs it).

    Returns:
        The generator component.
    """
    from haystack.components.generators.chat import OpenAIChatGenerator
    from haystack.utils import Secret

    kwargs: dict[str, Any] = {"max_tokens": max_tokens, "temperature": settings.LLM_TEMPERATURE}
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    return OpenAIChatGenerator(
        api_key=Secret.from_token(settings.LLM_API_KEY),
        model=settings.LLM_MODEL,
        api_base_url=settings.LLM_BASE_URL,
        generation_kwargs=kwargs,
        timeout=settings.LLM_TIMEOUT,
        max_retries=0,  # one attempt: the caller has a deadline and gets a coded error instead
    )


def generation_pipeline() -> Any:
    """Grounded prompt -> streaming chat generation against LLM_BASE_URL / LLM_MODEL.

    Inputs: ``prompt.question``, ``prompt.passages``, ``prompt.canary``, ``prompt.nonce``. Stream it with
    ``Pipeline.stream(..., include_outputs_from={"prompt"})``.
    """
    from haystack import Pipeline

    from chat.components.prompting import GroundedPromptBuilder

    pipeline = Pipeline()
    # the passages come sized by the answer's plan (chat/services/answering/budget.py), counted by the model's tokenizer
    pipeline.add_component("prompt", GroundedPromptBuilder())
    pipeline.add_component("llm", _chat_generator(max_tokens=settings.LLM_MAX_TOKENS, stream=True))
    pipeline.connect("prompt.messages", "llm.messages")
    return pipeline


def condense_pipeline() -> Any:
    """Session history + follow-up -> one standalone question (non-streaming, short)."""
    from haystack import Pipeline

    from chat.components.prompting import CondensePromptBuilder

    pipeline = Pipeline()
    pipeline.add_component("prompt", CondensePromptBuilder())
    pipeline.add_component("llm", _chat_generator(max_tokens=64, stream=False))
    pipeline.connect("prompt.messages", "llm.messages")
    return pipeline
