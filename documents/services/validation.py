"""File checks that run before any parser opens a file: type by content, size, OOXML zip-bomb guard."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

from django.conf import settings

from docintel.errors import DocumentRejected, FileTooLarge, UnsupportedFileType

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"
HTML = "text/html"
MARKDOWN = "text/markdown"
CSV = "text/csv"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"

OOXML_TYPES = frozenset({DOCX, PPTX, XLSX, XLSM})
IMAGE_TYPES = frozenset({PNG, JPEG, TIFF})
SUPPORTED_TYPES = frozenset({PDF, HTML, MARKDOWN, CSV, *OOXML_TYPES, *IMAGE_TYPES})

_TEXT_EXTENSIONS = {".md": MARKDOWN, ".markdown": MARKDOWN, ".csv": CSV, ".htm": HTML, ".html": HTML, ".xhtml": HTML}
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Sniffed:
    """What a file is, decided from its bytes."""

    mime_type: str
    extension: str


def _read_head(fileobj: IO[bytes]) -> bytes:
    pos = fileobj.tell()
    head = fileobj.read(_SNIFF_BYTES)
    fileobj.seek(pos)
    return head


def _ooxml_type(fileobj: IO[bytes]) -> str | None:
    pos = fileobj.tell()
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        fileobj.seek(pos)
    if "[Content_Types].xml" not in names:
        return None
    if any(n.startswith("word/") for n in names):
        return DOCX
    if any(n.startswith("ppt/") for n in names):
        return PPTX
    if any(n.startswith("xl/") for n in names):
        return XLSM if "xl/vbaProject.bin" in names else XLSX
    return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sniffed window is still text
        if exc.start < len(head) - 4:
            return False
    return True


def file_sniff(*, fileobj: IO[bytes], filename: str) -> Sniffed:
    """Decide the file type from its content; the extension only tells text formats apart.

    Raises:
        UnsupportedFileType: the content is none of the supported formats.
    """
    head = _read_head(fileobj)
    if head.startswith(b"%PDF-"):
        return Sniffed(PDF, ".pdf")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(PNG, ".png")
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(JPEG, ".jpg")
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return Sniffed(TIFF, ".tiff")
    if head.startswith(b"PK\x03\x04"):
        kind = _ooxml_type(fileobj)
        if kind is None:
            raise UnsupportedFileType("This ZIP archive is not a Word, PowerPoint or Excel document.")
        ext = {DOCX: ".docx", PPTX: ".pptx", XLSX: ".xlsx", XLSM: ".xlsm"}[kind]
        return Sniffed(kind, ext)
    if head and _looks_like_text(head):
        ext = PurePath(filename).suffix.lower()
        text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n").lower()
        if ext in _TEXT_EXTENSIONS:
            return Sniffed(_TEXT_EXTENSIONS[ext], ".html" if ext in (".htm", ".xhtml") else ext)
        if text.startswith(("<!doctype html", "<html")):
            return Sniffed(HTML, ".html")
    raise UnsupportedFileType(
        "This type of file is not supported. Upload PDF, DOCX, PPTX, XLSX, HTML, Markdown, CSV, PNG, JPEG or TIFF.",
        detail={"filename": PurePath(filename).name},
    )


def file_check_size(*, size: int) -> None:
    """Refuse empty files and files above ``DOCINTEL_MAX_UPLOAD_BYTES``."""
    if size <= 0:
        raise DocumentRejected("The file is empty.", code="empty_file")
    limit = settings.DOCINTEL_MAX_UPLOAD_BYTES
    if size > limit:
        raise FileTooLarge(
            f"The file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.", detail={"limit_bytes": limit}
        )


def ooxml_check_sizes(*, fileobj: IO[bytes]) -> int:
    """Guard against zip bombs before a parser opens an OOXML file.

    Checks the declared uncompressed sizes and compression ratios, then decompresses every member in a stream,
    counting the real bytes against the same limit (memory stays bounded: 64 KiB at a time).

    Returns:
        The real uncompressed size in bytes.

    Raises:
        DocumentRejected: code ``zip_bomb`` when a limit is exceeded, ``malformed_file`` when the archive is broken.
    """
    limit = settings.DOCINTEL_MAX_UNCOMPRESSED_BYTES
    max_ratio = settings.DOCINTEL_MAX_COMPRESSION_RATIO
    pos = fileobj.tell()
    try:
        with zipfile.ZipFile(fileobj) as archive:
            infos = archive.infolist()
            declared = sum(i.file_size for i in infos)
            if declared > limit:
                raise DocumentRejected(
                    f"The archive would expand to {declared / 1e6:.0f} MB (limit {limit / 1e6:.0f} MB).",
                    code="zip_bomb",
                )
            for info in infos:
                if info.compress_size and info.file_size / info.compress_size > max_ratio and info.file_size > 1e6:
                    raise DocumentRejected(
                        f"Member {info.filename!r} is compressed {info.file_size // info.compress_size}:1.",
                        code="zip_bomb",
                    )
            real = 0
            for info in infos:
                with archive.open(info) as member:
                    while chunk := member.read(65536):
                        real += len(chunk)
                        if real > limit:
                            raise DocumentRejected(f"The archive expands past {limit / 1e6:.0f} MB.", code="zip_bomb")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise DocumentRejected(f"The archive is damaged: {exc}", code="malformed_file") from exc
    finally:
        fileobj.seek(pos)
    return real
