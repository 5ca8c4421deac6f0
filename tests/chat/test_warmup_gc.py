"""A warmed web process keeps its start-up objects out of the garbage collector's full collections.

Run in a process of its own (as Daphne runs ``docintel.asgi``): freezing the test process's objects would keep
its garbage for the rest of the session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent

SCRIPT = r"""
import asyncio, gc, json, os, sys
import django
django.setup()
import docintel.asgi  # what Daphne imports: Django, Channels, the routes
from chat.services.answering import warmup
from search.services import warmup as search_warmup

async def nothing():
    return None

warmup.answering_warm_up = nothing  # the guards, the LLM: not what this test is about
search_warmup.search_warm_up = nothing
before = len(gc.get_objects())

async def main():
    warmup.answering_warm_up_soon()
    await asyncio.gather(*warmup._tasks)

asyncio.run(main())
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects()),
                  "marker": os.path.exists(os.environ["DOCINTEL_WARM_FILE"])}))
"""


def test_the_warm_up_freezes_what_the_process_holds_before_it_says_it_is_ready(tmp_path):
    marker = tmp_path / "warm"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "docintel.settings",
        "DOCINTEL_READ_DOT_ENV": "0",
        "ANSWER_WARM_UP": "true",
        "DOCINTEL_WARM_FILE": str(marker),
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["marker"]
    assert result["before"] > 50_000  # Django and the app: what a full collection walked every time
    assert result["frozen"] >= result["before"]  # all of it is in the permanent generation now
    assert result["tracked"] < result["before"] // 20  # a full collection walks only what came after
