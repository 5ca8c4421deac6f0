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
