"""Unpacking archives that users send (models, datasets): nothing lands outside the destination,
and nothing expands far beyond the archive's own size."""

from __future__ import annotations

import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

# An archive may expand to this many times its own size (plus a floor), and hold this many files.
EXPANSION_FACTOR = 20
EXPANSION_FLOOR = 64 << 20
MAX_MEMBERS = 100_000


class UnsafeArchive(tarfile.TarError):
    """A member that is not a plain file or directory, or whose path leaves the destination."""


class ArchiveTooLarge(tarfile.TarError):
    """Too many members, or more bytes unpacked than the archive's size allows (a bomb)."""


class BrokenArchive(tarfile.TarError):
    """A member that does not unpack: encrypted, an unsupported compression, corrupt data."""


def extract_tar(tar: tarfile.TarFile, destination: Path) -> None:
    """Extract with the rules of tarfile's `data` filter (no absolute paths, no `..`, no devices)."""
    if hasattr(tarfile, "data_filter"):  # Python 3.12, and 3.11.4 onwards
        tar.extractall(destination, filter="data")
        return
    # Older 3.11 releases (Debian bookworm's python3 is 3.11.2) have no filters: check by hand,
    # more strictly (no links at all), then extract only what was checked.
    root = destination.resolve()
    members = []
    for member in tar.getmembers():
        if not (member.isfile() or member.isdir()):
            raise UnsafeArchive(f"{member.name!r}: only regular files and directories are allowed")
        if not (root / member.name).resolve().is_relative_to(root):
            raise UnsafeArchive(f"{member.name!r}: the path leaves the archive's directory")
        member.mode &= 0o755  # no set-id bits, as the data filter does
        members.append(member)
    tar.extractall(destination, members=members)


def archive_kind(path: Path) -> str | None:
    """`zip` or `tar` (compressed or not) by content, never by file name; None for neither."""
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        return "tar" if tarfile.is_tarfile(path) else None
    except OSError:
        return None


def _check_size(archive: Path, sizes: list[int]) -> None:
    if len(sizes) > MAX_MEMBERS:
        raise ArchiveTooLarge(f"the archive holds {len(sizes)} files, more than {MAX_MEMBERS}")
    if sum(sizes) > archive.stat().st_size * EXPANSION_FACTOR + EXPANSION_FLOOR:
        raise ArchiveTooLarge("the archive expands to too much data for its size")


def _extract_zip(zipped: zipfile.ZipFile, destination: Path) -> None:
    root = destination.resolve()
    for info in zipped.infolist():
        name = info.filename
        if name.startswith("/") or ".." in Path(name).parts or not (root / name).resolve().is_relative_to(root):
            raise UnsafeArchive(f"{name!r}: the path leaves the archive's directory")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchive(f"{name!r}: only regular files and directories are allowed")
    # zipfile reads each member up to its declared size and checks its CRC, so the declared
    # sizes bound what is written.
    zipped.extractall(destination)


def extract_archive(path: Path, destination: Path) -> None:
    """Unpack a zip or tar into `destination` within the limits above.

    Raises UnsafeArchive, ArchiveTooLarge, or tarfile.TarError / zipfile.BadZipFile / OSError for
    an archive that is broken or neither kind."""
    kind = archive_kind(path)
    if kind == "zip":
        with zipfile.ZipFile(path) as zipped:
            _check_size(path, [i.file_size for i in zipped.infolist()])
            try:
                _extract_zip(zipped, destination)
            except (RuntimeError, NotImplementedError, ValueError, zlib.error) as error:
                raise BrokenArchive(f"a member does not unpack ({error})") from None
    elif kind == "tar":
        with tarfile.open(path) as tar:
            _check_size(path, [m.size for m in tar.getmembers()])
            extract_tar(tar, destination)
    else:
        raise tarfile.ReadError("neither a tar nor a zip archive")
