"""Formats Docling has no backend for: plain text, e-mail (``.eml``) and ZIP archives.

Plain text and an e-mail's body become a :class:`DoclingDocument` built here (paragraphs; the subject as the
heading), so they chunk like every other format. An e-mail's attachments and an archive's members are returned as
bytes for :mod:`documents.services.children` to ingest as child documents. Worker only (imports docling-core).
"""

from __future__ import annotations

import email
import email.policy
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from django.conf import settings

from docintel.errors import DocumentRejected
from documents.services.textdecode import text_decode

if TYPE_CHECKING:
    from docling_core.types.doc.document import DoclingDocument

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_SPACES = re.compile(r"[ \t\r\f\v]+")
EMAIL_HEADERS = ("from", "to", "cc", "date", "subject", "message-id", "in-reply-to")


@dataclass
class Member:
    """A file inside a container: an e-mail attachment or a ZIP entry."""

    name: str  # its path inside the archive, or the attachment's file name
    data: bytes | None  # None when it was refused before reading (``code`` says why)
    content_type: str = ""
    code: str = ""
    message: str = ""


@dataclass
class ParsedEmail:
    """An e-mail split into its metadata, body text and attachments."""

    headers: dict[str, str]
    body: str
    body_format: str  # "plain", "html" or ""
    charset: str
    attachments: list[Member] = field(default_factory=list)


