"""The question's text rule of every transport, ``chat.services.quota.question_check``, in English and Greek."""

from __future__ import annotations

import pytest

from chat.services.quota import question_check
from docintel.errors import InvalidInput
from tests.chat.question_texts import question_of


@pytest.mark.parametrize("lang", ["en", "el"])
def test_exactly_the_limit_passes_trimmed_and_one_more_character_is_refused(lang, settings):
    settings.DOCINTEL_WS_MAX_QUESTION_CHARS = 120
    exact = question_of(lang, 120)
    assert question_check(text=f"\n  {exact}\t") == exact  # white space around does not count
    with pytest.raises(InvalidInput) as refused:
        question_check(text=question_of(lang, 121))
    assert refused.value.code == "invalid_input" and refused.value.status == 400
    assert refused.value.message == "The question is too long: at most 120 characters."
    assert refused.value.detail == {"text": [refused.value.message]}


@pytest.mark.parametrize("text", [None, 5, ["Q?"], "", "   ", "\u3000\u00a0\n", "Πόσες;\x00", "a\x00b"])
def test_what_is_not_a_question_is_refused_with_the_same_code(text):
    with pytest.raises(InvalidInput) as refused:
        question_check(text=text)
    assert refused.value.code == "invalid_input"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lang", ["en", "el"])
async def test_the_answering_service_itself_refuses_a_question_over_the_limit(lang, settings, reader):
    """A caller that skips the transport's check (a new transport, a command) meets the same rule in the service."""
    from chat.models import Query
    from chat.services.answering import answer_stream

    settings.DOCINTEL_WS_MAX_QUESTION_CHARS = 120
    events = [e async for e in answer_stream(user=reader, text=question_of(lang, 121), channel="ws")]
    assert [(e["type"], e.get("code")) for e in events] == [("error", "invalid_input")]
    assert "at most 120 characters" in str(dict(events[0])["message"])
    assert not await Query.objects.filter(user=reader).aexists()  # refused before anything is stored


@pytest.mark.parametrize("lang", ["en", "el"])
def test_only_the_evaluation_harness_asks_past_the_limit(lang, settings):
    """The harness asks attack prompts whole (some exceed a reader's limit); every other rule still holds for it."""
    settings.DOCINTEL_WS_MAX_QUESTION_CHARS = 120
    long = question_of(lang, 500)
    assert question_check(text=long, limited=False) == long
    for text in ("   ", "a\x00b"):
        with pytest.raises(InvalidInput):
            question_check(text=text, limited=False)


async def test_the_rate_counts_questions_per_minute_and_opens_again_with_the_next_minute(settings, monkeypatch):
    """The window is the clock's minute: the refusal says how long is left of it, the next minute counts afresh."""
    import uuid

    from chat.services import quota
    from docintel.errors import RateLimited

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    settings.DOCINTEL_QUESTIONS_PER_MINUTE, settings.DOCINTEL_ANSWERS_CONCURRENT = 2, 1
    minute = 29_000_000 * 60.0
    now = [minute + 15]
    monkeypatch.setattr(quota, "clock", lambda: now[0])
    for _ in range(2):
        await (await quota.answer_admit(user_id=7)).release()
    with pytest.raises(RateLimited) as refused:
        await quota.answer_admit(user_id=7)
    assert refused.value.code == "rate_limited" and refused.value.detail == {"retry_after": 46}
    await (await quota.answer_admit(user_id=8)).release()  # another user has a rate of their own
    now[0] = minute + 59.5
    with pytest.raises(RateLimited) as refused:
        await quota.answer_admit(user_id=7)
    assert refused.value.detail == {"retry_after": 1}
    now[0] = minute + 60
    await (await quota.answer_admit(user_id=7)).release()  # a new minute
