"""The answer's time budget: what goes into the prompt so that the first token arrives within the target.

Nothing here is assumed about the model. Its speed is measured: a short probe request the first time (the server's
own ``timings`` where it reports them, as llama.cpp does; the wall clock otherwise), then every answer's time to first
token and prompt tokens, kept as a running estimate per ``LLM_BASE_URL`` + ``LLM_MODEL`` in the cache that all web
processes share. Prompt tokens are counted with the model's own tokenizer through the server's ``/tokenize``
endpoint (llama.cpp and vLLM have one); only a server without it falls back to an estimate.

The plan keeps the sentences of the retrieved passages that match the question, best first — the best passage's
best sentence always — until the counted prompt reaches ``measured prompt speed × time left × SAFETY``. When not
even that fits, or the model is unreachable, the plan says so and the caller answers with quotes instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache

from chat.services.answering.extractive import RankedSentence, Ranking
from chat.services.retrieval import RetrievedPassage
from docintel.errors import DocIntelError, LLMBadResponse, LLMTimeout, LLMUnavailable

log = structlog.get_logger(__name__)

SAFETY = 0.85  # share of the measured speed the plan counts on (speed varies between requests)
SMOOTHING = 0.4  # weight of the newest observation in the running estimate
TEMPLATE_TOKENS = 16  # the chat template's role markers around system and user message
MIN_PASSAGE_TOKENS = 24  # below this room for passages, generation is not worth starting
MAX_PASSAGES = 5
PROBE_TEXT = (
    "The city council met on Tuesday to discuss the new budget for schools, roads and public libraries. "
    "After a long debate the members approved the plan, which adds two bus lines and repairs the old bridge. "
    "The mayor said that the work will start in spring and should be finished before the end of next year. "
) * 2
_COUNT_CACHE_SIZE = 4096
RETRY_AFTER_TIMEOUT_S = 60.0  # a speed bound from a timeout is measured again after this long
RECHECK_AFTER_S = 20.0  # a speed that keeps generation off is measured again (in the background) after this long


@dataclass
class Speed:
    """The running estimate of one model server's speed."""

    prompt_tps: float  # prompt (prefill) tokens per second
    gen_tps: float | None  # generated tokens per second
    samples: int
    source: str  # probe, observed or timeout (the last observation's kind)
    updated: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """The estimate as JSON for the answer's provenance, speeds rounded to 0.1 token/s."""
        data = dataclasses.asdict(self)
        data["prompt_tps"] = round(self.prompt_tps, 1)
        data["gen_tps"] = None if self.gen_tps is None else round(self.gen_tps, 1)
        return data


def _speed_key() -> str:
    digest = hashlib.sha256(f"{settings.LLM_BASE_URL}|{settings.LLM_MODEL}".encode()).hexdigest()[:16]
    return f"answering:llm-speed:{digest}"


_local_speed: dict[str, Speed] = {}
_in_flight = 0  # generations running in this process (they share the server's prompt speed)


def _fresh(speed: Speed) -> bool:
    # a speed inferred from a timeout is a bound, not a measurement: trusted briefly, then measured again
    ttl = RETRY_AFTER_TIMEOUT_S if speed.source == "timeout" else settings.ANSWER_SPEED_TTL
    return time.time() - speed.updated < ttl


async def speed_get() -> Speed | None:
    """The current estimate for the configured model, from this process or the shared cache; None if unmeasured."""
    key = _speed_key()
    speed = _local_speed.get(key)
    if speed is not None and _fresh(speed):
        return speed
    raw = await cache.aget(key)
    if isinstance(raw, dict):
        try:
            speed = Speed(**raw)
        except TypeError:
            speed = None
        if speed is not None and _fresh(speed):
            _local_speed[key] = speed
            return speed
    return None


_rechecks: set[asyncio.Task[None]] = set()


def speed_recheck_soon() -> None:
    """Measure the model again in the background (an estimate that keeps generation off is never refreshed by use).

    At most one re-measure runs per process, and none while the estimate is younger than RECHECK_AFTER_S.
    """
    if _rechecks:
        return

    async def run() -> None:
        try:
            await speed_measure()
        except DocIntelError as exc:
            log.info("llm_speed_recheck_failed", code=exc.code)

    task = asyncio.get_running_loop().create_task(run())
    _rechecks.add(task)
    task.add_done_callback(_rechecks.discard)