def _paragraphs(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    out = []
    for block in _PARAGRAPH_BREAK.split(text):
        lines = [_SPACES.sub(" ", line).strip() for line in block.split("\n")]
        paragraph = " ".join(line for line in lines if line)
        if paragraph:
            out.append(paragraph)
    return out


def _document(name: str, *, heading: str, paragraphs: list[str]) -> DoclingDocument:
    from docling_core.types.doc.document import DoclingDocument
    from docling_core.types.doc.labels import DocItemLabel

    document = DoclingDocument(name=name)
    parent = document.add_heading(text=heading, level=1) if heading else None
    for paragraph in paragraphs:
        document.add_text(label=DocItemLabel.TEXT, text=paragraph, parent=parent)
    return document


def text_convert(path: Path) -> tuple[DoclingDocument, str]:
    """A plain-text file as a document of paragraphs (blank lines separate them).

    Returns:
        The document and the encoding that was detected.
    """
    text, encoding = text_decode(path.read_bytes())
    return _document(path.stem, heading="", paragraphs=_paragraphs(text)), encoding


class _HTMLText(HTMLParser):
    """Visible text of an HTML mail body; block elements end paragraphs, scripts and styles are dropped."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Enter a skipped element (script, style, head, title), or start a new paragraph at a block element.

        Args:
            tag: the element's name, lower-cased by the parser.
            attrs: its attributes (unused).
        """
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        """Leave a skipped element, or end the paragraph at the close of a block element."""
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        """Keep the text, unless it is inside a skipped element."""
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """Plain text of an HTML fragment (paragraphs separated by blank lines)."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def _part_text(part: Any) -> tuple[str, str]:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset()
    if charset:
        try:
            return payload.decode(charset), charset
        except (LookupError, UnicodeDecodeError):
            pass
    return text_decode(payload)


def email_parse(data: bytes) -> ParsedEmail:
    """Split an RFC 5322 message: decoded headers (RFC 2047 names included), body text, attachments.

    The first ``text/plain`` part is the body; a message with only HTML gets its visible text. Every other part
    with a file name, or that is not text, is an attachment (a forwarded ``message/rfc822`` becomes an ``.eml``).

    Raises:
        DocumentRejected: ``malformed_file`` when the message cannot be parsed.
    """
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
    except (ValueError, TypeError, IndexError) as exc:  # pragma: no cover - the parser is lenient
        raise DocumentRejected(f"The e-mail cannot be parsed: {exc}", code="malformed_file") from exc
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage objects
    headers: dict[str, str] = {}
    for name in EMAIL_HEADERS:
        value = message.get(name)
        if value is not None:
            try:
                headers[name] = " ".join(str(value).split())
            except (ValueError, TypeError, IndexError):  # a header broken beyond decoding keeps its raw form
                headers[name] = str(message.get_all(name, [""])[0])
    body, body_format, charset = "", "", ""
    html = ""
    attachments: list[Member] = []
    for part in message.walk():
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            continue
        content_type = part.get_content_type()
        filename = part.get_filename()
        disposition = (part.get_content_disposition() or "").lower()
        if content_type == "message/rfc822":
            attachments.append(
                Member(name=filename or "forwarded.eml", data=_forwarded_bytes(part), content_type=content_type)
            )
            continue
        if part is not message and _inside_forwarded(message, part):
            continue
        if content_type == "text/plain" and not filename and disposition != "attachment" and not body:
            body, charset = _part_text(part)
            body_format = "plain"
        elif content_type == "text/html" and not filename and disposition != "attachment" and not html:
            html, charset_html = _part_text(part)
            charset = charset or charset_html
        elif disposition != "attachment" and part.get("content-id") and content_type.startswith("image/"):
            continue  # an image the HTML body shows inline (a logo, a signature): part of the body, not a document
        elif filename or disposition == "attachment" or not content_type.startswith(("text/", "multipart/")):
            attachments.append(
                Member(name=filename or "attachment", data=_payload_bytes(part), content_type=content_type)
            )
    if not body and html:
        body, body_format = html_text(html), "html"
    return ParsedEmail(headers=headers, body=body, body_format=body_format, charset=charset, attachments=attachments)


def _payload_bytes(part: Any) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _forwarded_bytes(part: Any) -> bytes:
    """The bytes of a forwarded message (``message/rfc822``: its payload is the inner message)."""
    inner = part.get_payload()
    if isinstance(inner, list) and inner and hasattr(inner[0], "as_bytes"):
        return bytes(inner[0].as_bytes())
    return _payload_bytes(part)


def _inside_forwarded(message: Any, part: Any) -> bool:
    """Whether ``part`` belongs to a forwarded message (handled as its own ``.eml`` attachment)."""
    for outer in message.walk():
        if outer.get_content_type() == "message/rfc822" and outer is not part:
            for inner in outer.walk():
                if inner is part and inner is not outer:
                    return True
    return False


def email_convert(path: Path) -> tuple[DoclingDocument, ParsedEmail]:
    """An e-mail as a document: the subject is the heading, the body its paragraphs; headers are returned apart."""
    parsed = email_parse(path.read_bytes())
    paragraphs = _paragraphs(parsed.body)
    heading = parsed.headers.get("subject", "").strip()
    if not paragraphs and heading:
        paragraphs = [heading]
    return _document(path.stem, heading=heading, paragraphs=paragraphs), parsed


def _member_skipped(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or name.endswith("/")


def zip_members(path: Path) -> Iterator[Member]:
    """The files of a ZIP archive (already checked for bombs at upload and again before ingestion).

    Directories, ``__MACOSX`` resource forks and hidden files are skipped; a member above the upload limit is
    returned without data and with code ``file_too_large``.

    Raises:
        DocumentRejected: ``malformed_file`` when the archive cannot be read.
    """
    limit = settings.DOCINTEL_MAX_UPLOAD_BYTES
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir() or _member_skipped(info.filename):
                    continue
                if info.file_size > limit:
                    yield Member(
                        name=info.filename,
                        data=None,
                        code="file_too_large",
                        message=f"The member is {info.file_size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.",
                    )
                    continue
                with archive.open(info) as handle:
                    data = handle.read(limit + 1)
                if len(data) > limit:
                    yield Member(name=info.filename, data=None, code="file_too_large", message="Too large.")
                    continue
                yield Member(name=info.filename, data=data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise DocumentRejected(f"The archive is damaged: {exc}", code="malformed_file") from exc
