"""``DenseVector``: the question's vector passes through a Haystack pipeline without being copied, unchanged."""

from __future__ import annotations

import copy

from haystack.core.pipeline.utils import _deepcopy_with_exceptions

from chat.components.retrieval import QueryEncoder
from chat.components.vector import DenseVector


def test_haystack_hands_it_on_as_it_is_and_a_list_would_be_copied():
    values = [0.5, -0.25, 0.125] * 128
    vector = DenseVector(values)
    assert _deepcopy_with_exceptions(vector) is vector  # what Haystack does to every input and yielded output
    assert copy.deepcopy({"dense": vector})["dense"] is vector
    assert _deepcopy_with_exceptions(values) is not values  # the list it replaced: copied float by float


def test_it_reads_as_the_floats_it_was_made_of_and_cannot_change():
    values = [0.5, -0.25, 0.125]
    vector = DenseVector(values)
    values[0] = 9.0  # the caller's list changing later does not reach the vector
    assert vector == [0.5, -0.25, 0.125] and vector == DenseVector((0.5, -0.25, 0.125))
    assert list(vector) == vector.as_list() == [0.5, -0.25, 0.125] and len(vector) == 3 and vector[1] == -0.25
    assert vector.as_list() is not vector.as_list()
    assert repr(vector) == "DenseVector(dim=3)"


def test_the_encoder_outputs_one(monkeypatch):
    from documents.services import embeddings

    monkeypatch.setattr(embeddings, "embed_query", lambda text: [0.1, 0.2, 0.3])
    for text in ("How high is the Kestrel dam?", "Πόσο ψηλό είναι το φράγμα Κέστρελ;"):
        out = QueryEncoder().run(text=text)
        assert isinstance(out["dense"], DenseVector) and out["dense"] == [0.1, 0.2, 0.3]
        assert out["sparse_indices"]


def test_a_ranking_is_handed_on_as_it_is_and_its_points_cannot_change():
    import dataclasses

    import pytest

    from chat.components.vector import RankedPoint, Ranking

    points = [RankedPoint(f"p{i}", 1.0 - i / 10, i + 1, (3,)) for i in range(30)]
    ranking = Ranking(points)
    assert _deepcopy_with_exceptions(ranking) is ranking and copy.deepcopy({"r": ranking})["r"] is ranking
    points.append(RankedPoint("late", 0.0, 99, ()))  # the caller's list changing later does not reach it
    assert len(ranking) == 30 and ranking[0].chunk_id == 1 and [p.id for p in ranking][:2] == ["p0", "p1"]
    assert ranking == points[:30] and ranking == Ranking(points[:30]) and Ranking() == [] and not Ranking()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(ranking[0], "score", 2.0)  # noqa: B010 - frozen: the point the test makes
    assert repr(ranking) == "Ranking(30 points)"


def test_the_pipeline_hands_the_retrievers_rankings_on_without_copying_them(monkeypatch):
    """The retriever's legs come out of a real Haystack pipeline as the very objects the component returned."""
    import asyncio

    from haystack import Pipeline, component

    from chat.components.vector import RankedPoint, Ranking

    made: list[Ranking] = []

    @component
    class Legs:
        @component.output_types(dense=Ranking, keyword=Ranking)
        def run(self, text: str) -> dict[str, Ranking]:
            dense = Ranking([RankedPoint("a", 0.9, 1, (1,))])
            keyword = Ranking([RankedPoint("b", 3.0, 2, (1,))])
            made.extend([dense, keyword])
            return {"dense": dense, "keyword": keyword}

    pipeline = Pipeline()
    pipeline.add_component("legs", Legs())
    for text in ("How high is the Kestrel dam?", "Πόσο ψηλό είναι το φράγμα Κέστρελ;"):
        out = asyncio.run(pipeline.run_async({"legs": {"text": text}}))["legs"]
        assert out["dense"] is made[-2] and out["keyword"] is made[-1]
