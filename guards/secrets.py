"""LLM Guard's Secrets scanner with detect-secrets configured once per process, not once per scan.

``llm_guard.input_scanners.Secrets.scan`` (0.3.16) enters ``detect_secrets.settings.transient_settings`` on every
call: that empties detect-secrets' caches, so each question re-imported and re-built its ~30 plugins (3.1 ms of the
input guard's 3.2 ms; the answer's output guard paid it again). This scanner keeps LLM Guard's configuration in force
between scans and reconfigures only when the process's detect-secrets settings are no longer it. Everything else is
LLM Guard's scan as it is: the same temporary file, the same collection, the same redaction and scores
(``tests/guards/test_secrets_scanner.py`` compares both on credentials, prompt-injection sets and Greek text).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from typing import Any

from llm_guard.input_scanners import Secrets as LLMGuardSecrets

_lock = threading.Lock()
_configured: dict[str, str | None] = {"config": None}  # the JSON of the settings this module put in force


def _settings_ensure(config: dict[str, Any]) -> None:
    """Put ``config`` in force for detect-secrets unless it already is (as ``transient_settings`` does, kept)."""
    from detect_secrets.settings import cache_bust, configure_settings_from_baseline, get_settings

    wanted = json.dumps(config, sort_keys=True)
    current = json.dumps(get_settings().json(), sort_keys=True)
    if _configured["config"] == wanted and current == _configured.get("current"):
        return
    cache_bust()
    configure_settings_from_baseline(config)
    _configured["config"] = wanted
    _configured["current"] = json.dumps(get_settings().json(), sort_keys=True)


class Secrets(LLMGuardSecrets):  # type: ignore[misc]  # llm_guard ships no type information
    """``llm_guard.input_scanners.Secrets`` without the per-call settings rebuild (same name: audit notes use it)."""

    def scan(self, prompt: str) -> tuple[str, bool, float]:
        """LLM Guard's ``Secrets.scan``, the detect-secrets settings kept between calls.

        Returns:
            ``(prompt with credentials redacted, valid, risk score)``, exactly as LLM Guard's scanner returns them.
        """
        from detect_secrets.core.secrets_collection import SecretsCollection
        from presidio_anonymizer.core.text_replace_builder import TextReplaceBuilder

        if prompt.strip() == "":
            return prompt, True, -1.0
        temp_file = tempfile.NamedTemporaryFile(delete=False)  # noqa: SIM115 - LLM Guard's way: detect-secrets scans files
        try:
            temp_file.write(prompt.encode("utf-8"))
            temp_file.close()
            secrets = SecretsCollection()
            with _lock:
                _settings_ensure(self._detect_secrets_config)
                secrets.scan_file(str(temp_file.name))
        finally:
            os.remove(temp_file.name)
        secret_types = []
        builder = TextReplaceBuilder(original_text=prompt)
        for file in secrets.files:
            for found in secrets[file]:
                if found.secret_value is None:
                    continue
                secret_types.append(found.type)
                start = prompt.find(found.secret_value, None, None)
                end = start + len(str(found.secret_value))
                value = builder.get_text_in_position(start, end)
                builder.replace_text_get_insertion_index(self.redact_value(value, self._redact_mode), start, end)
        if secret_types:
            return builder.output_text, False, 1.0
        return prompt, True, -1.0
