"""What may leave in an answer: exfiltration markup stripped, secrets redacted, leaks detected, stream hold-back.

How much of a streamed answer is safe to send before the rest arrives: hold back what may still become a match.

This is plain-text work, and stays hand-written on purpose: the answer leaves the server as text (WebSocket, SSE,
JSON) for clients that render it themselves, so the images, links, tags and bare URLs that could carry data away are
taken out of the *text*, token by token, with :func:`stream_safe_length` holding back a half-written ``[..](..``.
An HTML sanitiser cannot do that: it cleans finished HTML, not a growing markdown stream. Turning text into HTML for
a page is :func:`guards.render.markdown_html` (markdown-it-py and nh3).
"""

from __future__ import annotations

import math
import re

# Output sanitising: markdown images (auto-fetched by renderers: the classic exfiltration channel), links whose
# target is an absolute URL or a script, raw HTML tags, and bare URLs.
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*([^)\s]*)[^)\n]*\)")
_MD_REF_DEF = re.compile(r"^\s*\[[^\]\n]+\]:\s*\S+.*$", re.MULTILINE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>\n]*>")
_BARE_URL = re.compile(r"\b(?:https?|ftp|javascript|data):[^\s)\]>\"']+", re.IGNORECASE)

# Secrets, redacted in the streamed view and the final answer alike (LLM Guard's Secrets scanner runs on the final
# answer too): the well-known credential formats (a subset of detect-secrets' plugins), the value of an assignment
# to a secret-looking name, private key blocks, and long high-entropy runs. Replaced as LLM Guard does.
REDACTED = "******"
_SECRET_PREFIXES = (
    "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "A3T", "ghp_", "gho_", "ghu_",
    "ghs_", "ghr_", "github_pat_", "xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "sk-", "sk_live_",
    "rk_live_", "AIza", "eyJ", "-----BEGIN",
)  # fmt: skip
_SECRET = re.compile(
    r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b"
    r"|\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
    r"|\b[rs]k_live_[0-9a-zA-Z]{20,}|\bsk-[A-Za-z0-9_-]{20,}"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY-----|\Z)"
)
_CREDENTIAL_LABEL = (
    r"(?<![a-z])(?:aws_)?(?:secret(?:[_-]access)?(?:[_-]?key)?|password|passwd|api[_-]?key|access[_-]?key"
    r"|(?:access|auth|api)?[_-]?token)[\"']?\s*[:=]\s*[\"']?"
)
_SECRET_ASSIGNMENT = re.compile(rf"(?i)({_CREDENTIAL_LABEL})([^\s\"',;]{{8,}})")
_SECRET_ASSIGNMENT_OPEN = re.compile(rf"(?i){_CREDENTIAL_LABEL}[^\s\"',;]*\Z")
_RUN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
_TRAILING_RUN = re.compile(r"[\w+/=.-]+\Z")


