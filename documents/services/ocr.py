"""Which OCR engine runs where: Tesseract in the main environment, Surya/EasyOCR on their own ``ocr`` queue.

Surya and EasyOCR are never imported by the main environment; a worker built from ``requirements/ocr-extra.txt``
consumes the ``ocr`` queue. Without such a worker, ``process_ocr`` runs on the default queue with Tesseract.
Engines are checked before any work (installed, models present) so a misconfiguration fails at once with a code.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import structlog
from django.conf import settings

from docintel.errors import DocumentRejected

log = structlog.get_logger(__name__)

TESSERACT = "tesseract"
EXTRA_ENGINES = {"surya": "surya", "easyocr": "easyocr"}
OCR_QUEUE = "ocr"


class OcrEngineUnavailable(DocumentRejected):
    """The configured OCR engine or its models are missing (terminal: retrying cannot install them)."""

    code = "ocr_engine_unavailable"


def ocr_engine_check(engine: str, *, languages: list[str] | None = None) -> None:
    """Fail fast when ``engine`` cannot run in this process.

    Raises:
        OcrEngineUnavailable: code ``ocr_engine_unavailable`` (engine not installed here) or ``ocr_models_missing``
            (a configured language/model file is absent).
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
    if importlib.util.find_spec(module) is None:
        raise OcrEngineUnavailable(
            f"The OCR engine {engine!r} is not installed in this environment; "
            "run its worker from requirements/ocr-extra.txt on the 'ocr' queue."
        )
    models_dir = settings.DOCINTEL_OCR_MODELS_PATH
    if not models_dir or not Path(models_dir).is_dir() or not any(Path(models_dir).iterdir()):
        raise OcrEngineUnavailable(
            f"The OCR engine {engine!r} has no models at {models_dir!r} (set OCR_MODELS_PATH).",
            code="ocr_models_missing",
        )


def ocr_queue_has_worker(*, timeout: float = 1.0) -> bool:
    """Whether a Celery worker consumes the ``ocr`` queue right now (broadcast ping of active queues)."""
    from docintel.celery import app  # noqa: PLC0415

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
