"""Haystack components of ingestion's first step: a stored file to draft chunks (convert, clean, chunk, scan).

Wired by :func:`documents.pipelines.conversion_pipeline`; each component calls one service of
``documents.services`` and adds nothing to its behaviour, so the pipeline makes the chunks the services made by hand.
They keep DocIntel's own types between them (:class:`~documents.services.parsing.Conversion`,
:class:`~documents.services.chunking.ChunkDraft`) rather than Haystack ``Document`` objects: the cleaner works on
Docling's structured document, and each chunk keeps its pages, box and heading path.

The database stays out of these components except where the step is about the row (the document is read again after
a conversion that can take minutes, and an e-mail's attachments become child documents); the chunks themselves are
written by the service, in one transaction (``documents.services.ingest``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from haystack import component

from docintel.errors import DocumentRejected
from documents.models import Document
from documents.services.chunking import ChunkDraft
from documents.services.cleaning import CleanReport
from documents.services.parsing import PARSER_HEURISTIC, PARSER_NATIVE, PARSER_STANDARD, Conversion

# Paged layouts (PDF and images): the only ones with running headers and footers to take out.
PAGED_PARSERS = (PARSER_STANDARD, PARSER_HEURISTIC, PARSER_NATIVE)


@component
class FileConverter:
    """Convert a stored file with Docling (or DocIntel's plain-text and e-mail readers) into a :class:`Conversion`.

    A thin wrapper of :func:`documents.services.parsing.document_convert`: the conversion path (standard,
    heuristic-layout, native, simple, OCR engine) and every limit and error code are that function's.
    """

    @component.output_types(conversion=Conversion)
    def run(self, path: Path, mime_type: str, ocr: bool = False, engine: str = "tesseract") -> dict[str, Any]:
        """Convert one file.

        Args:
            path: The stored file (inside MEDIA_ROOT, checked by the caller).
            mime_type: The type decided from the file's bytes at upload.
            ocr: Run OCR on regions without a text layer (scans, images).
            engine: The OCR engine (``tesseract``; ``easyocr``/``surya`` in the ``ocr`` worker).

        Returns:
            ``conversion``: the Docling document and how it was produced.

        Raises:
            DocumentRejected: ``parse_error``, ``conversion_timeout``, ``unsupported_file_type`` and the like.
        """
        from documents.services import parsing

        return {"conversion": parsing.document_convert(path=path, mime_type=mime_type, ocr=ocr, engine=engine)}


@component
class AttachmentSplitter:
    """Read the document row again after the conversion and make an e-mail's attachments child documents.

    The conversion can take minutes, in which a librarian may have edited the row; the scan and the service use the
    row as it is now. Attachments go through :func:`documents.services.children.children_create` (each one a
    document of its own, with the parent's uploader and access groups); what became of each is recorded in the
    conversion's ``info["attachments"]`` (later ``ingest_info``). Nothing happens for a file without attachments.
    """

    @component.output_types(document=Document, conversion=Conversion)
    def run(self, document: Document, conversion: Conversion) -> dict[str, Any]:
        """Refresh ``document`` and create the children of ``conversion``'s attachments.

        Args:
            document: The document being ingested (claimed by the caller).
            conversion: Its conversion; ``info`` gains ``attachments`` when it had any.

        Returns:
            ``document`` (read again) and ``conversion``.
        """
        document.refresh_from_db()
        if conversion.attachments:
            from documents.services.children import children_create

            conversion.info["attachments"] = children_create(document=document, members=conversion.attachments)
        return {"document": document, "conversion": conversion}


@component
class StructureCleaner:
    """Take page furniture out of the body and join words hyphenated across line ends, in the Docling document.

    :func:`documents.services.cleaning.document_clean` does the work (Greek and English hyphenation, running headers
    and page numbers of paged layouts); items keep their pages and boxes, so chunk anchors stay where they were.
    """

    @component.output_types(conversion=Conversion, report=CleanReport)
    def run(self, conversion: Conversion, progress_callback: Callable[[], None] | None = None) -> dict[str, Any]:
        """Clean the conversion's document in place.

        Args:
            conversion: The converted document.
            progress_callback: Called once before the cleaning starts (the service publishes the "chunking" stage).

        Returns:
            ``conversion`` (cleaned) and ``report``: the furniture found per page and the hyphens joined.
        """
        from documents.services.cleaning import document_clean

        if progress_callback is not None:
            progress_callback()
        report = document_clean(conversion.document, furniture=conversion.parser.startswith(PAGED_PARSERS))
        return {"conversion": conversion, "report": report}


@component
class StructureChunker:
    """Cut a cleaned document into structure-following chunks; each keeps its pages' running headers as metadata.

    :func:`documents.services.chunking.chunks_build` makes the chunks (sized in tokens, tables split by rows,
    overlap within a section); the headers and footers of a chunk's pages go to ``meta["page_furniture"]``, never
    into its text.
    """

    def __init__(self, max_tokens: int | None = None, overlap: int | None = None) -> None:
        """Set the chunk size.

        Args:
            max_tokens: The chunk size; ``None`` reads ``DOCINTEL_CHUNK_TOKENS`` at run time.
            overlap: Tokens repeated from the previous chunk of a section; ``None`` reads
                ``DOCINTEL_CHUNK_OVERLAP_TOKENS`` at run time.
        """
        self.max_tokens = max_tokens
        self.overlap = overlap

    @component.output_types(drafts=list[ChunkDraft])
    def run(self, conversion: Conversion, report: CleanReport) -> dict[str, Any]:
        """Chunk the document.

        Args:
            conversion: The cleaned conversion.
            report: What the cleaner took out (the page furniture of each page).

        Returns:
            ``drafts``: the chunks in reading order.

        Raises:
            DocumentRejected: ``empty_document`` when no text was found (an empty file, or a scan OCR could not read).
        """
        from documents.services.chunking import chunks_build

        drafts = chunks_build(conversion.document, max_tokens=self.max_tokens, overlap=self.overlap)
        if not drafts:
            raise DocumentRejected(
                "No text was found in the document (an empty file, or a scan OCR could not read).",
                code="empty_document",
            )
        for draft in drafts:
            furniture = report.page_furniture(draft.page_start, draft.page_end)
            if furniture:
                draft.meta["page_furniture"] = furniture
        return {"drafts": drafts}


@component
class InjectionScanner:
    """Scan each draft chunk (its text, headings and the document's title) for instructions injected into documents.

    :func:`documents.services.quarantine.chunks_flag` applies the guard rules; a flagged chunk is stored quarantined
    (held out of retrieval until a librarian releases it).
    """

    @component.output_types(drafts=list[ChunkDraft], flags=list[tuple[bool, str]])
    def run(self, document: Document, drafts: list[ChunkDraft]) -> dict[str, Any]:
        """Flag the drafts of ``document``.

        Args:
            document: The document (its title is scanned with each chunk).
            drafts: The chunks in reading order.

        Returns:
            ``drafts`` unchanged and ``flags``: ``(flagged, rule)`` per draft, in the same order.
        """
        from documents.services.quarantine import chunks_flag  # loads the guard rules

        return {"drafts": drafts, "flags": chunks_flag(document=document, drafts=drafts)}
