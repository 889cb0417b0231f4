"""Benchmark: `exaudit evaluate` with every report format on a 100,000-recipient snapshot.

Budget (issue 2): under 10 s wall and under 1 GiB peak memory for the whole command, and the OPATH evaluation of
a MemberOfGroup filter over those recipients under 1 s (bench/bench_opath.py measures that part on its own).

Run: .venv/bin/python bench/bench_core.py [--recipients 100000] [--members 2000]
It prints the measured figures and their ratio to the budget, side by side, from one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "snapshot.json"
        policy_dir = Path(tmp) / "policy"
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "make_snapshot.py"),
                "--recipients",
                str(args.recipients),
                "--members",
                str(args.members),
                "--policy-dir",
                str(policy_dir),
                str(snap),
            ],
            check=True,
        )
        gen = time.perf_counter() - t0
        size_mb = snap.stat().st_size / 1e6
        # Run the real CLI entry point in a fresh interpreter that reports its own peak RSS at exit.
        probe = (
            "import resource, sys\n"
            "from audit.cli import main\n"
            "rc = main(sys.argv[1:])\n"
            "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(rc)\n"
        )
        policy = next(policy_dir.glob("*.yaml"))
        argv = ["evaluate", str(policy), "--snapshot", str(snap), "--report-dir", str(Path(tmp) / "reports"), "-q"]
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", probe, *argv], check=False, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        peak_kib = max(
            (int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KIB")), default=0
        )
        reports = sorted(p.name for p in (Path(tmp) / "reports").glob("*"))
        print(
            f"snapshot: {args.recipients:,} recipients, {args.members:,} members, "
            f"{size_mb:.1f} MB (made in {gen:.1f} s)"
        )
        print(f"exaudit evaluate exit code {proc.returncode}; reports: {', '.join(reports)}")
        if proc.returncode not in (0, 1):
            print(proc.stderr)
        print(f"wall   {wall:6.2f} s   budget 10 s     ratio {wall / 10:.2f}")
        print(f"peak   {peak_kib / 1024:6.0f} MiB budget 1024 MiB ratio {peak_kib / 1024 / 1024:.2f} (max RSS)")
        return 0 if wall < 10 and peak_kib < 1024 * 1024 else 1


if __name__ == "__main__":
    raise SystemExit(main())
