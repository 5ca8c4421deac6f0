"""Guards of the question's path and of ingestion, cheapest layer first.

1. ``guards.rules``: DocIntel's deterministic prompt-injection rules (English and Greek, matched on accent- and
   case-folded text); ingestion quarantines a chunk they match.
2. ``guards.sanitize``: output sanitising (markdown images, links and raw HTML that could exfiltrate data are
   stripped), secret redaction, canary and system-prompt leak detection, stream hold-back.
   ``guards.render``: markdown from a model or a document to safe HTML (markdown-it-py, then nh3's allow-list).
3. ``guards.scanners``: LLM Guard scanners, model-free ones always, model-based ones when their folders exist.
4. ``guards.rails``: NeMo Guardrails self-check rails against the configured LLM when enabled.
5. ``guards.stages``: the input guard (question) and output guard (answer) that combine them.

Heavy libraries load lazily, once per process (:func:`guards_warm_up`). Not a Django app: no models, no settings
of its own; ``documents`` and ``chat`` both use it, neither owns it.
"""

from guards.rails import NEMO_INTERNAL_ERROR, nemo_check, nemo_rails_enabled, nemo_verdict
from guards.rules import injection_markers, injection_rule_fired, text_injection_suspected
from guards.sanitize import (
    REDACTED,
    leak_reasons,
    sanitize_output,
    secret_safe_length,
    secrets_redact,
    stream_safe_length,
)
from guards.scanners import OFFLINE_ENCODING, guards_warm_up
from guards.stages import GuardVerdict, input_guard, output_guard

__all__ = [
    "NEMO_INTERNAL_ERROR",
    "OFFLINE_ENCODING",
    "REDACTED",
    "GuardVerdict",
    "guards_warm_up",
    "injection_markers",
    "injection_rule_fired",
    "input_guard",
    "leak_reasons",
    "nemo_check",
    "nemo_rails_enabled",
    "nemo_verdict",
    "output_guard",
    "sanitize_output",
    "secret_safe_length",
    "secrets_redact",
    "stream_safe_length",
    "text_injection_suspected",
]
