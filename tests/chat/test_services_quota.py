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
