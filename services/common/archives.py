"""Unpacking archives that users send (models, datasets): nothing lands outside the destination."""

from __future__ import annotations

import tarfile
from pathlib import Path


class UnsafeArchive(tarfile.TarError):
    """A member that is not a plain file or directory, or whose path leaves the destination."""


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
