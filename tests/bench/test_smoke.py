"""Every benchmark under bench/ runs to its figures in its smoke mode (tiny sizes), so a benchmark
that breaks fails the suite. The full runs stay outside it; their figures are not checked here."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import system

pytestmark = [pytest.mark.slow, pytest.mark.bench]
ROOT = Path(__file__).resolve().parents[2]
# A line each benchmark prints only after its last measurement, with the figure it compares.
FIGURES = {
    "registry": r"download via gateway\s+\d+(\.\d+)? MB/s",
    "training": r"ratio a/b: \d+\.\d+",
    "inference": r"\(a\)/\(c\) = \d+\.\d+[\s\S]*inference CPU per primary request, medians: without shadow \d+ us",
    "gateway": r"\(a\)/\(b\) requests/s = \d+\.\d+",
    "upload": r"sha256 after resume: \w+\.\.\. = the file's: True",
    "soak": r"largest rss growth after warm-up: [+-]\d+\.\d+%",
    "tracing": r"tracing on/off per call = \d+\.\d+",
    "accounts": r"session check / key lookup per request = \d+\.\d+",
}
NEEDS = {"inference": "h2load", "gateway": "h2load"}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_benchmark_runs_to_its_figures_in_smoke_mode(name):
    if name in NEEDS:
        system.require(NEEDS[name])
    result = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, f"bench.{name} --smoke failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    assert re.search(FIGURES[name], result.stdout), result.stdout
