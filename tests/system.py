"""System parts some tests need, outside the virtualenv: found, or the test is skipped with one line
naming what is missing and the command that installs it (`scripts/test.sh` installs them when it
runs as root). With `MAAS_TEST_STRICT` set (CI), a missing part fails the test instead."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pytest

# Every skip for a missing part starts with this, so the run's summary can gather them.
MISSING = "missing system part"


@dataclass(frozen=True)
class SystemPart:
    name: str
    what: str
    install: str
    programs: tuple[str, ...]


PARTS = {
    part.name: part
    for part in (
        SystemPart("prometheus", "the Prometheus server", "sudo apt-get install prometheus", ("prometheus",)),
        SystemPart("promtool", "promtool (Prometheus rules)", "sudo apt-get install prometheus", ("promtool",)),
        SystemPart("chromium", "Chromium", "sudo apt-get install chromium", ("chromium", "chromium-browser")),
        SystemPart("h2load", "h2load (HTTP/2 load)", "sudo apt-get install nghttp2-client", ("h2load",)),
        SystemPart(
            "kubectl",
            "kubectl (renders k8s/)",
            "install kubectl >= 1.27 (https://kubernetes.io/docs/tasks/tools/)",
            ("kubectl",),
        ),
    )
}
POSTGRES = SystemPart(
    "postgresql",
    "PostgreSQL at 127.0.0.1:5432",
    "sudo apt-get install postgresql, start it (sudo pg_ctlcluster <version> main start) or set MAAS_TEST_POSTGRES_URL",
    (),
)


def missing(part: SystemPart) -> None:
    """Skip the calling test (fail it under MAAS_TEST_STRICT) for want of `part`."""
    message = f"{MISSING}: {part.what} ({part.name}); install: {part.install}"
    if os.environ.get("MAAS_TEST_STRICT"):
        pytest.fail(f"{message} [MAAS_TEST_STRICT is set, as in CI]")
    pytest.skip(message)


def require(name: str) -> str:
    """The path of the program behind system part `name`, or skip the test naming how to install it."""
    part = PARTS[name]
    for program in part.programs:
        path = shutil.which(program)
        if path:
            return path
    missing(part)
    raise AssertionError("unreachable")


def summary(skip_reasons: list[str]) -> list[str]:
    """Lines for the end of the run: each part's state, and how many tests each missing one skipped."""
    counts: dict[str, int] = {}
    for reason in skip_reasons:
        if MISSING in reason:
            line = reason[reason.index(MISSING) :]
            counts[line] = counts.get(line, 0) + 1
    lines = [f"{count} skipped -- {line}" for line, count in sorted(counts.items())]
    found = [p.name for p in PARTS.values() if any(shutil.which(prog) for prog in p.programs)]
    if os.environ.get("MAAS_TEST_POSTGRES_URL"):
        found.append(POSTGRES.name)
    lines.append(f"present and used: {', '.join(sorted(found)) or 'none'}")
    return lines
