"""Question quotas of a user, shared by every transport: questions per minute and answers running at once.

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

from docintel.errors import RateLimited

log = structlog.get_logger(__name__)

BUSY_RETRY_AFTER_S = 5  # a refusal for answers already running: try again in this many seconds


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


def _key(kind: str, user_id: int, suffix: str | int) -> str:
    # user ids are unique per database: several test databases (or deployments) may share one Redis
    return f"docintel:quota:{settings.DATABASES['default']['NAME']}:{kind}:{user_id}:{suffix}"


def rate_limited(retry_after: int, message: str) -> RateLimited:
    """The coded refusal, ``detail.retry_after`` in whole seconds (at least 1)."""
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
    now = time.time()
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
