"""File inspection and Docling conversion: the limits checked before parsing and the conversion paths.

PDF paths (recorded on ``Document.parser``):
- ``docling-standard``: Docling's standard pipeline with the full layout/table models, when they are present under
  ``DOCINTEL_DOCLING_ARTIFACTS_PATH``.
- ``docling-heuristic-layout``: the same pipeline with DocIntel's model-free layout stage (a Docling layout plugin,
  :mod:`documents.components.heuristic_layout`): pages, boxes, headings from line height; OCR works through it.
- ``docling-native``: Docling's model-free ``NativePdfPipeline`` (pages and boxes, no headings), by setting.
Office, HTML, Markdown and CSV use Docling's simple pipelines (no models). ``+tesseract`` marks an OCR pass
(``+easyocr``, ``+surya`` in the OCR worker). Plain text (``docintel-text``, encoding detected) and e-mail bodies
(``docintel-email``) are built by :mod:`documents.services.formats`. Never a plain-text fallback for a PDF.
A PDF with junk before ``%PDF-`` (a byte-order mark) is converted from a copy that starts at the header.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from django.conf import settings

from docintel.errors import DocumentRejected
from documents.services.validation import (
    CSV,
    DOCX,
    EML,
    HTML,
    IMAGE_TYPES,
    MARKDOWN,
    PDF,
    PPTX,
    TEXT,
    XLSM,
    XLSX,
    pdf_header_offset,
)

if TYPE_CHECKING:
    from docling_core.types.doc.document import DoclingDocument

log = structlog.get_logger(__name__)

PARSER_STANDARD = "docling-standard"
PARSER_HEURISTIC = "docling-heuristic-layout"
PARSER_NATIVE = "docling-native"
PARSER_SIMPLE = "docling-simple"
PARSER_TEXT = "docintel-text"
PARSER_EMAIL = "docintel-email"
OCR_SUFFIX = "+tesseract"
MIN_TEXT_CHARS_PER_PAGE = 20


@dataclass(frozen=True)
class Inspection:
    """What a file holds before it is parsed."""

    page_count: int | None
    pages_without_text: list[int] = field(default_factory=list)  # pages showing only images: scans

    @property
    def needs_ocr(self) -> bool:
        """Whether some page shows only an image (a scan), so the OCR step converts the file instead."""
        return bool(self.pages_without_text)


@dataclass
class Conversion:
    """A converted document and how it was produced."""

    document: DoclingDocument
    parser: str
    page_count: int | None
    seconds: float
    ocr_confidence: dict[int, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # format details for ingest_info (encoding, e-mail headers)
    attachments: list[Any] = field(default_factory=list)  # e-mail attachments (formats.Member), become children

    def __deepcopy__(self, memo: dict[int, Any]) -> Conversion:
        """The conversion itself: Haystack deep-copies a component's inputs, and a conversion is handed on, not copied.

        Its Docling document can hold thousands of items, and the ingestion pipeline's cleaner changes it in place
        for the chunker (``documents.pipelines.conversion_pipeline``).
        """
        return self


def pdf_inspect(path: Path) -> Inspection:
    """Open a PDF with PDFium: refuse encrypted or broken files and too many pages; find pages without text.

    Raises:
        DocumentRejected: ``encrypted``, ``malformed_file`` or ``too_many_pages``.
    """
    import pypdfium2 as pdfium  # worker only

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DocumentRejected("The PDF is encrypted (password protected).", code="encrypted") from exc
        raise DocumentRejected(f"The PDF cannot be opened: {exc}", code="malformed_file") from exc
    try:
        if _pdf_is_encrypted(pdf):
            raise DocumentRejected("The PDF is encrypted; upload a decrypted copy.", code="encrypted")
        count = len(pdf)
        if count == 0:
            raise DocumentRejected("The PDF has no pages.", code="malformed_file")
        if count > settings.DOCINTEL_MAX_PAGES:
            raise DocumentRejected(
                f"The PDF has {count} pages; the limit is {settings.DOCINTEL_MAX_PAGES}.", code="too_many_pages"
            )
        empty: list[int] = []
        for index in range(count):
            page = pdf[index]
            textpage = page.get_textpage()
            try:
                if len(textpage.get_text_range().strip()) < MIN_TEXT_CHARS_PER_PAGE and _has_image(page):
                    empty.append(index + 1)
            finally:
                textpage.close()
                page.close()
        return Inspection(page_count=count, pages_without_text=empty)
    finally:
        pdf.close()


def _has_image(page: Any) -> bool:
    """A page without text needs OCR only if it shows an image (a scan); a blank page does not."""
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3))


def _pdf_is_encrypted(pdf: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    return int(pdfium_c.FPDF_GetSecurityHandlerRevision(pdf.raw)) != -1


def image_inspect(path: Path) -> Inspection:
    """Check an image against the pixel and frame limits before any decoder expands it.

    Raises:
        DocumentRejected: ``image_too_large``, ``too_many_pages`` or ``malformed_file``.
    """
    from PIL import Image, UnidentifiedImageError

    limit = settings.DOCINTEL_MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
            if width * height > limit:
                raise DocumentRejected(
                    f"The image is {width}x{height} pixels; the limit is {limit / 1e6:.0f} megapixels.",
                    code="image_too_large",
                )
            frames = int(getattr(image, "n_frames", 1))
    except Image.DecompressionBombError as exc:
        raise DocumentRejected(f"The image is too large: {exc}", code="image_too_large") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DocumentRejected(f"The image cannot be read: {exc}", code="malformed_file") from exc
    if frames > settings.DOCINTEL_MAX_PAGES:
        raise DocumentRejected(f"The image has {frames} frames.", code="too_many_pages")
    return Inspection(page_count=frames, pages_without_text=list(range(1, frames + 1)))


def full_models_present() -> bool:
    """Whether Docling's layout model is available offline under ``DOCINTEL_DOCLING_ARTIFACTS_PATH``."""
    root = settings.DOCINTEL_DOCLING_ARTIFACTS_PATH
    if not root or not Path(root).is_dir():
        return False
    return any("layout" in child.name.lower() for child in Path(root).iterdir() if child.is_dir())


