"""Benchmark the WHOLE collection over PowerShell remoting (every cmdlet of the plan), side by side in one run.

The lab runs in its own process (bench/_remote_lab.py: its own GIL, as Exchange is another machine) with NTLM and
WinRM message encryption, as a default on-premises /PowerShell without a Kerberos realm. Each measurement runs the
auditor's collector (audit.collect.collector.collect_state over audit.collect.psrp.PsrpRunner, real pypsrp) in a
fresh interpreter, so its CPU time and peak RSS are the client's alone:

  new : --psrp-pools 3 (independent cmdlets in parallel), unneeded properties skimmed before objects are built;
  old : --psrp-pools 1 (one cmdlet after another) with every property of every object parsed, then dropped:
        the collection path before issue 12 (same pypsrp, same mapping).

Printed per recipients x latency: objects collected, client CPU per object against the 0.25 ms limit, wall time
and peak RSS, and the new/old ratios. Figures on a shared 2-core box: read CPU (not wall) as the client's cost.

Usage: .venv/bin/python bench/bench_lab_psrp.py [--recipients 20,10000,100000] [--latency-ms 0,50]
                                                 [--modes new,old] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _remote_lab import RemoteLab, command_loop  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MS = 0.25  # client CPU per collected object (issue 12, item 2)

CLIENT = """
import json, resource, sys, time
from audit.collect.collector import collect_state
from audit.collect.psrp import PsrpEndpoint, PsrpRunner
port, user, password, service, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
runner = PsrpRunner(PsrpEndpoint("127.0.0.1", int(port), auth="ntlm", username=user, password=password),
                    pools=3 if mode == "new" else 1)
runner.skim = mode == "new"
wall0, cpu0 = time.perf_counter(), time.process_time()
state = collect_state(runner, [service], timeout=900)
wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
runner.close()
failed = [f"{c.cmdlet}: {c.error}" for c in state.calls if not c.ok]
print(json.dumps({"wall": wall, "cpu": cpu, "objects": sum(c.object_count for c in state.calls),
                  "calls": len(state.calls), "failed": failed,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _lab_process(conn: Connection, recipients: int) -> None:
    from audit.lab.server import LabServer

    # The compliant tenant grown by generated mailboxes to the wanted number of recipients (counted as the lab
    # serves them; not started, the first LabServer only counts). No Kerberos realm: /PowerShell offers Negotiate
    # (NTLM) with WinRM message encryption.
    grow = max(0, recipients - len(LabServer(scenario="compliant", kerberos_keytab="").tenant.recipients))
    with LabServer(scenario="compliant", mailboxes=grow, kerberos_keytab="") as lab:
        creds = lab.credentials
        conn.send(
            {
                "port": lab.port,
                "user": creds.auditor_username,
                "password": creds.auditor_password,
                "service": creds.service_username,
                "recipients": len(lab.tenant.recipients),
            }
        )
        command_loop(conn, lab, "powershell")


def _client(info: dict[str, Any], mode: str) -> dict[str, Any]:
    argv = [str(info["port"]), info["user"], info["password"], info["service"], mode]
    proc = subprocess.run(
        [sys.executable, "-c", CLIENT, *argv], capture_output=True, text=True, check=False, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"client failed ({mode}): {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["failed"]:
        raise SystemExit(f"collection failed ({mode}): {result['failed'][:3]}")
    return result


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=_ints, default=[20, 10_000, 100_000])
    parser.add_argument("--latency-ms", type=_ints, default=[0, 50])
    parser.add_argument("--modes", default="new,old")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m in ("new", "old")]

    print(f"limit: client CPU per collected object < {LIMIT_MS} ms; new = 3 pools + skim, old = 1 pool + full parse")
    header = f"{'recipients':>10} {'latency':>7} {'mode':>4} {'objects':>8} {'cpu s':>7} {'cpu/obj ms':>10}"
    print(header + f" {'/limit':>6} {'wall s':>7} {'rss MiB':>7} {'lab cpu s':>9}")
    for recipients in args.recipients:
        # The lab's compliant tenant holds 20 recipients before growing; grow it to the wanted total.
        lab = RemoteLab(_lab_process, max(0, recipients - 20))
        try:
            for latency in args.latency_ms:
                best: dict[str, dict[str, Any]] = {}
                for _ in range(args.rounds):
                    for mode in modes:  # interleaved rounds: load on the shared box hits both alike
                        lab.latency(latency)
                        before = lab.stats()["cpu_seconds"]
                        result = _client(lab.info, mode)
                        result["lab_cpu"] = lab.stats()["cpu_seconds"] - before
                        if mode not in best or result["cpu"] < best[mode]["cpu"]:
                            best[mode] = result
                for mode, r in best.items():
                    per = r["cpu"] / max(1, r["objects"]) * 1000
                    print(
                        f"{lab.info['recipients']:>10} {latency:>5}ms {mode:>4} {r['objects']:>8} {r['cpu']:>7.2f} "
                        f"{per:>10.3f} {per / LIMIT_MS:>6.2f} {r['wall']:>7.2f} {r['rss_mib']:>7.0f} "
                        f"{r['lab_cpu']:>9.2f}"
                    )
                if "new" in best and "old" in best:
                    new, old = best["new"], best["old"]
                    print(
                        f"{'':>10} {'':>7} new/old: cpu {new['cpu'] / old['cpu']:.2f}x, wall "
                        f"{new['wall'] / old['wall']:.2f}x, rss {new['rss_mib'] / old['rss_mib']:.2f}x"
                    )
        finally:
            lab.close()


if __name__ == "__main__":
    main()
