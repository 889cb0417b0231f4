"""Shared by the bench scripts that time one `exaudit` command in a fresh interpreter: wall, CPU and peak memory."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU = {"last": 0.0}  # CPU seconds of the last command
PROBE = (
    "import resource, sys\n"
    "from audit.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def cli(*argv: str) -> tuple[subprocess.CompletedProcess[str], float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], check=False, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time next to wall time: the machine is shared, and wall time includes waiting for a core.
    CPU["last"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = max((int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KIB")), default=0)
    return proc, wall, peak
