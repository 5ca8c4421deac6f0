"""The web process's warm-up runs the search path (``search.services.warmup``), not only the answering path.

Not timed: the tests check that the warm-up encodes a (Greek and English) query, queries the real store through the
search service's own retriever on this event loop, finds nothing although documents are indexed, and that a search
after it creates no Qdrant client of its own (the warm-up made the one it uses). And that Daphne's warm-up task
runs it after the answering warm-up, even when that one fails, before the readiness marker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chat.components.retrieval import HybridQdrantRetriever
from chat.services.answering import warmup as answering_warmup
from search.services import query, search_run
from search.services import warmup as search_warmup

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_warm_up_runs_the_search_path_on_the_store_and_finds_nothing(laws, reader, monkeypatch):
    from documents.services import embeddings

    encoded: list[str] = []
    answered: list[int] = []
    clients: list[Any] = []
    embed, client = embeddings.aembed_query, HybridQdrantRetriever._client

    async def spy_embed(text: str) -> list[float]:
        encoded.append(text)
        return await embed(text)

    def spy_client(self: HybridQdrantRetriever) -> Any:
        before = len(self._clients)
        made = client(self)
        if len(self._clients) > before:  # a new client (a new loop): count it and the points it returns
            clients.append(made)
            batch = made.query_batch_points

            async def spy_batch(*args: Any, **kwargs: Any) -> Any:
                responses = await batch(*args, **kwargs)
                answered.append(sum(len(r.points) for r in responses))
                return responses

            made.query_batch_points = spy_batch
        return made

    monkeypatch.setattr(embeddings, "aembed_query", spy_embed)  # QueryEncoder.run_async imports it when it runs
    monkeypatch.setattr(HybridQdrantRetriever, "_client", spy_client)
    query._retrievers.clear()  # a fresh process: no retriever yet

    async def warm_then_search() -> tuple[float, list[Any], Any]:
        took = await search_warmup.search_warm_up()
        made_by_warm_up = list(clients)
        page = await search_run(user=reader, text="Επιτροπή Ελέγχου")
        return took, made_by_warm_up, page

    took, made_by_warm_up, page = asyncio.run(warm_then_search())
    assert took > 0
    assert encoded[0].endswith(search_warmup.WARM_UP_QUERY)  # (the model's query prefix before it)
    assert "Επιτροπή" in encoded[0] and "audit" in encoded[0]
    assert answered[0] == 0  # the store was asked through the search retriever and matched nothing
    assert len(made_by_warm_up) == 1 and len(query._retrievers) == 1  # the service's retriever, this loop's client
    assert clients == made_by_warm_up  # the search after it made no client: it used the warm one
    assert answered[1] > 0 and page.count > 0  # while the same store holds matching passages for a real search
    assert encoded[1].endswith("Επιτροπή Ελέγχου")


def test_the_english_query_words_are_highlighted_by_the_warm_up_text():
    """The warm-up's text holds the warm-up query's words in both languages, so the highlighter really runs."""
    from search.services.highlight import highlight_spans, query_terms

    spans = highlight_spans(search_warmup.WARM_UP_TEXT, query_terms(search_warmup.WARM_UP_QUERY))
    marked = " ".join(search_warmup.WARM_UP_TEXT[a:b].lower() for a, b in spans).split()
    assert {"επιτροπή", "ελέγχου", "audit", "committee"} <= set(marked)


@pytest.mark.django_db(transaction=False)
def test_daphne_warm_up_runs_search_after_answering_even_when_answering_fails(monkeypatch, tmp_path, settings):
    calls: list[str] = []
    marker = tmp_path / "warm"

    async def failing_answering() -> None:
        calls.append("answering")
        raise RuntimeError("the LLM is down")

    async def search() -> float:
        assert not marker.exists()  # readiness waits for the search path too
        calls.append("search")
        return 1.0

    def freeze() -> int:
        assert not marker.exists()  # frozen before the process says it is ready
        calls.append("freeze")  # (not the test process's objects: tests/chat/test_warmup_gc.py freezes a real one)
        return 0

    settings.ANSWER_WARM_UP = True
    monkeypatch.setenv("DOCINTEL_WARM_FILE", str(marker))
    monkeypatch.setattr(answering_warmup, "_started", False)
    monkeypatch.setattr(answering_warmup, "answering_warm_up", failing_answering)
    monkeypatch.setattr(answering_warmup, "startup_objects_freeze", freeze)
    monkeypatch.setattr(search_warmup, "search_warm_up", search)

    async def start_and_wait() -> None:
        answering_warmup.answering_warm_up_soon()
        answering_warmup.answering_warm_up_soon()  # once per process
        await asyncio.gather(*answering_warmup._tasks)

    asyncio.run(start_and_wait())
    assert calls == ["answering", "search", "freeze"]
    assert marker.exists()
