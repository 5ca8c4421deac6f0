"""Get a web process ready before its first question and its first search: guards, pipelines, LLM, search path.

Started once per process, in the background, on the server's first connection (``docintel.asgi``): the first
question would otherwise spend ~10 s loading LLM Guard out of its time budget, and the first search took ~2 s more
than later ones (``search.services.warmup``). Heavy imports run in a thread so the event loop keeps serving.

Once warm, everything the process holds (Django, the guards' models, Haystack, the pipelines: about 700k objects) is
moved out of the garbage collector's reach (:func:`startup_objects_freeze`): a full collection walked all of them,
330-350 ms with the event loop stopped (every stream of the process stalls, a question waits), against about 1 ms
once they are frozen. They live as long as the process anyway.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import importlib
import os
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

_tasks: set[asyncio.Task[None]] = set()
_started = False


async def answering_warm_up() -> None:
    """Load the guards and Haystack, build this loop's pipelines and measure the LLM if it is not measured yet."""
    from chat.services.answering.budget import speed_for_plan
    from chat.services.pipelines_cache import loop_pipeline
    from guards import guards_warm_up

    await asyncio.to_thread(guards_warm_up)
    await asyncio.to_thread(importlib.import_module, "haystack.components.generators.chat")
    for name in ("retrieval_pipeline", "generation_pipeline"):
        loop_pipeline(name)
    speed, status = await speed_for_plan()
    log.info("answering_warmed_up", llm_speed=speed.as_dict() if speed else None, status=status)


def startup_objects_freeze() -> int:
    """Collect start-up's garbage once, then move every object left into the collector's permanent generation.

    Called once the process is warm, before it says it is ready: later full collections walk only what was made
    after (requests, answers). An object frozen here is never collected, so a cycle among them that becomes garbage
    later stays (start-up's modules, models and pipelines stay alive for the process's life in any case). The one
    full collection before the freeze stops the event loop once (330-350 ms when warm), before the process says it
    is ready; a real Daphne then froze about 790k objects and collected a few hundred.

    Returns:
        How many objects the permanent generation holds.
    """
    collected = gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("gc_startup_frozen", objects=frozen, collected=collected)
    return frozen


def answering_warm_up_soon() -> None:
    """Start :func:`answering_warm_up`, then ``search_warm_up``, in the background, once per process (needs a loop).

    Each may fail on its own (logged) without skipping the other; then what the process holds is frozen
    (:func:`startup_objects_freeze`) and the readiness marker (``DOCINTEL_WARM_FILE``) is written.
    """
    global _started  # noqa: PLW0603 - once per process
    from django.conf import settings

    if _started or not settings.ANSWER_WARM_UP:
        return
    _started = True

    async def run() -> None:
        from search.services.warmup import search_warm_up  # the search page is served by the same process

        try:
            for name, warm_up in (("answering", answering_warm_up), ("search", search_warm_up)):
                try:
                    await warm_up()
                except Exception as exc:  # noqa: BLE001 - a warm-up failure only means the first request pays the cost
                    log.warning(f"{name}_warm_up_failed", error_type=type(exc).__name__)
        finally:
            startup_objects_freeze()
            marker = os.environ.get("DOCINTEL_WARM_FILE")  # set by localservers.daphne_server: its readiness
            if marker:
                await asyncio.to_thread(Path(marker).touch)

    # a context of its own: not the first connection's (its thread-sensitive executor ends with that connection)
    task = asyncio.get_running_loop().create_task(run(), context=contextvars.Context())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
