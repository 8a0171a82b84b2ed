"""Both log formats render an exception's traceback instead of failing on it, without its frames' locals."""

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
            features = "tenant-secret-7f3a"  # a request's payload, as a servicer's local variable
            raise ValueError(f"boom {len(features)}")
        except ValueError as error:
            structlog.get_logger("t").error("unhandled exception", exc_info=error)
    finally:
        configure_logging("test", level="info", fmt="console", cache=False)  # as tests/conftest.py does
    text = out.getvalue()
    assert "ValueError" in text and "boom" in text
    assert "tenant-secret-7f3a" not in text
    if fmt == "json":
        assert json.loads(text.strip().splitlines()[-1])["exception"][0]["exc_type"] == "ValueError"