async def speed_record(*, prompt_tps: float | None, gen_tps: float | None, source: str) -> Speed | None:
    """Fold one observation into the running estimate (exponential smoothing) and share it.

    Args:
        prompt_tps: prompt tokens per second observed (None: this observation says nothing about it).
        gen_tps: generated tokens per second observed, or None.
        source: ``probe``, ``observed`` or ``timeout``.

    Returns:
        The new estimate (None when there was nothing to record).
    """
    current = await speed_get()
    if prompt_tps is None or prompt_tps <= 0:
        if current is None or gen_tps is None:
            return current
        prompt_tps = current.prompt_tps
    if current is None:
        speed = Speed(prompt_tps=prompt_tps, gen_tps=gen_tps, samples=1, source=source)
    else:
        mixed_gen = current.gen_tps
        if gen_tps is not None:
            mixed_gen = gen_tps if mixed_gen is None else (1 - SMOOTHING) * mixed_gen + SMOOTHING * gen_tps
        speed = Speed(
            prompt_tps=(1 - SMOOTHING) * current.prompt_tps + SMOOTHING * prompt_tps,
            gen_tps=mixed_gen,
            samples=current.samples + 1,
            source=source,
        )
    key = _speed_key()
    _local_speed[key] = speed
    await cache.aset(key, dataclasses.asdict(speed), settings.ANSWER_SPEED_TTL)
    return speed


def speed_forget() -> None:
    """Drop this process's estimates (tests; a changed model)."""
    _local_speed.clear()


# --- HTTP to the model server (one client per event loop) ------------------------------------------------------------
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def _client() -> Any:
    import httpx

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        headers = {"Authorization": f"Bearer {settings.LLM_API_KEY}"}
        client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(10.0, connect=2.0))
        _clients[loop] = client
    return client


def _server_root() -> str:
    base = settings.LLM_BASE_URL.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


async def speed_measure(*, timeout: float | None = None) -> Speed:
    """Measure the configured model with one short request (a fresh prefix, so no prompt cache helps it).

    Raises:
        LLMUnavailable: the server cannot be reached or answers 5xx.
        LLMTimeout: it did not answer within ``timeout``; the slowness is recorded as a (low) estimate.
        LLMBadResponse: it answered something that is not a chat completion.
    """
    import httpx

    limit = timeout if timeout is not None else settings.ANSWER_FIRST_TOKEN_TARGET + settings.ANSWER_FIRST_TOKEN_GRACE
    body = {
        "model": settings.LLM_MODEL,
        "messages": [
            {"role": "system", "content": f"Probe {secrets.token_hex(4)}. Reply with one word."},
            {"role": "user", "content": PROBE_TEXT},
        ],
        "max_tokens": 4,
        "temperature": 0,
        "stream": False,
    }
    started = time.perf_counter()
    try:
        response = await _client().post(
            f"{settings.LLM_BASE_URL.rstrip('/')}/chat/completions", json=body, timeout=limit
        )
    except httpx.TimeoutException as exc:
        counted, _ = await tokens_count([PROBE_TEXT])
        await speed_record(prompt_tps=counted[0] / limit, gen_tps=None, source="timeout")
        raise LLMTimeout("The language model did not answer the speed probe in time.") from exc
    except httpx.HTTPError as exc:
        raise LLMUnavailable("The language model server is unreachable.") from exc
    elapsed = time.perf_counter() - started
    if response.status_code >= 500 or response.status_code in (404, 408, 429):
        raise LLMUnavailable(f"The language model server answered {response.status_code}.")
    try:
        data = response.json()
        usage = data.get("usage") or {}
        timings = data.get("timings") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
    except (ValueError, AttributeError, TypeError) as exc:
        raise LLMBadResponse("The language model answered the speed probe with something else.") from exc
    if response.status_code >= 400:
        raise LLMBadResponse(f"The language model server refused the speed probe ({response.status_code}).")
    prompt_tps = float(timings.get("prompt_per_second") or 0) or (prompt_tokens / elapsed if prompt_tokens else 0.0)
    gen_tps = float(timings.get("predicted_per_second") or 0) or None
    if prompt_tps <= 0:
        raise LLMBadResponse("The language model reported no prompt tokens.")
    speed = await speed_record(prompt_tps=prompt_tps, gen_tps=gen_tps, source="probe")
    assert speed is not None
    log.info("llm_speed_measured", **speed.as_dict(), probe_ms=round(elapsed * 1000, 1))
    return speed


# --- Token counting with the model's tokenizer ----------------------------------------------------------------------
_tokenizer_kind: dict[str, str] = {}  # server root -> llamacpp | vllm | none
_counts: OrderedDict[tuple[str, str], int] = OrderedDict()


