"""A minimal PDF 1.4 writer, standard library only: lines of monospaced text on A4 pages (landscape,
so that a table of 130-odd characters fits).

Enough for an invoice (`maas.cli.billing.invoice_pdf` lays one out): Courier, one of the 14 fonts
every reader has (nothing embedded), WinAnsi encoding (a character outside it prints as `?`), lines
longer than a page is wide wrapped, as many pages as the lines need, and a cross-reference table
whose offsets are each object's byte position, so readers need not repair the file.
"""

from __future__ import annotations

PAGE_WIDTH, PAGE_HEIGHT = 842, 595  # A4 landscape, in points
MARGIN = 48
FONT_SIZE = 9
LEADING = 12
# Courier's glyphs are 0.6 em wide.
CHARS_PER_LINE = int((PAGE_WIDTH - 2 * MARGIN) / (0.6 * FONT_SIZE))
LINES_PER_PAGE = int((PAGE_HEIGHT - 2 * MARGIN) / LEADING)


def _literal(text: str) -> bytes:
    """A PDF string literal: backslash, parentheses escaped; WinAnsi bytes."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _wrapped(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        line = line.expandtabs(4).replace("\r", "")
        out.extend(line[i : i + CHARS_PER_LINE] for i in range(0, max(len(line), 1), CHARS_PER_LINE))
    return out


def _content(lines: list[str]) -> bytes:
    """A page's content stream: the lines top-down, one `'` (next line, show) each."""
    ops = [b"BT", f"/F1 {FONT_SIZE} Tf {LEADING} TL {MARGIN} {PAGE_HEIGHT - MARGIN} Td".encode()]
    ops += [_literal(line) + b" '" for line in lines]
    ops.append(b"ET")
    return b"\n".join(ops)


def pdf_document(lines: list[str], title: str = "") -> bytes:
    """The lines as a PDF, `LINES_PER_PAGE` to a page (at least one page, blank if no lines)."""
    lines = _wrapped(lines)
    pages = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    # Objects: 1 catalog, 2 page tree, 3 font, 4 info, then a page and its content per page.
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(len(pages)))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _literal(title) + b" /Producer (MaaS) >>",
    ]
    for i, page in enumerate(pages):
        content = _content(page)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {6 + 2 * i} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # the binary comment marks the file as binary
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
