"""Benchmark: `exaudit evaluate` of a 100,000-recipient snapshot with every report format, per snapshot layout.

Limits (issue 12, item 3): under 350 MiB peak RSS and under 3 s wall for the whole command (a fresh interpreter:
imports, load, evaluation, HTML + JUnit + JSON + SARIF + Markdown). Baseline, measured in the same run: the same
snapshot in the single-line layout exaudit wrote before (the checksum first, the raw cmdlet output parsed with the
rest, read whole), which the loader still reads the way it always did.

The snapshots come from bench/make_snapshot.py (the raw cmdlet output included, as `exaudit collect` keeps it).
Rounds are interleaved (old, new plain, new gzip, old, ...) so a busy machine slows every layout alike; each
figure is min / median / max over the rounds, CPU time beside wall time. Then the cost of writing each layout from
a loaded snapshot (what `collect` and `run --snapshot-out` pay), and the file sizes.

Run: .venv/bin/python bench/bench_evaluate.py [--recipients 100000] [--members 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _measure import CPU, ROOT, cli  # bench/ is on sys.path when a bench script runs

ZSTD = importlib.util.find_spec("compression") is not None  # Python 3.14+: compression.zstd
LIMIT_S = 3.0
LIMIT_MIB = 350.0
WRITE = (
    "import resource, sys, time\n"
    "from pathlib import Path\n"
    "from audit import snapshot as s\n"
    "from audit.files import write_private\n"
    "snap, _ = s.load(Path(sys.argv[1]), evidence=True)\n"
    "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "t, c = time.perf_counter(), time.process_time()\n"
    "if sys.argv[2].endswith('.old.json'):\n"
    "    write_private(Path(sys.argv[2]), s.dumps(snap).encode('utf-8'))  # how write() worked before\n"
    "else:\n"
    "    s.write(snap, Path(sys.argv[2]))\n"
    "wall, cpu = time.perf_counter() - t, time.process_time() - c\n"
    "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base\n"
    "print(f'{wall:.3f} {cpu:.3f} {grown}')\n"
)


def _make(out: Path, args: argparse.Namespace, *extra: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "make_snapshot.py"), "--recipients", str(args.recipients),
         "--members", str(args.members), "--policy-dir", str(out.parent / "policy"), *extra, str(out)],
        check=True, capture_output=True,
    )  # fmt: skip


def _spread(values: list[float]) -> str:
    return f"{min(values):6.2f} / {statistics.median(values):6.2f} / {max(values):6.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {
            "old single-line .json (baseline)": folder / "snapshot.old.json",
            "line layout .json": folder / "snapshot.json",
            "line layout .json.gz": folder / "snapshot.json.gz",
        }
        if ZSTD:
            files["line layout .json.zst"] = folder / "snapshot.json.zst"
        _make(files["old single-line .json (baseline)"], args, "--single-line")
        for label, path in files.items():
            if not label.startswith("old"):
                _make(path, args)
        policy = str(next((folder / "policy").glob("*.yaml")))
        walls: dict[str, list[float]] = {label: [] for label in files}
        cpus: dict[str, list[float]] = {label: [] for label in files}
        peaks: dict[str, list[float]] = {label: [] for label in files}
        codes: dict[str, set[int]] = {label: set() for label in files}
        for _ in range(args.rounds):
            for label, path in files.items():
                reports = folder / "reports"
                proc, wall, peak = cli("evaluate", policy, "--snapshot", str(path), "--report-dir", str(reports), "-q")
                walls[label].append(wall)
                cpus[label].append(CPU["last"])
                peaks[label].append(peak / 1024)
                codes[label].add(proc.returncode)
                if proc.returncode not in (0, 1):
                    print(f"{label}: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
        base = "old single-line .json (baseline)"
        print(
            f"exaudit evaluate, {args.recipients:,} recipients, all five report formats, {args.rounds} interleaved "
            "rounds (min / median / max)"
        )
        # Wall time is CPU time plus waiting for a core: on a shared machine the load average says how much.
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall ~ cpu when it is below that)")
        ok = True
        for label in files:
            wall, peak = statistics.median(walls[label]), statistics.median(peaks[label])
            cpu = statistics.median(cpus[label])
            print(f"{label}: exit {sorted(codes[label])}")
            print(
                f"  wall {_spread(walls[label])} s    limit {LIMIT_S:.0f} s    ratio {wall / LIMIT_S:.2f}   "
                f"vs baseline {wall / statistics.median(walls[base]):.2f}   (cpu median {cpu:.2f} s)"
            )
            print(
                f"  peak {_spread(peaks[label])} MiB  limit {LIMIT_MIB:.0f} MiB  ratio {peak / LIMIT_MIB:.2f}   "
                f"vs baseline {peak / statistics.median(peaks[base]):.2f}   (max RSS)"
            )
            if label != base:
                ok = ok and codes[label] <= {0, 1} and max(walls[label]) < LIMIT_S and max(peaks[label]) < LIMIT_MIB
        print("writing a loaded snapshot (one run each; peak = RSS growth while writing):")
        for name in ("snapshot.old.json", "out.json", "out.json.gz"):
            proc = subprocess.run(
                [sys.executable, "-c", WRITE, str(files["line layout .json"]), str(folder / f"w-{name}")],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            seconds, cpu_s, grown = proc.stdout.split()
            label = "old single-line (dumps, baseline)" if name.endswith(".old.json") else f"line layout {name[3:]}"
            print(
                f"  {label:36s} wall {float(seconds):6.2f} s  cpu {float(cpu_s):6.2f} s  +{int(grown) / 1024:6.0f} MiB"
            )
        print("file sizes:")
        plain = files["line layout .json"].stat().st_size
        for label, path in files.items():
            size = path.stat().st_size
            print(f"  {label:36s} {size / 2**20:7.1f} MiB   ratio to plain {plain / size:5.1f}x")
        if not ZSTD:
            print(f"  .json.zst: n/a (needs Python 3.14's compression.zstd; this is {sys.version.split()[0]})")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
