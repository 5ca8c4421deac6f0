"""One warmed Haystack pipeline per factory and event loop: their HTTP clients belong to the loop that made them."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

_pipelines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()


def loop_pipeline(factory_name: str) -> Any:
    """The pipeline ``chat.pipelines.answering.<factory_name>()`` of the running loop, built and warmed once.

    Args:
        factory_name: ``retrieval_pipeline``, ``generation_pipeline`` or ``condense_pipeline``.
    """
    loop = asyncio.get_running_loop()
    built = _pipelines.setdefault(loop, {})
    pipeline = built.get(factory_name)
    if pipeline is None:
        from chat.pipelines import answering as factories

        pipeline = getattr(factories, factory_name)()
        pipeline.warm_up()
        built[factory_name] = pipeline
    return pipeline


def pipelines_forget() -> None:
    """Drop every cached pipeline (settings changed: tests point the stack at other servers)."""
    _pipelines.clear()
