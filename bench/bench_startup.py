"""Benchmark: how fast exaudit starts, for the commands a CI step or a pre-commit hook runs most.

Limits (issue 13): `exaudit --version` under 150 ms and `exaudit validate` of the shipped policies under 400 ms,
wall time of the whole process (interpreter start included). Each command runs --runs times in a fresh process;
the median and the best are printed next to the limit. Then `python -X importtime` of each command lists the
modules that cost most, cumulative, so a regression names its import.

Run: .venv/bin/python bench/bench_startup.py [--runs 15] [--top 8]
On a shared machine the wall time moves with the load; the CPU time (user + system) of the command does much less.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
POLICIES = sorted(str(p) for p in (ROOT / "policies").glob("*.yaml"))

CASES: list[tuple[str, list[str], float]] = [
    ("python -c pass (interpreter floor)", ["-c", "pass"], 0.0),
    ("exaudit --version", ["-m", "audit", "--version"], 0.150),
    ("exaudit validate policies/*.yaml", ["-m", "audit", "validate", *POLICIES], 0.400),
]


def _time(args: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall time and CPU time (user + system of the child) of each run.

    On a loaded machine the wall time waits for a CPU; the CPU time is what the command itself costs, close to
    what an idle machine's wall time would be for this single-threaded start-up.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=ENV, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return walls, cpus


def _importtime(args: list[str], top: int) -> list[tuple[int, str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args], env=ENV, check=True, capture_output=True, text=True
    )
    rows = []
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match and len(match.group(3)) <= 3:  # top-level imports only: their cumulative time is what they cost
            rows.append((int(match.group(2)), match.group(4)))
    return sorted(rows, reverse=True)[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.runs} runs each")
    head = ("wall med", "wall best", "cpu med")
    print(f"{'command':36} {head[0]:>9} {head[1]:>9} {head[2]:>9} {'limit':>8} {'wall/limit':>10} {'cpu/limit':>9}")
    over = False
    for name, argv, limit in CASES:
        walls, cpus = _time(argv, args.runs)
        median, best, cpu = statistics.median(walls), min(walls), statistics.median(cpus)
        ratios = f"{median / limit:10.2f} {cpu / limit:9.2f}" if limit else f"{'-':>10} {'-':>9}"
        shown = f"{limit * 1000:6.0f}ms" if limit else f"{'-':>8}"
        print(f"{name:36} {median * 1000:7.0f}ms {best * 1000:7.0f}ms {cpu * 1000:7.0f}ms {shown} {ratios}")
        over |= bool(limit) and median > limit
    for name, argv, _limit in CASES[1:]:
        print(f"\n-X importtime, {name}: top-level imports by cumulative time")
        for micros, module in _importtime(argv, args.top):
            print(f"  {micros / 1000:7.1f}ms  {module}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
