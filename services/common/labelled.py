"""Image and text datasets: finding their labelled examples and profiling them, shared by the
registry (checked and described on upload) and the trainer (the examples it trains on).

An image dataset is an archive of class-named folders of PNG or JPEG files, or an archive with
one CSV at its top naming each file and its label. A text dataset is a CSV or JSON lines file
with a text and a label column. Bad examples are left out, counted and named; a dataset with
no usable example at all is refused.
"""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from services.common.errors import InvalidArgument
from services.common.tabular import csv_rows

IMAGE, TEXT = "image", "text"
# Columns of an archive's label CSV: the file (relative to the CSV) and its label.
FILE_COLUMNS = ("file", "filename", "path", "image")
LABEL_COLUMNS = ("label", "class")
IMAGE_FORMATS = frozenset({"PNG", "JPEG"})
# Larger images are left out before they are decoded (Pillow's own bomb check is at 179M).
MAX_IMAGE_PIXELS = 40_000_000
MAX_INVALID_LISTED = 20
MAX_SAMPLES = 8
THUMBNAIL_SIDE = 64
MAX_SAMPLE_TEXT = 300
_CHANNELS = {"1": 1, "L": 1, "P": 3, "I;16": 1, "I": 1, "F": 1, "LA": 2, "RGB": 3, "YCbCr": 3, "CMYK": 3, "RGBA": 4}
_IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db")


@dataclass
class Profile:
    """What the registry records about an image or text dataset (stored as JSON)."""

    kind: str
    classes: dict[str, int] = field(default_factory=dict)
    image_stats: dict[str, int] = field(default_factory=dict)
    text_stats: dict[str, float] = field(default_factory=dict)
    # {"label", "file" or "text", "thumbnail_png" (base64)}
    samples: list[dict[str, str]] = field(default_factory=list)
    invalid_count: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)
    text_column: str = ""
    label_column: str = ""

    @property
    def row_count(self) -> int:
        return sum(self.classes.values())

    def to_json(self) -> dict:
        return asdict(self)

    def left_out(self, name: str, reason: str) -> None:
        self.invalid_count += 1
        if len(self.invalid) < MAX_INVALID_LISTED:
            self.invalid.append((name, reason))

    def refuse_if_empty(self, what: str) -> None:
        if self.row_count:
            return
        shown = "; ".join(f"{name}: {reason}" for name, reason in self.invalid[:5])
        raise InvalidArgument(
            f"no usable {what}: {self.invalid_count} left out" + (f" ({shown})" if shown else " (the dataset is empty)")
        )


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in _IGNORED


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in (".png", ".jpg", ".jpeg")


def image_root(root: Path) -> Path:
    """The folder holding the class folders (or the label CSV): the archive's top, or the one
    folder a zip of a folder wraps everything in."""
    while True:
        entries = [p for p in root.iterdir() if _visible(p)]
        if len(entries) != 1 or not entries[0].is_dir():
            return root
        inner = [p for p in entries[0].iterdir() if _visible(p)]
        if any(p.is_file() and _is_image_name(p) for p in inner):
            return root  # the only folder is a class folder
        root = entries[0]


def image_examples(root: Path) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """(file, label) of every candidate image under an unpacked archive, and what was left out
    (name relative to the archive, reason). Whether a file decodes is the caller's to check."""
    base = image_root(root)
    examples: list[tuple[Path, str]] = []
    invalid: list[tuple[str, str]] = []
    top = sorted(p for p in base.iterdir() if _visible(p))
    label_files = [p for p in top if p.is_file() and p.suffix.lower() == ".csv"]
    if len(label_files) == 1:
        return _listed_examples(root, base, label_files[0])
    for entry in top:
        if entry.is_file():
            invalid.append((str(entry.relative_to(root)), "not in a class folder"))
            continue
        for path in sorted(entry.rglob("*")):
            if path.is_file() and all(_visible(Path(part)) for part in path.relative_to(base).parts):
                examples.append((path, entry.name))
    return examples, invalid


def _listed_examples(root: Path, base: Path, label_file: Path):
    examples: list[tuple[Path, str]] = []
    invalid: list[tuple[str, str]] = []
    rows = csv_rows(label_file)
    _, names = next(rows)
    lowered = [n.lower() for n in names]
    file_index = next((lowered.index(c) for c in FILE_COLUMNS if c in lowered), None)
    label_index = next((lowered.index(c) for c in LABEL_COLUMNS if c in lowered), None)
    if file_index is None or label_index is None:
        raise InvalidArgument(
            f"{label_file.relative_to(root)}: needs a file column ({', '.join(FILE_COLUMNS)}) and a label "
            f"column ({', '.join(LABEL_COLUMNS)}); it has {names}"
        )
    resolved_base = base.resolve()
    for line, fields in rows:
        name, label = fields[file_index].strip(), fields[label_index].strip()
        where = f"{label_file.name} line {line}"
        path = (base / name).resolve()
        if not label:
            invalid.append((where, "empty label"))
        elif not name or not path.is_relative_to(resolved_base) or not path.is_file():
            invalid.append((where, f"file {name[:100]!r} not found in the archive"))
        else:
            examples.append((path, label))
    return examples, invalid


