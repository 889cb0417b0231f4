"""Benchmark: how fast exaudit starts, for the commands a CI step or a pre-commit hook runs most.

Limits (issue 13): `exaudit --version` under 150 ms and `exaudit validate` of the shipped policies under 400 ms,
wall time of the whole process (interpreter start included). Each command runs --runs times in a fresh process;
the median and the best are printed next to the limit. Then `python -X importtime` of each command lists the
modules that cost most, cumulative, so a regression names its import.

Run: .venv/bin/python bench/bench_startup.py [--runs 15] [--top 8]
On a shared machine the median moves with the load: the best run is the figure of an idle machine.
"""

from __future__ import annotations

import argparse
import os
import re
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


def _time(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=ENV, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


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
    print(f"{'command':38} {'median':>9} {'best':>9} {'limit':>9} {'median/limit':>13}")
    over = False
    for name, argv, limit in CASES:
        times = _time(argv, args.runs)
        median, best = statistics.median(times), min(times)
        ratio = f"{median / limit:.2f}" if limit else "-"
        shown = f"{limit * 1000:7.0f}ms" if limit else "        -"
        print(f"{name:38} {median * 1000:7.0f}ms {best * 1000:7.0f}ms {shown} {ratio:>13}")
        over |= bool(limit) and median > limit
    for name, argv, _limit in CASES[1:]:
        print(f"\n-X importtime, {name}: top-level imports by cumulative time")
        for micros, module in _importtime(argv, args.top):
            print(f"  {micros / 1000:7.1f}ms  {module}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
