"""``make bench``: run every benchmark module in turn (each prints its own numbers). Add yours to MODULES."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULES = [
    "benchmarks.answering",
    "benchmarks.embeddings",
    "benchmarks.answer_quality",
    "benchmarks.channels",
    "benchmarks.ingestion",
    "benchmarks.search",
    "benchmarks.injection_rules",
    "benchmarks.vectorstore",
]


def main() -> int:
    """Run each module of ``MODULES`` as ``python -m MODULE`` in its own process, one after the other.

    A module's own numbers go straight to stdout; a module that exits non-zero is named at the end.

    Returns:
        0 when every benchmark exited cleanly, 1 when at least one failed (the exit status of ``make bench``).
    """
    failed = []
    for module in MODULES:
        print(f"== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], cwd=REPO, check=False).returncode != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
