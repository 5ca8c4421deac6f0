"""Greek-aware normalisation and the sparse keyword encoding shared by ingestion and answering."""

from __future__ import annotations

from documents.services.textnorm import normalize_for_search, search_tokens, sparse_encode, token_index


def test_accents_case_and_final_sigma_fold_together():
    assert normalize_for_search("Ακρόπολης") == normalize_for_search("ΑΚΡΟΠΟΛΗΣ") == "ακροπολησ"
    assert normalize_for_search("ΐ ϋ Ώ") == "ι υ ω"


def test_lookalikes_and_latin_letters_inside_greek_words():
    assert normalize_for_search("\u2206ΗΜΟΣ") == "δημοσ"
    # Latin A, H and O typed inside a Greek word become Greek letters; a Latin word stays Latin
    assert normalize_for_search("AΘHNA") == normalize_for_search("ΑΘΗΝΑ") == "αθηνα"
    assert normalize_for_search("ATHENS Ok") == "athens ok"
    assert normalize_for_search("5 µm") == "5 μm"  # micro sign -> Greek mu (NFKC + look-alike map)


def test_sparse_encode_is_stable_sorted_and_weights_repeats():
    indices, values = sparse_encode("Ο Παρθενώνας, ο ΠΑΡΘΕΝΩΝΑΣ και η Ακρόπολη")
    assert indices == sorted(indices) and len(indices) == len(set(indices))
    by_index = dict(zip(indices, values, strict=True))
    assert by_index[token_index("παρθενωνασ")] > by_index[token_index("ακροπολη")] == 1.0
    assert sparse_encode("παρθενώνας") == sparse_encode("ΠΑΡΘΕΝΏΝΑΣ")
    assert all(0 <= i < 2**31 for i in indices)


def test_tokens_drop_overlong_runs_and_empty_text():
    assert search_tokens("") == []
    assert sparse_encode("   ") == ([], [])
    assert search_tokens("a" * 200 + " λέξη") == ["λεξη"]
