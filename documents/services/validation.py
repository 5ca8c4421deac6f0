"""File checks that run before any parser opens a file: type by content, size, archive (OOXML, ZIP) bomb guard."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

from django.conf import settings

from docintel.errors import DocumentRejected, FileTooLarge, UnsupportedFileType
from documents.services.textdecode import looks_like_plain_text, text_decode

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
WEBP = "image/webp"
TEXT = "text/plain"
EML = "message/rfc822"
ZIP = "application/zip"

OOXML_TYPES = frozenset({DOCX, PPTX, XLSX, XLSM})
ARCHIVE_TYPES = frozenset({*OOXML_TYPES, ZIP})  # checked for zip bombs before anything opens them
CONTAINER_TYPES = frozenset({EML, ZIP})  # their attachments / members become child documents
IMAGE_TYPES = frozenset({PNG, JPEG, TIFF, WEBP})
SUPPORTED_TYPES = frozenset({PDF, HTML, MARKDOWN, CSV, TEXT, EML, ZIP, *OOXML_TYPES, *IMAGE_TYPES})

_TEXT_EXTENSIONS = {".md": MARKDOWN, ".markdown": MARKDOWN, ".csv": CSV, ".htm": HTML, ".html": HTML, ".xhtml": HTML}
_PLAIN_EXTENSIONS = frozenset({".txt", ".text"})
_SNIFF_BYTES = 8192
PDF_HEADER_WINDOW = 1024  # PDF readers accept junk (a BOM, a mail header) before "%PDF-" within the first 1 KiB
_MAIL_HEADERS = frozenset({"from", "to", "cc", "subject", "date", "message-id", "received", "mime-version"})
_HEADER_LINE = re.compile(rb"^([A-Za-z0-9][A-Za-z0-9-]{0,75}):[ \t]")


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


def pdf_header_offset(head: bytes, *, filename: str = "") -> int | None:
    """Where ``%PDF-`` starts: 0 for a normal PDF; up to 1,024 when junk precedes it.

    Junk is accepted when it is whitespace or byte-order marks, or when the file is named ``.pdf`` (a text file
    that merely mentions ``%PDF-`` near its start is not taken for a PDF).

    Args:
        head: the first bytes of the file.
        filename: the client's file name; only its suffix is looked at.

    Returns:
        The offset of the header, or None when the file is not a PDF.
    """
    if head.startswith(b"%PDF-"):
        return 0
    offset = head.find(b"%PDF-", 0, PDF_HEADER_WINDOW + 5)
    if offset <= 0 or offset > PDF_HEADER_WINDOW:
        return None
    junk = head[:offset].replace(b"\xef\xbb\xbf", b"").replace(b"\xfe\xff", b"").replace(b"\xff\xfe", b"")
    if not junk.strip() or PurePath(filename).suffix.lower() == ".pdf":
        return offset
    return None


def _looks_like_email(head: bytes, *, named_eml: bool) -> bool:
    """RFC 5322 headers at the start: a ``.eml`` needs one known header, any other name ``From:`` and two more."""
    seen: set[str] = set()
    for raw in head.split(b"\n")[:200]:
        line = raw.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):  # folded continuation of the previous header
            if not seen:
                return False
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            return False
        seen.add(match.group(1).decode("ascii").lower())
    known = seen & _MAIL_HEADERS
    if named_eml:
        return bool(known)
    return "from" in known and len(known) >= 3


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

    Args:
        fileobj: the upload, seekable; read from its current position and put back there.
        filename: the client's file name (its suffix tells Markdown, CSV, HTML and plain text apart).

    Returns:
        The MIME type and the suffix the stored file gets.

    Raises:
        UnsupportedFileType: the content is none of the supported formats, or a ZIP archive is damaged.
    """
    head = _read_head(fileobj)
    ext = PurePath(filename).suffix.lower()
    if pdf_header_offset(head, filename=filename) is not None:
        return Sniffed(PDF, ".pdf")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(PNG, ".png")
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(JPEG, ".jpg")
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return Sniffed(TIFF, ".tiff")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return Sniffed(WEBP, ".webp")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        kind = _ooxml_type(fileobj)
        if kind is not None:
            return Sniffed(kind, {DOCX: ".docx", PPTX: ".pptx", XLSX: ".xlsx", XLSM: ".xlsm"}[kind])
        if not _is_zip(fileobj):
            raise UnsupportedFileType("This ZIP archive is damaged.", detail={"filename": PurePath(filename).name})
        return Sniffed(ZIP, ".zip")
    if head and _looks_like_email(head, named_eml=ext == ".eml"):
        return Sniffed(EML, ".eml")
    if head and _looks_like_text(head):
        text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n").lower()
        if ext in _TEXT_EXTENSIONS:
            return Sniffed(_TEXT_EXTENSIONS[ext], ".html" if ext in (".htm", ".xhtml") else ext)
        if text.startswith(("<!doctype html", "<html")):
            return Sniffed(HTML, ".html")
    if ext in _PLAIN_EXTENSIONS and looks_like_plain_text(head):
        text = text_decode(head, partial=True)[0].lstrip("\ufeff \t\r\n").lower()
        if text.startswith(("<!doctype html", "<html")):
            return Sniffed(HTML, ".html")
        return Sniffed(TEXT, ".txt")
    raise UnsupportedFileType(
        "This type of file is not supported. Upload PDF, DOCX, PPTX, XLSX, HTML, Markdown, CSV, plain text, e-mail "
        "(.eml), ZIP, PNG, JPEG, TIFF or WebP.",
        detail={"filename": PurePath(filename).name},
    )


