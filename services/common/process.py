"""Process plumbing shared by services that run child processes."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL, parent_pid: int = 0) -> None:
    """Have the kernel send `sig` to this process when its parent dies, so no child outlives a
    killed parent (Linux). With `parent_pid`, exit at once if that parent is already gone (it
    died before the signal was armed)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    if parent_pid and os.getppid() != parent_pid:
        sys.exit(0)