def sanitize_output(text: str, *, allowed_urls: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """Strip what could exfiltrate data or inject markup when an answer is rendered.

    Markdown images go entirely; markdown links keep their text; raw HTML tags go; bare URLs stay only when they
    appear verbatim in ``allowed_urls`` (the retrieved passages).

    Returns:
        The sanitised text and the names of the rules that changed it.
    """
    changes: list[str] = []

    def note(name: str, new: str, old: str) -> str:
        if new != old:
            changes.append(name)
        return new

    text = note("markdown_image", _MD_IMAGE.sub("", text), text)
    text = note("markdown_link", _MD_LINK.sub(lambda m: m.group(1), text), text)
    text = note("markdown_reference", _MD_REF_DEF.sub("", text), text)
    text = note("html_tag", _HTML_TAG.sub("", text), text)
    text = note("url", _BARE_URL.sub(lambda m: m.group(0) if m.group(0) in allowed_urls else "", text), text)
    text = note("secret", secrets_redact(text), text)
    return text, changes


def _high_entropy(run: str) -> bool:
    """A run of 32+ base64 characters with upper, lower and digits at over 4.2 bits per character."""
    if not (any(c.isdigit() for c in run) and any(c.isupper() for c in run) and any(c.islower() for c in run)):
        return False
    counts = {c: run.count(c) for c in set(run)}
    entropy = -sum(n / len(run) * math.log2(n / len(run)) for n in counts.values())
    return entropy > 4.2


def secrets_redact(text: str) -> str:
    """Replace credentials in ``text`` by ``******`` (see ``_SECRET``); the rest of the text is left as it is."""
    text = _SECRET.sub(REDACTED, text)
    text = _SECRET_ASSIGNMENT.sub(lambda m: m.group(1) + REDACTED, text)
    return _RUN.sub(lambda m: REDACTED if _high_entropy(m.group(0)) else m.group(0), text)


def secret_safe_length(text: str) -> int:
    """How much of a partial answer can be shown without a secret still being written.

    The end of the text, less an unfinished private key block, an assignment to a secret-looking name whose value may
    still grow, or a trailing run that could still become a credential (a known prefix, or 16+ characters that could
    grow into a high-entropy run).
    """
    cut = len(text)
    assignment = _SECRET_ASSIGNMENT_OPEN.search(text)
    if assignment is not None:
        cut = assignment.start()
    block = text.rfind("-----BEGIN")
    if block != -1 and not re.search(r"-----END[A-Z ]*PRIVATE KEY-----", text[block:]):
        cut = block
    trailing = _TRAILING_RUN.search(text)
    if trailing is not None:
        run = trailing.group(0)
        # a secret may follow an assignment ("token=") or start inside the run after punctuation ("(AKIA")
        for start in (0, *(i + 1 for i, c in enumerate(run) if c in "=./+-")):
            part = run[start:]
            if not part:
                continue
            if len(part) >= 16 or any(p.startswith(part[: len(p)]) or part.startswith(p) for p in _SECRET_PREFIXES):
                cut = min(cut, trailing.start() + start)
                break
    return cut


def stream_safe_length(text: str) -> int:
    """How much of a partial answer can be shown now: up to unfinished markup or a run that may become a secret.

    Unfinished markup is a ``[...](...)``, ``<...>`` or ``!``; secrets are :func:`secret_safe_length`'s. The
    streamed tokens never show an image, link, tag or secret that :func:`sanitize_output` would remove later.
    """
    cut = len(text)
    for opener in ("![", "[", "<", "!"):
        pos = text.rfind(opener)
        if pos == -1:
            continue
        tail = text[pos:]
        if opener == "!" and len(tail) > 1 and tail[1] != "[":
            continue
        if opener == "<" and ">" in tail:
            continue
        if opener in ("[", "![") and re.match(r"!?\[[^\]\n]*\][^(]", tail):
            continue
        if opener in ("[", "![") and re.match(r"!?\[[^\]\n]*\]\([^)\n]*\)", tail):
            continue
        cut = min(cut, pos)
    for scheme in ("http", "javascript:", "data:"):
        pos = text.rfind(scheme)
        if pos != -1 and not re.search(r"\s", text[pos:]):
            cut = min(cut, pos)
    return min(cut, secret_safe_length(text))


def leak_reasons(text: str, *, canary: str, system_prompt: str) -> list[str]:
    """System-prompt leak detection: the per-answer canary, or eight consecutive words of the system prompt."""
    reasons = []
    lowered = text.lower()
    # a canary cut short by max_tokens still leaks: its first 12 characters are distinctive enough
    if canary and (canary.lower() in lowered or canary.lower()[:12] in lowered):
        reasons.append("rule:canary_leak")
    words = re.findall(r"\w+", system_prompt.lower())
    answer = " ".join(re.findall(r"\w+", text.lower()))
    span = 8
    for i in range(max(0, len(words) - span + 1)):
        if " ".join(words[i : i + span]) in answer:
            reasons.append("rule:system_prompt_leak")
            break
    return reasons