async def _count_one(root: str, text: str) -> int:
    client = _client()
    kind = _tokenizer_kind.get(root)
    if kind in (None, "llamacpp"):
        response = await client.post(f"{root}/tokenize", json={"content": text})
        if response.status_code == 200 and isinstance(response.json().get("tokens"), list):
            _tokenizer_kind[root] = "llamacpp"
            return len(response.json()["tokens"])
        if kind == "llamacpp":
            response.raise_for_status()
    response = await client.post(f"{root}/tokenize", json={"model": settings.LLM_MODEL, "prompt": text})
    response.raise_for_status()
    data = response.json()
    _tokenizer_kind[root] = "vllm"
    return int(data["count"]) if "count" in data else len(data["tokens"])


def tokens_estimate(text: str) -> int:
    """A conservative token estimate of ``text`` for an English-trained LLM tokenizer, when no server can count.

    About four ASCII characters make a token, but Greek and other non-Latin scripts take about one token per
    character (measured with SmolLM2: 4,000 Greek characters came to ~2,700 tokens). The only estimate of LLM tokens
    in DocIntel: :func:`tokens_count` falls back to it when the model server has no ``/tokenize`` or cannot be
    reached. (Chunk sizes are counted for the embedding model, whose server has no tokenizer endpoint, by
    ``documents.services.chunking.count_tokens``.)

    Args:
        text: any text.

    Returns:
        The estimated number of tokens, at least 1.
    """
    ascii_count = sum(1 for ch in text if ch < "\x80")
    return ascii_count // 4 + (len(text) - ascii_count) + 1


async def tokens_count(texts: list[str]) -> tuple[list[int], str]:
    """Count the tokens of each text with the model's tokenizer.

    Returns:
        The counts, and ``server`` (the model's own tokenizer) or ``estimate`` (the server has no tokenize endpoint
        or could not be reached).
    """
    import httpx

    root = _server_root()
    if _tokenizer_kind.get(root) == "none":
        return [tokens_estimate(t) for t in texts], "estimate"
    missing = sorted({t for t in texts if (root, t) not in _counts})
    try:
        found = await asyncio.gather(*(_count_one(root, t) for t in missing))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in (404, 405, 400, 422):
            _tokenizer_kind[root] = "none"  # this server has no tokenizer endpoint: stop asking
        log.info("llm_tokenize_unavailable", error_type=type(exc).__name__)
        return [tokens_estimate(t) for t in texts], "estimate"
    for text, count in zip(missing, found, strict=True):
        _counts[(root, text)] = count
        if len(_counts) > _COUNT_CACHE_SIZE:
            _counts.popitem(last=False)
    return [_counts[(root, t)] for t in texts], "server"


# --- The plan --------------------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """What the prompt holds and whether generation can deliver within the target."""

    generate: bool
    reason: str  # fits, budget_too_small, or the coded error of the speed probe
    passages: list[RetrievedPassage] = field(default_factory=list)  # excerpts, numbered from 1 in the prompt
    kept: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    prompt_hash: str = ""
    allowed_tokens: int = 0
    tokenizer: str = ""
    speed: Speed | None = None
    time_left_s: float = 0.0
    deadline_s: float = 0.0

    def provenance(self) -> dict[str, Any]:
        """The plan as JSON, stored in the response's ``decision["budget"]`` (shown in the admin)."""
        return {
            "generate": self.generate,
            "reason": self.reason,
            "prompt_tokens_counted": self.prompt_tokens,
            "allowed_tokens": self.allowed_tokens,
            "tokenizer": self.tokenizer,
            "speed": self.speed.as_dict() if self.speed else None,
            "target_s": settings.ANSWER_FIRST_TOKEN_TARGET,
            "time_left_s": round(self.time_left_s, 2),
            "first_token_deadline_s": round(self.deadline_s, 2),
            "kept": self.kept,
        }


def first_token_deadline(time_left: float) -> float:
    """Seconds to wait for the first token: the time left to the target plus the grace, at most the hard timeout."""
    return max(0.5, min(settings.LLM_FIRST_TOKEN_TIMEOUT, time_left + settings.ANSWER_FIRST_TOKEN_GRACE))


async def speed_for_plan() -> tuple[Speed | None, str]:
    """The estimate to plan with, measuring the model first when there is none yet.

    Returns:
        The speed (None when it could not be measured) and ``measured`` or the coded error that prevented it.
    """
    speed = await speed_get()
    if speed is not None:
        return speed, "measured"
    try:
        return await speed_measure(), "measured"
    except DocIntelError as exc:
        log.warning("llm_speed_probe_failed", code=exc.code)
        return await speed_get(), exc.code


def _prompt_texts(question: str, passages: list[RetrievedPassage]) -> tuple[list[str], str]:
    """The prompt's message texts as the model will get them (canary and nonce of the same length), and its hash."""
    from chat.components.prompting import GroundedPromptBuilder
    from chat.services.answering.generation import prompt_passages

    built = GroundedPromptBuilder().run(
        question=question, passages=prompt_passages(passages), canary="DOCINTEL-CANARY-00000000", nonce="0" * 12
    )
    return [str(m.text or "") for m in built["messages"]], str(built["prompt_hash"])


