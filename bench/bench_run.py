"""`exaudit run` on a large lab tenant and `exaudit demo`, measured side by side in one run.

Run: ``.venv/bin/python bench/bench_run.py [--mailboxes 10000]``

Measures:
  1. `exaudit run policies/callpro.yaml` (a child process) against a 20-mailbox and an N-mailbox lab tenant (the
     lab in another child process): wall time, peak RSS of the exaudit process (target < 400 MiB at N = 10,000)
     and the PSRP cmdlet calls the lab counted (target: the same for 20 and N);
  2. `exaudit demo` from start to written HTML report (target < 15 s).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from audit.lab.server import LabServer

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "policies" / "callpro.yaml"


def _lab_process(conn: Connection, mailboxes: int) -> None:
    with LabServer(scenario="compliant", mailboxes=mailboxes) as lab:
        creds = lab.credentials
        conn.send(
            {
                "port": lab.port,
                "auditor": creds.auditor_username,
                "auditor_password": creds.auditor_password,
                "service": creds.service_username,
                "service_password": creds.service_password,
            }
        )
        while True:
            command = conn.recv()
            if command == "stats":
                stats = lab.stats()
                conn.send({"cmdlet_calls": stats["cmdlet_calls"], "cmdlets": stats["cmdlets"]})
            else:
                return


def _run_child(argv: list[str], env: dict[str, str]) -> tuple[int, float, float]:
    """Run a child process; return its exit code, wall seconds and peak RSS in MiB (from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode not in (0, 1):
        print(f"  ({' '.join(argv[3:5])} exited {proc.returncode}: {err.strip()[-600:]})")
    return proc.returncode, elapsed, usage.ru_maxrss / 1024.0  # Linux: KiB


def exaudit_run(mailboxes: int, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    lab = ctx.Process(target=_lab_process, args=(child, mailboxes), daemon=True)
    lab.start()
    info = conn.recv()
    env = dict(os.environ)
    env["EXAUDIT_AUDIT_PASSWORD"] = info["auditor_password"]
    env["EXAUDIT_SERVICE_PASSWORD"] = info["service_password"]
    argv = [
        sys.executable, "-m", "audit", "run", str(POLICY),
        "--server", "127.0.0.1", "--port", str(info["port"]), "--scheme", "http", "--auth", "ntlm",
        "--audit-user", info["auditor"], "--service-user", info["service"], "--timeout", "300",
        "--report-dir", str(out), "--snapshot-out", str(out / "snapshot.json"),
    ]  # fmt: skip
    try:
        code, elapsed, rss = _run_child(argv, env)
        conn.send("stats")
        stats = conn.recv()
    finally:
        conn.send("stop")
        lab.join(30)
    return {"code": code, "elapsed": elapsed, "rss": rss, **stats}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="exaudit-bench-") as tmp:
        small = exaudit_run(20, Path(tmp) / "small")
        large = exaudit_run(args.mailboxes, Path(tmp) / "large")
        code, demo_s, demo_rss = _run_child(
            [sys.executable, "-m", "audit", "demo", "--out", str(Path(tmp) / "demo"), "--quiet"], dict(os.environ)
        )
        html = (Path(tmp) / "demo" / "report.html").is_file()
    print("exaudit run, policies/callpro.yaml, NTLM with encryption, lab in its own process (one run)")
    for label, r in (("20 mailboxes", small), (f"{args.mailboxes} mailboxes", large)):
        print(
            f"  {label:>17}: exit {r['code']}  wall {r['elapsed']:6.1f} s  peak RSS {r['rss']:6.1f} MiB  "
            f"PSRP cmdlet calls {r['cmdlet_calls']}"
        )
    print(
        f"  peak RSS at {args.mailboxes}: {large['rss']:.0f} MiB = {large['rss'] / 400:.0%} of the 400 MiB budget; "
        f"cmdlet calls {large['cmdlet_calls']} vs {small['cmdlet_calls']} "
        f"({'same' if large['cmdlets'] == small['cmdlets'] else 'DIFFERENT'})"
    )
    print(
        f"exaudit demo: exit {code}, {demo_s:.1f} s from start to written HTML (html written: {html}) = "
        f"{demo_s / 15:.0%} of the 15 s budget; peak RSS {demo_rss:.0f} MiB"
    )


if __name__ == "__main__":
    main()
