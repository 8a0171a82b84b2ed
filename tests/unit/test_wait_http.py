"""`wait_http` fails loudly: a server that never answers is a TimeoutError naming the URL, not a quiet return."""

import socket

import pytest

from tests.conftest import wait_http


def test_wait_http_raises_when_nothing_answers_in_time():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        with pytest.raises(TimeoutError, match="did not answer 200"):
            wait_http(url, 0.3)
