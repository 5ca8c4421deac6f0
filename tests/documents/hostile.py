"""Builders of hostile and scanned test files (made at test time; nothing is downloaded)."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
GREEK_LINES = [
    "Η Ακρόπολη της Αθήνας είναι αρχαία ακρόπολη",
    "που βρίσκεται σε έναν βράχο πάνω από την πόλη.",
    "Ο Παρθενώνας χτίστηκε τον πέμπτο αιώνα.",
]


def greek_scan_pdf(lines: list[str] = GREEK_LINES) -> bytes:
    """Greek text rendered with DejaVu into an image, saved as a one-page PDF without a text layer."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(DEJAVU), 40)
    image = Image.new("L", (1700, 1100), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((120, 150 + i * 90), line, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=200.0)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pixel_bomb_png(width: int = 60000, height: int = 60000) -> bytes:
    """A tiny PNG file whose header declares billions of pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def zip_bomb_docx(member_bytes: int) -> bytes:
    """A DOCX-shaped archive with one member of ``member_bytes`` zeros (compresses ~1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", "<w:document/>")
        with archive.open("word/media/bomb.bin", "w", force_zip64=True) as member:
            block = b"\x00" * (1 << 20)
            for _ in range(member_bytes >> 20):
                member.write(block)
    return out.getvalue()


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = bytearray()
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def encrypted_pdf(user_password: bytes = b"secret", owner_password: bytes = b"owner") -> bytes:
    """A one-page PDF encrypted with the standard security handler (RC4 40-bit, revision 2)."""
    file_id = hashlib.md5(b"docintel-test").digest()
    owner_key = hashlib.md5((owner_password + _PAD)[:32]).digest()[:5]
    o_value = _rc4(owner_key, (user_password + _PAD)[:32])
    permissions = struct.pack("<i", -44)
    key = hashlib.md5((user_password + _PAD)[:32] + o_value + permissions + file_id).digest()[:5]
    u_value = _rc4(key, _PAD)

    def obj_key(num: int) -> bytes:
        return hashlib.md5(key + struct.pack("<i", num)[:3] + b"\x00\x00").digest()[:10]

    content = _rc4(obj_key(4), b"BT /F1 24 Tf 72 720 Td (Secret text) Tj ET")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + o_value.hex().encode() + b"> /U <" + u_value.hex().encode()
        + b"> /P -44 >>",
    ]  # fmt: skip
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 5 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        file_id.hex().encode(),
        file_id.hex().encode(),
        xref,
    )
    return bytes(out)


def text_pdf(
    pages: Sequence[Sequence[tuple[float, float, float, str]]], size: tuple[float, float] = (595, 842)
) -> bytes:
    """A PDF with a real text layer (DejaVu embedded): per page, ``(x, y, points, text)`` lines, y from the bottom."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    font_bytes = DEJAVU.read_bytes()
    pdf = pdfium.PdfDocument.new()
    buffer = (ctypes.c_uint8 * len(font_bytes)).from_buffer_copy(font_bytes)
    font = raw.FPDFText_LoadFont(pdf.raw, buffer, len(font_bytes), raw.FPDF_FONT_TRUETYPE, True)
    keep = []
    for lines in pages:
        page = pdf.new_page(*size)
        for x, y, points, text in lines:
            obj = raw.FPDFPageObj_CreateTextObj(pdf.raw, font, points)
            wide = ctypes.create_string_buffer((text + "\0").encode("utf-16-le"))
            keep.append(wide)
            raw.FPDFText_SetText(obj, ctypes.cast(wide, ctypes.POINTER(raw.FPDF_WCHAR)))
            raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
            raw.FPDFPage_InsertObject(page.raw, obj)
        raw.FPDFPage_GenerateContent(page.raw)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def text_image(lines: list[str], *, fmt: str = "PNG", size: int = 40) -> bytes:
    """Lines of text rendered with DejaVu, black on white, in image format ``fmt`` (a scan without text layer)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(DEJAVU), size)
    image = Image.new("L", (1700, 200 + 90 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((100, 100 + i * 90), line, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    """A ZIP archive holding ``members`` (deflated)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
