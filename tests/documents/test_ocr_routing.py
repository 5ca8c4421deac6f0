"""OCR engine routing and fail-fast checks: Tesseract here, Surya/EasyOCR only on their own ``ocr`` queue."""

from __future__ import annotations

import io
import sys

import pytest

from documents.services import ingest
from documents.services.lifecycle import document_upload
from documents.services.ocr import OcrEngineUnavailable, ocr_engine_check, ocr_route
from tests.documents.hostile import greek_scan_pdf


def test_tesseract_with_greek_and_english_is_available():
    ocr_engine_check("tesseract")


def test_missing_tesseract_language_model_fails_fast():
    with pytest.raises(OcrEngineUnavailable) as err:
        ocr_engine_check("tesseract", languages=["ell", "xyz"])
    assert err.value.code == "ocr_models_missing" and "xyz" in err.value.message


@pytest.mark.parametrize("engine", ["surya", "easyocr"])
def test_extra_engines_are_not_installed_in_the_main_env(engine):
    with pytest.raises(OcrEngineUnavailable) as err:
        ocr_engine_check(engine)
    assert err.value.code == "ocr_engine_unavailable" and "ocr-extra" in err.value.message
    assert engine not in sys.modules


def test_without_an_ocr_worker_the_route_is_tesseract_on_the_default_queue(settings):
    settings.DOCINTEL_OCR_ENGINE = "surya"
    assert ocr_route() == (settings.CELERY_TASK_DEFAULT_QUEUE, "tesseract")
    settings.DOCINTEL_OCR_ENGINE = "tesseract"
    assert ocr_route() == (settings.CELERY_TASK_DEFAULT_QUEUE, "tesseract")


@pytest.mark.django_db
def test_ocr_step_checks_the_engine_before_any_work(librarian, settings):
    data = greek_scan_pdf()
    doc = document_upload(fileobj=io.BytesIO(data), filename="scan.pdf", size=len(data), uploaded_by=librarian)
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.OCR
    settings.DOCINTEL_OCR_LANGUAGES = ["ell", "missing"]
    with pytest.raises(OcrEngineUnavailable) as err:
        ingest.document_ocr(document_id=doc.pk)
    assert err.value.code == "ocr_models_missing"
    assert not doc.chunks.exists()
    with pytest.raises(OcrEngineUnavailable):
        ingest.document_ocr(document_id=doc.pk, engine="surya")
    assert "surya" not in sys.modules
