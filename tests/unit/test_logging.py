"""Both log formats render an exception's traceback instead of failing on it."""

import io
import json

import pytest
import structlog

from services.common.logging import configure_logging


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_render_in_both_formats(fmt):
    out = io.StringIO()
    configure_logging("test", fmt=fmt, cache=False, stream=out)
    try:
        try:
            raise ValueError("boom")
        except ValueError as error:
            structlog.get_logger("t").error("unhandled exception", exc_info=error)
    finally:
        configure_logging("test", level="info", fmt="console", cache=False)  # as tests/conftest.py does
    text = out.getvalue()
    assert "ValueError" in text and "boom" in text
    if fmt == "json":
        assert json.loads(text.strip().splitlines()[-1])["exception"][0]["exc_type"] == "ValueError"
