r"""What reaches the terminal: progress on stderr (a rich bar on a terminal, plain lines in CI logs), made inert.

Text from outside (server error texts, directory names, policy values, file names) can hold terminal escape
sequences (``\x1b[2J`` clears the screen, OSC 8 forges links, bidi overrides reorder what a reviewer reads):
:func:`terminal_safe` writes each such character as a visible escape. The CLI passes every message through it at
the edge, just before writing to stderr.
"""

from __future__ import annotations

import time
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

# One class of dangerous characters for the whole program: the one PowerShell quoting escapes (C0, DEL, C1, line and
# paragraph separators, bidi embeddings, overrides, isolates and marks).
from audit.evaluate.powershell import escape_control


def terminal_safe(text: str) -> str:
    r"""``text`` as one inert line: every control character (newline included) is shown as ``\x1b`` or ``\u202e``."""
    return escape_control(text)


class RichProgress:
    """A progress bar for an interactive terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._task: TaskID | None = None

    def start(self, total: int, label: str) -> None:
        """Begin a phase of ``total`` steps."""
        if self._task is None:
            self._progress.start()
        else:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(escape(terminal_safe(label)), total=total)

    def advance(self, n: int = 1) -> None:
        """Count ``n`` steps done."""
        if self._task is not None:
            self._progress.advance(self._task, n)

    def finish(self) -> None:
        """End the current phase."""
        if self._task is not None:
            self._progress.stop()
            self._task = None


class PlainProgress:
    """Plain lines for logs: the phase, then at most one line every few seconds, then the total."""

    def __init__(self, stream: TextIO, interval: float = 5.0) -> None:
        self._stream = stream
        self._interval = interval
        self._label = ""
        self._total = 0
        self._done = 0
        self._last = 0.0

    def start(self, total: int, label: str) -> None:
        """Begin a phase of ``total`` steps."""
        self._label, self._total, self._done = terminal_safe(label), total, 0
        self._last = time.monotonic()
        self._stream.write(f"{self._label}: {total} to do\n")
        self._stream.flush()

    def advance(self, n: int = 1) -> None:
        """Count ``n`` steps done."""
        self._done += n
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._stream.write(f"{self._label}: {self._done}/{self._total}\n")
            self._stream.flush()

    def finish(self) -> None:
        """End the current phase."""
        self._stream.write(f"{self._label}: {self._done}/{self._total} done\n")
        self._stream.flush()


def make_progress(stream: TextIO) -> RichProgress | PlainProgress:
    """A progress sink suited to ``stream``."""
    return RichProgress(stream) if stream.isatty() else PlainProgress(stream)
