"""Print the environment of the embedded mode (``make run``) as KEY=VALUE lines.

Only names not already set are printed. The local PostgreSQL and Redis are used when they answer on 127.0.0.1
(a ``docintel`` database is created when missing); otherwise SQLite and a file-system broker need no server at all.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _postgres_url() -> str | None:
    if not _port_open(5432):
        return None
    base = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc"]
    try:
        found = subprocess.run(  # noqa: S603 - fixed arguments, local server
            [*base, "SELECT 1 FROM pg_database WHERE datname='docintel'"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        if found != "1":
            subprocess.run([*base, "CREATE DATABASE docintel"], capture_output=True, timeout=20, check=True)  # noqa: S603 - fixed arguments
    except (OSError, subprocess.SubprocessError):
        return None
    return "postgres://postgres@127.0.0.1:5432/docintel"


def _vectorstore_key() -> str:
    """The embedded vector store's API key (``var/qdrant-api-key``, 0600), made once; the same one runportal uses."""
    path = Path("var") / "qdrant-api-key"
    if path.exists() and (key := path.read_text().strip()):
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def main() -> int:
    """Work out the embedded defaults and print those the environment does not set yet (for ``make run``).

    Returns:
        0 (the exit status).
    """
    values: dict[str, str] = {"DEBUG": "true", "LOG_JSON": "false"}
    if "DATABASE_URL" not in os.environ:
        values["DATABASE_URL"] = _postgres_url() or "sqlite:///var/db.sqlite3"
    if "REDIS_URL" not in os.environ and _port_open(6379):
        values["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    if "QDRANT_API_KEY" not in os.environ and "QDRANT_URL" not in os.environ:
        values["QDRANT_API_KEY"] = _vectorstore_key()
    for key, value in values.items():
        if key not in os.environ:
            sys.stdout.write(f"{key}={value}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
