"""Questions of an exact length in characters, English and Greek, for the tests of the shared question limit."""

from __future__ import annotations

import math

PHRASES = {"en": "How many days of paid leave do I get? ", "el": "Πόσες ημέρες άδειας μετ' αποδοχών δικαιούμαι; "}


def question_of(lang: str, length: int) -> str:
    """A question of exactly ``length`` characters (no white space at either end, so trimming keeps them all)."""
    phrase = PHRASES[lang]
    text = (phrase * math.ceil(length / len(phrase)))[: length - 1] + ";?"[lang == "en"]
    assert len(text) == length and text == text.strip()
    return text
