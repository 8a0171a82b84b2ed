"""Reading back what `services.gateway.invoice_pdf` writes, strictly: the header, every xref offset
pointing at its object, the trailer's startxref at the xref, the stream lengths right; and the text
the pages show. Written for the tests (no PDF library is installed), for the subset the writer uses."""

from __future__ import annotations

import re

_OBJECT = re.compile(rb"(\d+) 0 obj\n(.*?)\nendobj\n", re.S)


def pdf_objects(data: bytes) -> dict[int, bytes]:
    """The objects by number, after checking the file's structure (AssertionError when broken)."""
    assert data.startswith(b"%PDF-1.4\n"), data[:16]
    assert data.endswith(b"%%EOF\n")
    startxref = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert data[startxref:].startswith(b"xref\n"), "startxref does not point at the xref table"
    table = data[startxref:].split(b"trailer\n", 1)[0].splitlines()
    first, count = map(int, table[1].split())
    entries = table[2 : 2 + count]
    assert first == 0 and len(entries) == count and entries[0] == b"0000000000 65535 f "
    size = int(re.search(rb"/Size (\d+)", data[startxref:]).group(1))
    assert size == count
    objects = {}
    for number, entry in enumerate(entries[1:], start=1):
        assert len(entry) == 19 and entry.endswith(b" 00000 n "), entry  # 20 bytes with the newline
        offset = int(entry[:10])
        found = _OBJECT.match(data, offset)
        assert found and int(found.group(1)) == number, f"xref entry {number} points at {data[offset : offset + 20]!r}"
        objects[number] = found.group(2)
    for body in objects.values():
        if b"stream\n" in body:
            length = int(re.search(rb"/Length (\d+)", body).group(1))
            stream = body.split(b"stream\n", 1)[1].rsplit(b"\nendstream", 1)[0]
            assert len(stream) == length, (len(stream), length)
    return objects


def pdf_pages(data: bytes) -> list[list[str]]:
    """Each page's lines of text, in the page tree's order."""
    objects = pdf_objects(data)
    root = int(re.search(rb"/Root (\d+) 0 R", data).group(1))
    pages_ref = int(re.search(rb"/Pages (\d+) 0 R", objects[root]).group(1))
    kids = [int(k) for k in re.findall(rb"(\d+) 0 R", objects[pages_ref].split(b"/Kids", 1)[1].split(b"]")[0])]
    assert int(re.search(rb"/Count (\d+)", objects[pages_ref]).group(1)) == len(kids)
    pages = []
    for kid in kids:
        assert b"/Type /Page " in objects[kid]
        content = objects[int(re.search(rb"/Contents (\d+) 0 R", objects[kid]).group(1))]
        stream = content.split(b"stream\n", 1)[1].rsplit(b"\nendstream", 1)[0]
        shown = re.findall(rb"^\((.*)\) '$", stream, re.M)
        pages.append([_unescape(s) for s in shown])
    return pages


def _unescape(literal: bytes) -> str:
    return re.sub(rb"\\([\\()])", rb"\1", literal).decode("cp1252")


def pdf_text(data: bytes) -> str:
    return "\n".join(line for page in pdf_pages(data) for line in page)