def pdf_parser_name(*, ocr: bool) -> str:
    """The PDF path this process uses (see module docstring)."""
    choice = settings.DOCINTEL_PDF_PIPELINE
    if ocr:
        return (PARSER_STANDARD if full_models_present() else PARSER_HEURISTIC) + OCR_SUFFIX
    if choice == "native":
        return PARSER_NATIVE
    return PARSER_STANDARD if choice in ("auto", "standard") and full_models_present() else PARSER_HEURISTIC


def _ocr_options(engine: str) -> Any:
    """Docling OCR options for ``engine``; extra engines only exist in the ``ocr`` worker's environment."""
    if engine == "easyocr":
        from docling.datamodel.pipeline_options import EasyOcrOptions

        from documents.services.ocr import easyocr_models_dir

        # English only: EasyOCR has no Greek model (Greek documents are routed to Tesseract, see ocr.py)
        return EasyOcrOptions(
            lang=["en"], model_storage_directory=str(easyocr_models_dir()), download_enabled=False, use_gpu=False
        )
    if engine == "surya":
        import os

        from documents.services.ocr import surya_models_dir

        # surya.settings reads MODEL_CACHE_DIR once, when first imported; docling-surya 0.1.0 points it at Docling's
        # cache before its own import, so surya is imported here first, with the folder the worker checked.
        os.environ["MODEL_CACHE_DIR"] = str(surya_models_dir())
        import surya.settings  # noqa: F401 - only in the Surya environment
        from docling_surya import SuryaOcrOptions  # type: ignore[import-not-found]  # only in the ocr-extra env

        return SuryaOcrOptions(lang=["el", "en"], download_enabled=False)
    from docling.datamodel.pipeline_options import TesseractOcrOptions

    return TesseractOcrOptions(lang=list(settings.DOCINTEL_OCR_LANGUAGES), path=settings.DOCINTEL_TESSDATA_PATH)


