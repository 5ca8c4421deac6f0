"""The limits of a question, shared by every transport: its text, the user's questions per minute, answers at once.

:func:`question_check` is the rule on the text (a string, not only white space, no NUL, at most
``DOCINTEL_WS_MAX_QUESTION_CHARS`` characters once trimmed); the WebSocket consumer and both question endpoints
(sync and SSE) call it before they start an answer, and each renders its coded refusal its own way (an ``error``
frame, a 400 ``{"code", "message", "detail"}``, an ``event: error``). The OpenAPI schema documents the same limit
(``maxLength`` read from the setting), but enforcement is here.

:func:`answer_admit` runs where an answer starts (:func:`chat.services.answering.answer_stream`), so the WebSocket,
SSE and the sync API count against the same limits. The counters live in the shared cache (Redis in production:
every Daphne process sees them). The rate is a fixed one-minute window (``cache.add`` + ``cache.incr``, atomic in
Redis); each running answer holds one of ``DOCINTEL_ANSWERS_CONCURRENT`` slot keys, claimed with ``cache.add``
(SET NX) and leased for ``DOCINTEL_ANSWER_SLOT_SECONDS``, so a crashed process cannot hold a slot for ever.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.core.cache import cache

from docintel.errors import InvalidInput, RateLimited

log = structlog.get_logger(__name__)

BUSY_RETRY_AFTER_S = 5  # a refusal for answers already running: try again in this many seconds


def clock() -> float:
    """Seconds since the epoch: the rate window's clock (its own name, so a test can hold a window still)."""
    return time.time()


@dataclass
class AnswerSlot:
    """One claimed slot of a user's concurrent answers; :meth:`release` frees it (idempotent)."""

    key: str
    token: str
    released: bool = False

    async def release(self) -> None:
        """Free the slot, unless its lease expired and another answer claimed it since."""
        if self.released:
            return
        self.released = True
        if await cache.aget(self.key) == self.token:
            await cache.adelete(self.key)


def question_check(*, text: object, limited: bool = True) -> str:
    """The question's text as the answering path takes it (trimmed), or a coded refusal.

    Args:
        text: the question as the client sent it (any JSON value: a transport does not check its type first).
        limited: whether ``DOCINTEL_WS_MAX_QUESTION_CHARS`` applies; off only for the evaluation harness, which asks
            the attack sets' prompts whole.

    Returns:
        The text without leading and trailing white space.

    Raises:
        InvalidInput: not a string, nothing but white space, a NUL character (PostgreSQL cannot store it), or longer
            than ``DOCINTEL_WS_MAX_QUESTION_CHARS`` characters (counted in characters, so a Greek question has the
            same limit as an English one); ``detail`` is ``{"text": [message]}``, as the API's validation errors.
    """
    limit = int(settings.DOCINTEL_WS_MAX_QUESTION_CHARS)
    if not isinstance(text, str) or not text.strip():
        message = "A question needs a non-empty text."
    elif "\x00" in text:
        message = "The question may not contain null characters."
    elif limited and len(text.strip()) > limit:
        message = f"The question is too long: at most {limit} characters."
    else:
        return text.strip()
    log.info("question_refused", reason=message)
    raise InvalidInput(message, detail={"text": [message]})


def _key(kind: str, user_id: int, suffix: str | int) -> str:
    # user ids are unique per database: several test databases (or deployments) may share one Redis
    return f"docintel:quota:{settings.DATABASES['default']['NAME']}:{kind}:{user_id}:{suffix}"


def rate_limited(retry_after: int, message: str) -> RateLimited:
    """The coded refusal, ``detail.retry_after`` in whole seconds (at least 1).

    Args:
        retry_after: seconds until the user may ask again.
        message: what the user is told.

    Returns:
        The error to raise.
    """
    return RateLimited(message, detail={"retry_after": max(1, retry_after)})


async def answer_admit(*, user_id: int) -> AnswerSlot:
    """Claim an answer slot of ``user_id`` and count the question against the per-minute rate.

    A question refused for a full slot set is not counted; one refused for the rate frees its slot again.

    Returns:
        The claimed slot: release it when the answer ends.

    Raises:
        RateLimited: all slots are held, or the user asked DOCINTEL_QUESTIONS_PER_MINUTE questions this minute;
            ``detail.retry_after`` says when to ask again.
    """
    lease = int(settings.DOCINTEL_ANSWER_SLOT_SECONDS)
    token = secrets.token_hex(8)
    slot: AnswerSlot | None = None
    for number in range(max(1, int(settings.DOCINTEL_ANSWERS_CONCURRENT))):
        key = _key("slot", user_id, number)
        if await cache.aadd(key, token, timeout=lease):
            slot = AnswerSlot(key=key, token=token)
            break
    if slot is None:
        log.info("quota_refused", reason="concurrent", user_id=user_id)
        raise rate_limited(BUSY_RETRY_AFTER_S, "Too many answers at once; wait for one to finish.")
    now = clock()
    window = int(now // 60)
    key = _key("rate", user_id, window)
    await cache.aadd(key, 0, timeout=120)
    try:
        count = await cache.aincr(key)
    except ValueError:  # the window's key expired between add and incr
        await cache.aset(key, 1, timeout=120)
        count = 1
    if count > int(settings.DOCINTEL_QUESTIONS_PER_MINUTE):
        await slot.release()
        log.info("quota_refused", reason="rate", user_id=user_id, count=count)
        raise rate_limited(int((window + 1) * 60 - now) + 1, "Too many questions; slow down.")
    return slot
