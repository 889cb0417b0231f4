"""Output piped into a reader that stops early (`head`, `less` then q) ends quietly, as with any Unix tool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.cli import EXIT_BROKEN_PIPE

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
EXAUDIT = [sys.executable, "-m", "audit"]


@pytest.mark.parametrize("argv", [["lab", "scenarios"], ["schema"], ["completion", "bash"]])
def test_a_closed_pipe_ends_quietly(argv: list[str]) -> None:
    # The reader is gone before the first write: every write fails with EPIPE, deterministically.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [*EXAUDIT, *argv], stdout=write_end, stderr=subprocess.PIPE, text=True, env=ENV, timeout=60, check=False
        )
    finally:
        os.close(write_end)
    assert proc.stderr == ""  # no "internal error (BrokenPipeError)", no "Exception ignored", no traceback
    assert proc.returncode == EXIT_BROKEN_PIPE


@pytest.mark.parametrize("argv", ["lab scenarios", "schema"])
def test_piped_into_head(argv: str) -> None:
    script = f'"{sys.executable}" -m audit {argv} | head -1'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=ENV, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert len(proc.stdout.splitlines()) == 1
    assert proc.stdout.strip()


def test_a_command_error_is_still_reported_when_stdout_is_fine(tmp_path: Path) -> None:
    """The pipe handling does not swallow real errors."""
    proc = subprocess.run(
        [*EXAUDIT, "validate", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "missing.yaml" in proc.stderr