@functools.cache
def _converter(parser: str, engine: str = "tesseract") -> Any:
    """One Docling converter per conversion path and process (pipelines are built once, then reused)."""
    from docling.datamodel.base_models import InputFormat
    from docling.datamodel.pipeline_options import (
        NativePdfPipelineOptions,
        PdfPipelineOptions,
    )
    from docling.document_converter import (
        DocumentConverter,
        ImageFormatOption,
        PdfFormatOption,
    )
    from docling.pipeline.native_pdf_pipeline import NativePdfPipeline
    from docling.pipeline.standard_pdf_pipeline import StandardPdfPipeline

    from documents.components.heuristic_layout import HeuristicLayoutOptions, register

    timeout = settings.DOCINTEL_CONVERSION_TIMEOUT
    if parser == PARSER_SIMPLE:
        return DocumentConverter(
            allowed_formats=[
                InputFormat.DOCX, InputFormat.PPTX, InputFormat.XLSX, InputFormat.HTML, InputFormat.MD, InputFormat.CSV,
            ]
        )  # fmt: skip
    if parser == PARSER_NATIVE:
        options = NativePdfPipelineOptions(
            parser_threads=1, generate_page_images=False, generate_picture_images=False, document_timeout=timeout
        )
        return DocumentConverter(
            allowed_formats=[InputFormat.PDF],
            format_options={InputFormat.PDF: PdfFormatOption(pipeline_cls=NativePdfPipeline, pipeline_options=options)},
        )
    ocr = "+" in parser
    standard = parser.startswith(PARSER_STANDARD)
    pdf_options = PdfPipelineOptions(
        do_ocr=ocr,
        do_table_structure=standard,
        generate_page_images=False,
        document_timeout=timeout,
        ocr_options=_ocr_options(engine),
        allow_external_plugins=engine == "surya",  # docling-surya is an external OCR plugin (GPL, opt-in)
    )
    if standard:
        pdf_options.artifacts_path = settings.DOCINTEL_DOCLING_ARTIFACTS_PATH
    else:
        register()
        pdf_options.layout_options = HeuristicLayoutOptions()
    return DocumentConverter(
        allowed_formats=[InputFormat.PDF, InputFormat.IMAGE],
        format_options={
            InputFormat.PDF: PdfFormatOption(pipeline_cls=StandardPdfPipeline, pipeline_options=pdf_options),
            InputFormat.IMAGE: ImageFormatOption(pipeline_cls=StandardPdfPipeline, pipeline_options=pdf_options),
        },
    )


_SIMPLE_TYPES = frozenset({DOCX, PPTX, XLSX, XLSM, HTML, MARKDOWN, CSV})


