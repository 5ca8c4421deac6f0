"""Regenerate the requirement locks (`make lock`): ``uv pip compile --generate-hashes``, then local index files' hashes.

The top-level files in ``requirements/`` keep the intent (pinned top-level packages); each ``.lock`` beside them holds
the exact set with a sha256 for every distribution file of each pinned version, installed with
``pip install --require-hashes``. Existing locks are uv's preferences, so a package keeps its locked version until a
top-level pin moves it (or ``make lock LOCK_ARGS=--upgrade-package=NAME``); ``dev.lock`` is constrained to
``base.lock``, so the two never disagree. Extras stay on the pins (``twisted[tls]==...``): pip 23's hash-checking
mode refuses a dependency with extras (daphne's ``twisted[tls]>=22.4``) whose pin in the lock has lost them.

The package index comes first (``--index`` in pip's order: the index, then the extra ones): uv takes a version's files
from the first index that has the version at all, and a local index holding only another Python's wheel of it would
otherwise hide the index's files (the version then looks incompatible and the existing lock's pin is dropped).
uv also takes a version's hashes from that one index only. pip, at install time, looks at every source of the
machine's pip configuration (find-links directories, ``file://`` indexes beside the package index), and a local copy
of a wheel can differ from the index's file of the same name. So the hash of every local file of a locked version is
added too.
"""

from __future__ import annotations

import hashlib
import html.parser
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements"


@dataclass(frozen=True)
class Lock:
    """One environment's lock.

    Attributes:
        source: The top-level requirements file (the intent).
        args: Extra ``uv pip compile`` arguments (``--no-deps`` for files installed on top of another environment).
    """

    source: str
    args: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """The lock file's name, ``<source stem>.lock``."""
        return self.source.removesuffix(".txt") + ".lock"


# Order matters: dev.lock is constrained to base.lock.
LOCKS = (
    Lock("pip.txt"),
    Lock("base.txt"),
    Lock("dev.txt", ("--constraint", "requirements/base.lock")),
    Lock("models.txt", ("--no-deps",)),
    Lock("ocr-easyocr.txt", ("--no-deps",)),
    Lock("eval.txt"),
    Lock("lock-tools.txt"),
)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
PYPI = "https://pypi.org/simple"
HASH = re.compile(r"^\s+--hash=sha256:([0-9a-f]{64})")


def canonical(name: str) -> str:
    """Returns a project name normalised as PEP 503 says."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_sources() -> tuple[list[str], list[str], list[str]]:
    """Returns the index URL (if set), extra index URLs and find-links locations of the machine's pip configuration.

    Reads ``pip config list`` (every configuration file) and then the ``PIP_*`` environment variables, which win.
    """
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    values: dict[str, list[str]] = {}
    for line in listed.splitlines():
        key, _, raw = line.partition("=")
        option = key.rpartition(".")[2]
        if option in {"index-url", "extra-index-url", "find-links"}:
            values[option] = shlex.split(raw.strip("'\""))
    for option in ("index-url", "extra-index-url", "find-links"):
        env = os.environ.get("PIP_" + option.upper().replace("-", "_"))
        if env:
            values[option] = env.split()
    return values.get("index-url", []), values.get("extra-index-url", []), values.get("find-links", [])


class _Links(html.parser.HTMLParser):
    """The ``href`` targets of a PEP 503 project page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def local_files(index_urls: list[str], find_links: list[str], project: str) -> list[Path]:
    """Returns the files of one project in the local sources: find-links directories and ``file://`` indexes.

    Args:
        index_urls: The index URLs; only ``file://`` ones are read (the project's page, or its directory).
        find_links: The find-links locations; every file of a directory is a candidate.
        project: The canonical project name.

    Returns:
        The existing files found (all of a find-links directory: the caller matches names and versions).
    """
    files: list[Path] = []
    for location in find_links:
        directory = Path(unquote(urlsplit(location).path)) if location.startswith("file:") else Path(location)
        if directory.is_dir():
            files.extend(path for path in directory.iterdir() if path.is_file())
    for url in index_urls:
        if not url.startswith("file:"):
            continue
        page = Path(unquote(urlsplit(url).path)) / project
        if (page / "index.html").is_file():
            parser = _Links()
            parser.feed((page / "index.html").read_text(encoding="utf-8"))
            files.extend((page / unquote(href.partition("#")[0])).resolve() for href in parser.hrefs)
        elif page.is_dir():
            files.extend(path for path in page.iterdir() if path.is_file())
    return [path for path in files if path.is_file()]


