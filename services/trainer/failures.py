"""The failure a job reports to its user. In a module of its own: the runner runs as `__main__`,
so a class defined there would not be the one the modules it imports raise."""

from __future__ import annotations


class JobFailure(Exception):
    """Ends the job FAILED with this user-facing reason; `kind` is the short code for metrics."""

    def __init__(self, message: str, kind: str = "data") -> None:
        super().__init__(message)
        self.kind = kind
