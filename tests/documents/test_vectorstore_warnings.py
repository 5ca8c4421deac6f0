"""qdrant-client's insecure-connection warning: silenced for a store on this machine, kept for one elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from documents.services.vectorstore import INSECURE_KEY_WARNING, loopback_key_warning_silence

REPO = Path(__file__).resolve().parents[2]
# A Django process that makes the app's store client with a key, as Daphne and the worker do; no request is sent.
MAKE_CLIENT = (
    "import django; django.setup(); from documents.services.vectorstore import qdrant_client; qdrant_client(); "
    "print('client made')"
)


@pytest.mark.parametrize(
    ("url", "silenced"),
    [
        ("http://127.0.0.1:6333", True),
        ("http://localhost:6333", True),
        ("http://[::1]:6333", True),
        ("http://qdrant.internal:6333", False),
        ("http://10.0.0.7:6333", False),
        ("https://qdrant.internal:6333", False),
    ],
)
def test_only_a_loopback_http_store_silences_the_warning(url, silenced):
    from qdrant_client import QdrantClient

    with warnings.catch_warnings(record=True) as caught:  # the filters come back as they were afterwards
        warnings.simplefilter("always")
        assert loopback_key_warning_silence(url) is silenced
        QdrantClient(url=url, api_key="k", check_compatibility=False)
    insecure = [w for w in caught if INSECURE_KEY_WARNING in str(w.message)]
    assert len(insecure) == (0 if silenced or url.startswith("https") else 1)


@pytest.mark.parametrize(("url", "warned"), [("http://127.0.0.1:6399", False), ("http://qdrant.internal:6333", True)])
def test_a_django_process_logs_the_warning_only_for_a_store_elsewhere(url, warned):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "docintel.settings",
        "DEBUG": "true",
        "DOCINTEL_READ_DOT_ENV": "0",
        "QDRANT_URL": url,
        "QDRANT_API_KEY": "a-key",
        "PYTHONWARNINGS": "default",
    }
    done = subprocess.run(
        [sys.executable, "-c", MAKE_CLIENT], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and "client made" in done.stdout, done.stderr[-2000:]
    output = done.stdout + done.stderr
    assert (INSECURE_KEY_WARNING in output) is warned, output[-2000:]