def document_convert(*, path: Path, mime_type: str, ocr: bool = False, engine: str = "tesseract") -> Conversion:
    """Convert a stored file with Docling, keeping its structure (headings, tables, pages, boxes).

    Args:
        path: the stored file (inside MEDIA_ROOT).
        mime_type: the type decided from the file's bytes at upload.
        ocr: run OCR on regions without a text layer (scans, images).
        engine: the OCR engine (``tesseract`` here; ``surya``/``easyocr`` in the ``ocr`` worker).

    Raises:
        DocumentRejected: ``parse_error`` (Docling cannot read it), ``conversion_timeout``, ``empty_document``.
    """
    from docling.datamodel.base_models import ConversionStatus
    from docling.exceptions import ConversionError

    if mime_type in (TEXT, EML):
        return _convert_builtin(path=path, mime_type=mime_type)
    if mime_type in _SIMPLE_TYPES:
        parser = PARSER_SIMPLE
    elif mime_type == PDF or mime_type in IMAGE_TYPES:
        parser = pdf_parser_name(ocr=ocr or mime_type in IMAGE_TYPES).replace(OCR_SUFFIX, f"+{engine}")
    else:
        raise DocumentRejected(f"No parser for {mime_type}.", code="unsupported_file_type")
    source = path
    if mime_type == XLSM:
        source = _xlsm_as_xlsx(path)
    elif mime_type == PDF:
        source = pdf_without_leading_junk(path)
    started = time.perf_counter()
    try:
        result = _converter(parser, engine).convert(
            source, raises_on_error=False, max_num_pages=settings.DOCINTEL_MAX_PAGES,
            max_file_size=settings.DOCINTEL_MAX_UPLOAD_BYTES,
        )  # fmt: skip
    except ConversionError as exc:
        raise DocumentRejected(f"The document could not be parsed: {exc}", code="parse_error") from exc
    except (ValueError, OSError, RuntimeError, KeyError, IndexError, AttributeError, TypeError) as exc:
        # Docling backends raise plain exceptions on malformed input; the message is kept for the librarian
        raise DocumentRejected(
            f"The document could not be parsed ({type(exc).__name__}: {exc})", code="parse_error"
        ) from exc
    finally:
        if source != path:
            source.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    if any(getattr(e.category, "value", "") == "timeout" for e in result.errors if getattr(e, "category", None)):
        raise DocumentRejected(
            f"The conversion took longer than {settings.DOCINTEL_CONVERSION_TIMEOUT:.0f} s.", code="conversion_timeout"
        )
    if result.status not in (ConversionStatus.SUCCESS, ConversionStatus.PARTIAL_SUCCESS):
        messages = "; ".join(e.error_message for e in result.errors)[:500]
        raise DocumentRejected(f"The document could not be parsed: {messages or result.status}", code="parse_error")
    confidence: dict[int, float] = {}
    if result.confidence is not None:
        for page_no, scores in result.confidence.pages.items():
            score = float(scores.ocr_score)
            if not math.isnan(score):  # the page was OCR'd
                confidence[int(page_no)] = round(score, 3)
    page_count = len(result.document.pages) or None
    log.info("document_converted", parser=parser, pages=page_count, seconds=round(seconds, 2))
    return Conversion(
        document=result.document, parser=parser, page_count=page_count, seconds=seconds, ocr_confidence=confidence
    )


def _convert_builtin(*, path: Path, mime_type: str) -> Conversion:
    """Plain text and e-mail: documents built by :mod:`documents.services.formats` (no Docling backend)."""
    from documents.services.formats import email_convert, text_convert

    started = time.perf_counter()
    if mime_type == TEXT:
        document, encoding = text_convert(path)
        info: dict[str, Any] = {"encoding": encoding}
        attachments: list[Any] = []
        parser = PARSER_TEXT
    else:
        document, parsed = email_convert(path)
        info = {"email": parsed.headers, "body_format": parsed.body_format, "encoding": parsed.charset}
        attachments = parsed.attachments
        parser = PARSER_EMAIL
    seconds = time.perf_counter() - started
    log.info("document_converted", parser=parser, seconds=round(seconds, 2))
    return Conversion(
        document=document, parser=parser, page_count=None, seconds=seconds, info=info, attachments=attachments
    )


def pdf_without_leading_junk(path: Path) -> Path:
    """``path`` itself, or a temporary copy starting at ``%PDF-`` when junk (a BOM) precedes the header.

    Offsets inside a PDF count from its header, so the copy is the file the producer wrote.
    """
    import shutil
    import tempfile

    with path.open("rb") as src:
        offset = pdf_header_offset(src.read(2048), filename=".pdf")
        if not offset:
            return path
        handle, name = tempfile.mkstemp(suffix=".pdf")
        with open(handle, "wb") as out:
            src.seek(offset)
            shutil.copyfileobj(src, out)
    log.info("pdf_leading_junk_skipped", bytes=offset)
    return Path(name)


def _xlsm_as_xlsx(path: Path) -> Path:
    """Docling reads macro workbooks through the xlsx backend; the macros are never run (a copy with .xlsx)."""
    import shutil
    import tempfile

    handle, name = tempfile.mkstemp(suffix=".xlsx")
    with open(handle, "wb") as out, open(path, "rb") as src:
        shutil.copyfileobj(src, out)
    return Path(name)
