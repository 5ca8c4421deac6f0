"""The LLM's failures as the coded errors of :mod:`docintel.errors`."""

from __future__ import annotations

from docintel.errors import DocIntelError, LLMBadResponse, LLMTimeout, LLMUnavailable


def llm_error(exc: BaseException) -> DocIntelError:
    """Map an OpenAI-client / pipeline failure (or what caused it) to the coded LLM error a caller sees."""
    import json

    import openai
    import pydantic

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DocIntelError):
            return current
        if isinstance(current, openai.APITimeoutError):
            return LLMTimeout()
        if isinstance(current, openai.APIConnectionError):
            return LLMUnavailable("The language model server is unreachable.")
        if isinstance(current, openai.APIStatusError):
            if current.status_code >= 500 or current.status_code in (404, 408, 429):
                return LLMUnavailable(f"The language model server answered {current.status_code}.")
            return LLMBadResponse(f"The language model server refused the request ({current.status_code}).")
        if isinstance(current, json.JSONDecodeError | pydantic.ValidationError | AssertionError | openai.APIError):
            return LLMBadResponse()
        current = current.__cause__ or current.__context__
    return LLMBadResponse(f"The language model call failed: {type(exc).__name__}.")
