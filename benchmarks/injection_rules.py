"""Injection rules (ingestion's quarantine flag): detection rate per attack set, false-positive rate per clean set.

Run: ``python -m benchmarks.injection_rules [--json FILE]``. No server, no model: the deterministic rules only
(the LLM Guard classifier adds its verdict when its model folder is configured; this measures the rules alone).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    """Set Django up, run the rules over every attack and clean set, print a row per set and the throughput.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when ``None``); ``--json FILE`` also writes the figures.

    Returns:
        0.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docintel.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from evaluation.services.injection_rules import injection_rates

    started = time.perf_counter()
    rates = injection_rates()
    elapsed = time.perf_counter() - started
    print(f"{'set':<24} {'kind':<8} {'texts':>6} {'flagged':>8} {'rate':>7}")
    for kind, sets in rates.items():
        for name, result in sets.items():
            print(f"{name:<24} {kind:<8} {result.total:>6} {result.flagged:>8} {result.rate:>7.1%}")
    total = sum(r.total for sets in rates.values() for r in sets.values())
    print(f"{total} texts in {elapsed:.1f} s ({total / elapsed:.0f} texts/s)")
    if args.json:
        args.json.write_text(
            json.dumps({k: {n: r.as_dict() for n, r in v.items()} for k, v in rates.items()}, indent=2),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
