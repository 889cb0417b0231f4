"""Benchmark: `exaudit verify` of a signed bundle holding a 100,000-recipient snapshot and every report.

Budget (issue 11): under 2 s wall for the whole command (a fresh interpreter: import, signature, streamed SHA-256
of every file). The bundle is built like `exaudit run --bundle` builds it: the snapshot from bench/make_snapshot.py,
the reports from `exaudit evaluate --report-dir`, then the manifest signed with a key from `exaudit keygen`.

Run: .venv/bin/python bench/bench_bundle.py [--recipients 100000] [--members 2000]
It prints the measured figures and their ratio to the budget, side by side, from one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import CPU, ROOT, cli  # bench/ is on sys.path when a bench script runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from audit import bundle

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bundle"
        policy_dir = Path(tmp) / "policy"
        snap = folder / "snapshot.json"
        folder.mkdir()
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "make_snapshot.py"), "--recipients", str(args.recipients),
             "--members", str(args.members), "--policy-dir", str(policy_dir), str(snap)],
            check=True, capture_output=True,
        )  # fmt: skip
        policy = next(policy_dir.glob("*.yaml"))
        proc, _, _ = cli("evaluate", str(policy), "--snapshot", str(snap), "--report-dir", str(folder), "-q")
        assert proc.returncode in (0, 1), proc.stderr
        proc, _, _ = cli("keygen", "--out", str(Path(tmp) / "bench"))
        assert proc.returncode == 0, proc.stderr
        key = bundle.load_private_key(Path(tmp) / "bench.key")
        t0 = time.perf_counter()
        count = bundle.sign(folder, key, tool_version="bench", created_at="bench")
        sign_s = time.perf_counter() - t0
        total_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        proc, wall, peak = cli("verify", str(folder), "--public-key", str(Path(tmp) / "bench.pub"))
        print(f"bundle: {args.recipients:,} recipients, {count} files, {total_mb:.1f} MiB (signed in {sign_s:.2f} s)")
        print(f"exaudit verify exit code {proc.returncode}: {proc.stdout.strip() or proc.stderr.strip()}")
        print(f"wall   {wall:6.2f} s   budget 2 s      ratio {wall / 2:.2f}   (cpu {CPU['last']:.2f} s)")
        print(f"peak   {peak / 1024:6.0f} MiB (max RSS; streamed hashing keeps it flat)")
        return 0 if proc.returncode == 0 and wall < 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
