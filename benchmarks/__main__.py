"""``make bench``: run every benchmark module in turn (each prints its own numbers). Add yours to MODULES."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULES = [
    "benchmarks.answering",
    "benchmarks.answer_quality",
    "benchmarks.channels",
    "benchmarks.ingestion",
    "benchmarks.search",
    "benchmarks.injection_rules",
    "benchmarks.vectorstore",
]


def main() -> int:
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