def _thumbnail(image) -> str:
    from PIL import Image

    thumb = image.convert("RGBA" if "A" in image.getbands() else "RGB" if image.mode not in ("L", "1") else "L")
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    if thumb.width < 32:  # tiny images (8x8 digits) are shown enlarged, pixel by pixel
        scale = 32 // thumb.width
        thumb = thumb.resize((thumb.width * scale, thumb.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    thumb.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode()


def profile_images(root: Path) -> Profile:
    """Decode every candidate image of an unpacked archive (Pillow) and describe the usable ones."""
    from PIL import Image, UnidentifiedImageError

    profile = Profile(kind=IMAGE)
    examples, invalid = image_examples(root)
    for name, reason in invalid:
        profile.left_out(name, reason)
    counts: Counter[str] = Counter()
    channels: Counter[int] = Counter()
    widths: list[int] = []
    heights: list[int] = []
    sampled: Counter[str] = Counter()
    for path, label in examples:
        name = str(path.relative_to(root))
        try:
            with Image.open(path) as image:
                if image.format not in IMAGE_FORMATS:
                    profile.left_out(name, f"{image.format} images are not supported (PNG or JPEG)")
                    continue
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    profile.left_out(name, f"{image.width}x{image.height} is larger than {MAX_IMAGE_PIXELS} pixels")
                    continue
                image.load()
                if len(profile.samples) < MAX_SAMPLES and sampled[label] < max(1, MAX_SAMPLES // 4):
                    sampled[label] += 1
                    profile.samples.append(
                        {"label": label, "file": path.relative_to(root).as_posix(), "thumbnail_png": _thumbnail(image)}
                    )
        except UnidentifiedImageError:
            profile.left_out(name, "not an image")
            continue
        except Exception as error:  # noqa: BLE001 - image decoders raise many kinds (SyntaxError, struct.error, ...)
            profile.left_out(name, f"unreadable ({str(error)[:80] or type(error).__name__})")
            continue
        counts[label] += 1
        widths.append(image.width)
        heights.append(image.height)
        channels[_CHANNELS.get(image.mode, 3)] += 1
    profile.classes = dict(sorted(counts.items()))
    profile.refuse_if_empty("images")
    profile.image_stats = {
        "min_width": min(widths),
        "min_height": min(heights),
        "max_width": max(widths),
        "max_height": max(heights),
        "channels": channels.most_common(1)[0][0],
    }
    return profile


def text_examples(path: Path, jsonl: bool, text_column: str, label_column: str) -> Iterator[tuple[str, str, str, str]]:
    """(where, text, label, reason) per example; reason is empty for a usable one."""
    if jsonl:
        yield from _jsonl_examples(path, text_column, label_column)
        return
    rows = csv_rows(path)
    _, names = next(rows)
    for column in (text_column, label_column):
        if column not in names:
            raise InvalidArgument(f"CSV line 1: no column {column!r}; the columns are {names}")
    text_index, label_index = names.index(text_column), names.index(label_column)
    for line, fields in rows:
        yield _checked(f"line {line}", fields[text_index], fields[label_index])


def _jsonl_examples(path: Path, text_column: str, label_column: str):
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            where = f"line {number}"
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                yield where, "", "", f"not valid JSON ({str(error)[:80]})"
                continue
            if not isinstance(record, dict):
                yield where, "", "", "not a JSON object"
                continue
            text, label = record.get(text_column), record.get(label_column)
            if not isinstance(text, str):
                yield where, "", "", f"no string {text_column!r}"
                continue
            if isinstance(label, bool) or not isinstance(label, str | int):
                yield where, "", "", f"no string or integer {label_column!r}"
                continue
            yield _checked(where, text, str(label))


def _checked(where: str, text: str, label: str) -> tuple[str, str, str, str]:
    if not text.strip():
        return where, text, label, "empty text"
    if not label.strip():
        return where, text, label, "empty label"
    return where, text, label.strip(), ""


def profile_texts(path: Path, jsonl: bool, text_column: str, label_column: str) -> Profile:
    profile = Profile(kind=TEXT, text_column=text_column, label_column=label_column)
    counts: Counter[str] = Counter()
    lengths = [0, 0, 0]  # min, max, total
    sampled: Counter[str] = Counter()
    for where, text, label, reason in text_examples(path, jsonl, text_column, label_column):
        if reason:
            profile.left_out(where, reason)
            continue
        counts[label] += 1
        size = len(text)
        lengths = [min(lengths[0], size) if lengths[2] else size, max(lengths[1], size), lengths[2] + size]
        if len(profile.samples) < MAX_SAMPLES and sampled[label] < max(1, MAX_SAMPLES // 4):
            sampled[label] += 1
            profile.samples.append({"label": label, "text": text[:MAX_SAMPLE_TEXT]})
    profile.classes = dict(sorted(counts.items()))
    profile.refuse_if_empty("texts")
    profile.text_stats = {
        "min_chars": lengths[0],
        "max_chars": lengths[1],
        "mean_chars": lengths[2] / profile.row_count,
    }
    return profile