def _excerpt(passage: RetrievedPassage, sentences: list[RankedSentence]) -> RetrievedPassage:
    ordered = sorted(sentences, key=lambda s: s.index)
    parts: list[str] = []
    previous = None
    for sentence in ordered:
        if previous is not None and sentence.index != previous + 1:
            parts.append("…")
        parts.append(sentence.text)
        previous = sentence.index
    return dataclasses.replace(passage, text=" ".join(parts))


async def prompt_plan(*, question: str, passages: list[RetrievedPassage], ranking: Ranking, elapsed_s: float) -> Plan:
    """Choose the passages' sentences for the prompt within the time left to the first-token target.

    Args:
        question: the (standalone) question as the prompt will carry it.
        passages: the retrieved passages, best first.
        ranking: their sentences ranked against the question.
        elapsed_s: seconds already spent on this answer (guard, condensing, retrieval).

    Returns:
        The plan; ``generate`` is False when the model cannot be reached or not even the best sentence fits.
    """
    time_left = max(0.0, settings.ANSWER_FIRST_TOKEN_TARGET - elapsed_s)
    speed, status = await speed_for_plan()
    plan = Plan(generate=False, reason=status, speed=speed, time_left_s=time_left)
    plan.deadline_s = first_token_deadline(time_left)
    if speed is None or status not in ("measured",):
        return plan
    context_room = settings.LLM_CONTEXT_TOKENS - settings.LLM_MAX_TOKENS
    allowed = int(min(context_room, speed.prompt_tps * time_left * SAFETY / (1 + _in_flight)))
    plan.allowed_tokens = allowed
    base_texts, _ = _prompt_texts(question, [])
    frames = [f"[{n}]  (source: {p.document_title}, {p.location})" for n, p in enumerate(passages, start=1)]
    # Only sentences that carry the question's terms are candidates; the best passage's best sentence comes first.
    candidates = [s for s in ranking.best() if s.coverage > 0 and s.passage < MAX_PASSAGES]
    if ranking.by_passage and ranking.by_passage[0]:
        lead = max(ranking.by_passage[0], key=lambda s: (s.score, -s.index))
        candidates = [lead, *[c for c in candidates if c is not lead]]
    counts, plan.tokenizer = await tokens_count([*base_texts, *frames, *[c.text for c in candidates]])
    base = sum(counts[: len(base_texts)]) + TEMPLATE_TOKENS
    frame_tokens = counts[len(base_texts) : len(base_texts) + len(frames)]
    sentence_tokens = counts[len(base_texts) + len(frames) :]
    room = allowed - base
    if room < MIN_PASSAGE_TOKENS or not candidates:
        plan.reason = "budget_too_small" if candidates else "no_matching_sentence"
        plan.prompt_tokens = base
        if candidates and time.time() - speed.updated > RECHECK_AFTER_S:
            speed_recheck_soon()
        return plan
    chosen: dict[int, list[RankedSentence]] = {}
    used = 0
    for sentence, tokens in zip(candidates, sentence_tokens, strict=True):
        cost = tokens + (0 if sentence.passage in chosen else frame_tokens[sentence.passage])
        if used + cost > room:
            continue
        chosen.setdefault(sentence.passage, []).append(sentence)
        used += cost
    if 0 not in chosen:  # never drop the best passage: its best sentence alone is over budget
        plan.reason = "budget_too_small"
        if time.time() - speed.updated > RECHECK_AFTER_S:
            speed_recheck_soon()
        plan.prompt_tokens = base + sentence_tokens[0] + frame_tokens[0]
        return plan
    order = sorted(chosen)
    plan.passages = [_excerpt(passages[i], chosen[i]) for i in order]
    plan.kept = [
        {"number": n, "chunk_id": passages[i].chunk_id, "sentences": sorted(s.index for s in chosen[i])}
        for n, i in enumerate(order, start=1)
    ]
    texts, plan.prompt_hash = _prompt_texts(question, plan.passages)
    final, plan.tokenizer = await tokens_count(texts)
    plan.prompt_tokens = sum(final) + TEMPLATE_TOKENS
    plan.generate = True
    plan.reason = "fits"
    return plan


@contextlib.contextmanager
def generation_slot() -> Iterator[None]:
    """Count this process's running generations while one is inside (concurrent prompts share the speed)."""
    global _in_flight  # noqa: PLW0603 - the per-process gauge
    _in_flight += 1
    try:
        yield
    finally:
        _in_flight -= 1
