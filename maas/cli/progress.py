"""Live progress on stderr: redrawn in place on a terminal, one plain line per step otherwise."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from maas.cli.output import metrics, size
from maas.trainer.v1 import trainer_pb2

State = trainer_pb2.TrainingJob.State
BAR_WIDTH = 24


def bar(done: float, total: float, width: int = BAR_WIDTH) -> str:
    filled = int(width * min(done / total, 1)) if total > 0 else 0
    return "[" + "#" * filled + "." * (width - filled) + "]"


def state_name(state: int) -> str:
    return State.Name(state).removeprefix("STATE_").lower()


class Line:
    """One status line: redrawn in place on a TTY; on anything else only `final` lines are written."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._open = False

    def update(self, text: str, final: bool = False) -> None:
        """Show `text`; `final` ends its line (always written, also when not a TTY)."""
        if self.tty:
            # A line longer than the terminal would wrap, and `\r` would then redraw only its tail.
            width = shutil.get_terminal_size().columns - 1
            self.stream.write("\r\x1b[K" + text[:width] + ("\n" if final else ""))
            self._open = not final
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """A line of its own, below the one being redrawn."""
        if self._open:
            self.stream.write("\n")
            self._open = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False

    def clear(self) -> None:
        """Remove the line being redrawn."""
        if self._open:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._open = False


class TransferProgress:
    """A `progress(done, total)` callback for uploads and downloads: a bar on a terminal while the
    bytes move, gone when the command prints its result; nothing at all elsewhere."""

    def __init__(self, verb: str, stream: TextIO | None = None) -> None:
        self.verb = verb
        self.line = Line(stream)

    def __call__(self, done: int, total: int) -> None:
        self.line.update(f"{self.verb} {bar(done, total)} {size(done)} of {size(total)}")

    def __enter__(self) -> TransferProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.line.clear()


class JobProgress:
    """Renders a training job's events: states, log lines, epochs with loss and metrics, evaluation."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.line = Line(stream)
        self.final: trainer_pb2.TrainingJobEvent.StateChange | None = None

    def __call__(self, event: trainer_pb2.TrainingJobEvent) -> None:
        kind = event.WhichOneof("kind")
        if kind == "epoch_end":
            e = event.epoch_end
            remaining = (e.total_epochs - e.epoch) * e.duration_seconds
            eta = f"  eta {remaining:.0f}s" if e.epoch < e.total_epochs and e.duration_seconds else ""
            text = f"epoch {e.epoch:>{len(str(e.total_epochs))}}/{e.total_epochs} {bar(e.epoch, e.total_epochs)} "
            # On a terminal the line is redrawn each epoch; elsewhere every epoch is a line of the log.
            self.line.update(text + metrics(e.metrics) + eta, final=not self.line.tty)
        elif kind == "state_change":
            change = event.state_change
            self.final = change
            state = state_name(change.state)
            reason = f": {change.reason}" if change.reason and change.reason != state else ""
            self.line.say(f"{state}{reason}")
        elif kind == "log":
            self.line.say(event.log.message)
        elif kind == "evaluation":
            version = f" -> {event.evaluation.model_version}" if event.evaluation.model_version else ""
            self.line.say(f"evaluation {metrics(event.evaluation.metrics)}{version}")

    def close(self) -> None:
        self.line.close()
