"""Loading qdrant-client's REST models fast in the store's own process (they validate its request bodies)."""

from __future__ import annotations

from pathlib import Path


def rest_models_warm_up() -> None:
    """Import qdrant-client's models after the port is open: the first requests that need them wait less."""
    from qdrant_client.http import models  # noqa: F401 - imported for its side effect: the models load now


def light_rest_models() -> None:
    """Let ``qdrant_client.http.models`` load without the rest of qdrant-client (only in the store's own process).

    The store validates request bodies with qdrant-client's REST models, a module that needs only pydantic; importing
    it the usual way runs the package's ``__init__`` first (the clients, gRPC, fastembed's hooks, every model rebuilt
    ahead of use), about six times as long. Bare package modules over the installed folders let the import system
    find ``models`` (and the helper modules it imports) directly; pydantic completes each model on its first use.
    Nothing happens when qdrant-client is already imported.
    """
    import importlib.util
    import sys
    import types

    if "qdrant_client" in sys.modules:
        return
    spec = importlib.util.find_spec("qdrant_client")
    if spec is None or not spec.submodule_search_locations:
        return
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, folder in (("qdrant_client", root), ("qdrant_client.http", root / "http")):
        package = types.ModuleType(name, "qdrant-client's folder, without its __init__ (the store's process only)")
        package.__path__ = [str(folder)]
        sys.modules[name] = package
