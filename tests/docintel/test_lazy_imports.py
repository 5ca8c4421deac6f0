"""The web process starts fast: importing the ASGI app (and the answering service) loads no heavy RAG library."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

HEAVY = ("haystack", "qdrant_client", "nemoguardrails", "llm_guard", "openai", "tiktoken", "docling", "torch")


def test_importing_asgi_and_answering_loads_no_heavy_library():
    code = (
        "import sys, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'docintel.settings');"
        "import docintel.asgi, chat.services.answering, guards, chat.services.retrieval, chat.events;"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
