"""Progress on stderr: a rich bar on a terminal, plain lines in CI logs."""

from __future__ import annotations

import io

from audit.console import PlainProgress, RichProgress, make_progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_rich_bar_that_survives_two_phases() -> None:
    stream = _Tty()
    progress = make_progress(stream)
    assert isinstance(progress, RichProgress)
    progress.start(12, "reading Exchange over PowerShell remoting")
    progress.advance(12)
    progress.finish()
    progress.start(8, "probing 8 mailboxes over EWS")
    for _ in range(8):
        progress.advance()
    progress.finish()
    assert "probing 8 mailboxes" in stream.getvalue()


def test_a_log_gets_plain_lines() -> None:
    stream = io.StringIO()
    progress = make_progress(stream)
    assert isinstance(progress, PlainProgress)
    progress.start(3, "probing")
    progress.advance(3)
    progress.finish()
    assert stream.getvalue().splitlines() == ["probing: 3 to do", "probing: 3/3 done"]
    assert "\x1b[" not in stream.getvalue()  # no terminal control codes in CI logs