def _is_zip(fileobj: IO[bytes]) -> bool:
    pos = fileobj.tell()
    try:
        with zipfile.ZipFile(fileobj) as archive:
            archive.infolist()
        return True
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    finally:
        fileobj.seek(pos)


def file_check_size(*, size: int) -> None:
    """Refuse empty files and files above ``DOCINTEL_MAX_UPLOAD_BYTES``.

    Raises:
        DocumentRejected: code ``empty_file`` for a file of 0 bytes.
        FileTooLarge: the file is over the limit (the limit is in the error's detail).
    """
    if size <= 0:
        raise DocumentRejected("The file is empty.", code="empty_file")
    limit = settings.DOCINTEL_MAX_UPLOAD_BYTES
    if size > limit:
        raise FileTooLarge(
            f"The file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.", detail={"limit_bytes": limit}
        )


def ooxml_check_sizes(*, fileobj: IO[bytes]) -> int:
    """Guard against zip bombs before a parser opens an OOXML file or a ZIP archive is unpacked.

    Checks the declared uncompressed sizes and compression ratios, then decompresses every member in a stream,
    counting the real bytes against the same limit (memory stays bounded: 64 KiB at a time).

    Returns:
        The real uncompressed size in bytes.

    Raises:
        DocumentRejected: code ``zip_bomb`` when a limit is exceeded, ``too_many_files`` when the archive holds more
            than ``DOCINTEL_MAX_ARCHIVE_MEMBERS`` entries, ``encrypted`` for password-protected members,
            ``malformed_file`` when the archive is broken.
    """
    limit = settings.DOCINTEL_MAX_UNCOMPRESSED_BYTES
    max_ratio = settings.DOCINTEL_MAX_COMPRESSION_RATIO
    pos = fileobj.tell()
    try:
        with zipfile.ZipFile(fileobj) as archive:
            infos = archive.infolist()
            if len(infos) > settings.DOCINTEL_MAX_ARCHIVE_MEMBERS:
                raise DocumentRejected(
                    f"The archive holds {len(infos)} entries; the limit is {settings.DOCINTEL_MAX_ARCHIVE_MEMBERS}.",
                    code="too_many_files",
                )
            if any(i.flag_bits & 0x1 for i in infos):
                raise DocumentRejected("The archive has password-protected members.", code="encrypted")
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
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise DocumentRejected(f"The archive is damaged: {exc}", code="malformed_file") from exc
    finally:
        fileobj.seek(pos)
    return real