def file_project_version(path: Path) -> tuple[str, str] | None:
    """Returns (canonical name, version) of a wheel or sdist file name, None for anything else."""
    name = path.name
    if name.endswith(".whl"):
        parts = name.removesuffix(".whl").split("-")
        return (canonical(parts[0]), parts[1]) if len(parts) in {5, 6} else None
    for suffix in (".tar.gz", ".zip"):
        if name.endswith(suffix):
            project, _, version = name.removesuffix(suffix).rpartition("-")
            return (canonical(project), version) if project else None
    return None


def sha256(path: Path) -> str:
    """Returns the hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def add_local_hashes(lock: Path, index_urls: list[str], find_links: list[str]) -> int:
    """Adds the hashes of local files of each pinned version to ``lock``; returns how many were added.

    Args:
        lock: The lock file, rewritten in place with sorted hashes.
        index_urls: The index URLs (local ``file://`` ones are searched).
        find_links: The find-links locations.

    Returns:
        How many hashes were added.

    Raises:
        SystemExit: a pinned requirement is left without any hash.
    """
    lines = lock.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    added = 0
    i = 0
    while i < len(lines):
        match = PIN.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        project, version = canonical(match.group(1)), match.group(2)
        requirement = lines[i].removesuffix("\\").rstrip()
        hashes: list[str] = []
        i += 1
        while i < len(lines) and (found := HASH.match(lines[i])):
            hashes.append(found.group(1))
            i += 1
        for path in local_files(index_urls, find_links, project):
            if file_project_version(path) == (project, version) and (digest := sha256(path)) not in hashes:
                hashes.append(digest)
                added += 1
        if not hashes:
            raise SystemExit(f"{lock.name}: {project}=={version} has no hash")
        out.append(requirement + " \\")
        ordered = sorted(set(hashes))
        last = len(ordered) - 1
        out.extend(f"    --hash=sha256:{digest}" + (" \\" if n < last else "") for n, digest in enumerate(ordered))
    lock.write_text("\n".join(out) + "\n", encoding="utf-8")
    return added


def main(extra: list[str]) -> None:
    """Compiles every lock in ``LOCKS`` order, then adds local hashes.

    Args:
        extra: Arguments passed to every ``uv pip compile`` (e.g. ``--upgrade-package=NAME``).

    Raises:
        SystemExit: not run by Python 3.12, or a lock is left with a requirement without a hash.
        CalledProcessError: ``uv pip compile`` failed.
    """
    if sys.version_info[:2] != (3, 12):
        raise SystemExit("the locks are for Python 3.12: run `make lock`")
    index_url, extra_index_urls, find_links = pip_sources()
    indexes = [*(index_url or [PYPI]), *extra_index_urls]
    sources: list[str] = []
    for url in indexes:
        sources += ["--index", url]
    for location in find_links:
        sources += ["--find-links", location]
    env = {**os.environ, "UV_CUSTOM_COMPILE_COMMAND": "make lock"}
    for lock in LOCKS:
        target = REQUIREMENTS / lock.target
        command = [
            *(sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--generate-hashes"),
            *("--python", sys.executable, "--index-strategy", "unsafe-best-match", "--no-strip-extras"),
            *sources,
            *lock.args,
            *extra,
            f"requirements/{lock.source}",
            *("--output-file", f"requirements/{lock.target}"),
        ]
        subprocess.run(command, cwd=REQUIREMENTS.parent, env=env, check=True)  # noqa: S603 - our own arguments
        added = add_local_hashes(target, indexes, find_links)
        pins = sum(1 for line in target.read_text(encoding="utf-8").splitlines() if PIN.match(line))
        sys.stdout.write(f"requirements/{lock.target}: {pins} packages, {added} hashes of local files added\n")


if __name__ == "__main__":
    main(sys.argv[1:])
