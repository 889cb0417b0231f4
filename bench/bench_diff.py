"""Benchmark: `exaudit diff` of two 100,000-recipient snapshots (and the same with the policy evaluated on both).

Budget (issue 11): under 5 s wall and under 1 GiB peak memory for the whole command. The two snapshots come from
bench/make_snapshot.py with different seeds, so their samples, members and probes differ (a worst case for the
comparison: every group's membership changes).

Run: .venv/bin/python bench/bench_diff.py [--recipients 100000] [--members 2000]
It prints the measured figures and their ratio to the budget, side by side, from one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from _measure import CPU, ROOT, cli  # bench/ is on sys.path when a bench script runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        snaps = []
        for seed in (2026, 2027):
            path = Path(tmp) / f"snapshot-{seed}.json"
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "make_snapshot.py"), "--recipients", str(args.recipients),
                 "--members", str(args.members), "--seed", str(seed), "--policy-dir", str(Path(tmp) / "policy"),
                 str(path)],
                check=True, capture_output=True,
            )  # fmt: skip
            snaps.append(str(path))
        policy = str(next((Path(tmp) / "policy").glob("*.yaml")))
        size = sum(Path(s).stat().st_size for s in snaps) / 2**20
        print(f"two snapshots: {args.recipients:,} recipients each, {size:.0f} MiB together")
        ok = True
        for label, extra in (("diff (state only)", []), ("diff --policy (both evaluated)", ["--policy", policy])):
            proc, wall, peak = cli("diff", *snaps, *extra)
            first = proc.stdout.splitlines()[0] if proc.stdout else proc.stderr.strip()
            print(f"{label}: exit {proc.returncode}; {first}")
            print(f"  wall   {wall:6.2f} s   budget 5 s      ratio {wall / 5:.2f}   (cpu {CPU['last']:.2f} s)")
            print(f"  peak   {peak / 1024:6.0f} MiB budget 1024 MiB ratio {peak / 1024 / 1024:.2f} (max RSS)")
            ok = ok and proc.returncode in (0, 1) and wall < 5 and peak < 1024 * 1024
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
