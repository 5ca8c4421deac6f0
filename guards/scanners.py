"""LLM Guard's scanners, loaded once per process; nothing is downloaded.

Those that need no model (InvisibleText, Secrets, BanSubstrings, TokenLimit with an offline byte encoding,
NoRefusalLight), plus PromptInjection and Toxicity when their model folders exist under
``DOCINTEL_GUARD_MODEL_DIR`` (``prompt-injection/``, ``toxicity/``).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import structlog
from django.conf import settings

log = structlog.get_logger(__name__)

OFFLINE_ENCODING = "docintel_utf8_bytes"


def _register_offline_encoding() -> None:
    """A tiktoken encoding built locally (one token per UTF-8 byte) so TokenLimit never downloads a BPE file."""
    import tiktoken
    import tiktoken.registry

    if OFFLINE_ENCODING in tiktoken.registry.ENCODINGS:
        return
    encoding = tiktoken.Encoding(
        name=OFFLINE_ENCODING,
        pat_str=r"""\s+|\S+""",
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={},
    )
    tiktoken.registry.ENCODINGS[OFFLINE_ENCODING] = encoding


_lock = threading.Lock()


@functools.cache
def model_scanners() -> dict[str, Any]:
    """Model-based LLM Guard scanners whose folders exist under DOCINTEL_GUARD_MODEL_DIR (none otherwise)."""
    base = settings.DOCINTEL_GUARD_MODEL_DIR
    if not base:
        return {}
    root = Path(base)
    scanners: dict[str, Any] = {}
    if (root / "prompt-injection").is_dir():
        from llm_guard.input_scanners import PromptInjection
        from llm_guard.model import Model

        model = Model(path=str(root / "prompt-injection"), pipeline_kwargs={"max_length": 512, "truncation": True})
        scanners["PromptInjection"] = PromptInjection(model=model, threshold=0.92)
    if (root / "toxicity").is_dir():
        from llm_guard.input_scanners import Toxicity
        from llm_guard.model import Model

        model = Model(path=str(root / "toxicity"), pipeline_kwargs={"max_length": 512, "truncation": True})
        scanners["Toxicity"] = Toxicity(model=model, threshold=0.8)
    log.info("guard_model_scanners_loaded", scanners=sorted(scanners))
    return scanners


@functools.cache
def input_scanners() -> tuple[list[Any], set[str]]:
    """(scanners, names of the scanners that only sanitise and never block)."""
    from llm_guard.input_scanners import BanSubstrings, InvisibleText, TokenLimit

    from guards.secrets import Secrets

    _register_offline_encoding()
    scanners: list[Any] = [
        InvisibleText(),
        Secrets(),
        TokenLimit(limit=settings.DOCINTEL_MAX_QUESTION_BYTES, encoding_name=OFFLINE_ENCODING),
        BanSubstrings(
            ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "[INST]", "<<SYS>>", "DOCINTEL-CANARY"],
            match_type="str",
            case_sensitive=False,
        ),
    ]
    scanners.extend(model_scanners().values())
    return scanners, {"InvisibleText", "Secrets"}


@functools.cache
def output_scanners() -> list[Any]:
    """The answer's scanners: Secrets (redacts credentials in it) and NoRefusalLight (notes a refusal, never blocks)."""
    from llm_guard.output_scanners import NoRefusalLight

    from guards.secrets import Secrets

    return [Secrets(), NoRefusalLight()]


def run_scanners(
    scanners: list[Any], text: str, *, output_of: str | None
) -> tuple[str, dict[str, bool], dict[str, float]]:
    """Run ``scanners`` over ``text`` in order, each on the previous one's output, one call at a time per process.

    Args:
        scanners: LLM Guard scanners (:func:`input_scanners` or :func:`output_scanners`).
        text: the question, or the answer.
        output_of: the question when ``text`` is its answer (output scanners take both); None for input scanners.
            The Secrets scanner, an input scanner, always scans ``text`` alone.

    Returns:
        ``(text, valid, scores)``: the text as the scanners left it (sanitised), and per scanner name whether it
        passed and its score (rounded to 3 places).
    """
    valid: dict[str, bool] = {}
    scores: dict[str, float] = {}
    with _lock:  # scanners keep per-call state (regex caches, transformers pipelines): one at a time
        for scanner in scanners:
            name = type(scanner).__name__
            if output_of is None or name == "Secrets":  # Secrets is an input scanner reused on answers
                text, ok, score = scanner.scan(text)
            else:
                text, ok, score = scanner.scan(output_of, text)
            valid[name] = bool(ok)
            scores[name] = round(float(score), 3)
    return text, valid, scores


def guards_warm_up() -> None:
    """Load the LLM Guard scanners now (about 10 s on first use) rather than on the first question."""
    input_scanners()
    output_scanners()
