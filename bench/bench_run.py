"""`exaudit run` with every mailbox in scope and probed, measured side by side in one run, with ratios.

Run: ``.venv/bin/python bench/bench_run.py [--mailboxes 10000 100000] [--latency-ms 0 50] [--concurrency 27]
[--rounds 1] [--auth ntlm]``

For each size N the lab (its own process: its own interpreter and GIL, as Exchange is another machine) grows the
compliant tenant by N generated mailboxes, every one a direct member of the scope's group, and the policy is
``policies/callpro.yaml`` with its members in a generated file: the 6 named members and the N generated ones. So
every mailbox is in scope and probed (N + 6 in-scope probes and the 2 canaries), which is what the headline figure
claims. Authentication is NTLM by default (the lab, like Exchange, offers no Basic unless asked); the latency is
added to every request of both endpoints (PowerShell and EWS), as a remote server would add it.

Each configuration runs ``--rounds`` times, the latencies interleaved within a round (the machine is shared:
min/median/max shown). Per run: wall time, peak RSS of the exaudit process (VmHWM), exit code, and the breakdown
timed inside the exaudit process (collection over PowerShell, probing over EWS, evaluation, snapshot, reports).

Limits and baselines printed beside each figure:
  * 100,000 mailboxes at 50 ms, concurrency 27: wall < 8 min, peak RSS < 600 MiB (issue 12 item 5);
  * probing against its latency bound, (N + 8) x latency / concurrency: what a client that cost nothing would take;
  * the whole run against the same run on the scenario's own tenant (the fixed cost), and PowerShell cmdlet calls that
    must not grow with N.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _remote_lab import RemoteLab, command_loop  # bench/ is on sys.path when a bench script runs

from audit import snapshot as snap
from audit.lab.generate import generated_address
from audit.lab.server import LabServer
from audit.snapshot import Probe, ProbeOutcome

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "policies" / "callpro.yaml"
NAMED_MEMBERS = ("ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field")
CANARIES = 2
WALL_LIMIT_S = 8 * 60
RSS_LIMIT_MIB = 600

# Runs `exaudit` (audit.cli.main) and times its phases from inside; the figures go to stderr as one JSON line.
CHILD = r"""
import atexit, json, sys, time
import audit.cli, audit.evaluate, audit.run
phases = {}
def timed(module, name, label):
    inner = getattr(module, name, None)
    if inner is None:
        return
    def wrapper(*args, **kwargs):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            p = phases.setdefault(label, [0.0, 0.0])
            p[0] += time.perf_counter() - t0
            p[1] += time.process_time() - c0
    setattr(module, name, wrapper)
timed(audit.run, "_read_state", "collection")
timed(audit.run, "_probe", "probing")
timed(audit.evaluate, "evaluate_all", "evaluation")
timed(audit.cli, "_write_snapshot", "snapshot")
timed(audit.cli, "write_reports", "reports")
def report():
    with open("/proc/self/status", encoding="ascii") as status:
        hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print("BENCH " + json.dumps({"phases": phases, "hwm_kib": hwm, "cpu": time.process_time()}), file=sys.stderr)
atexit.register(report)
sys.exit(audit.cli.main(sys.argv[1:]))
"""


def _lab_process(conn: Connection, mailboxes: int) -> None:
    """The grown lab, every generated mailbox in the scope's group; obeys the parent's commands."""
    with LabServer(scenario="compliant", mailboxes=mailboxes or None, group_members=mailboxes) as lab:
        creds = lab.credentials
        conn.send(
            {
                "port": lab.port,
                "auditor": creds.auditor_username,
                "auditor_password": creds.auditor_password,
                "service": creds.service_username,
                "service_password": creds.service_password,
                "domain": lab.tenant.organization.domain,
            }
        )

        def stats(_arg: Any) -> dict[str, Any]:
            s = lab.stats()
            return {"cmdlet_calls": s["cmdlet_calls"], "cmdlets": s["cmdlets"], "ews_requests": s["ews"]["requests"]}

        command_loop(conn, lab, "*", {"stats": stats})


def write_policy(folder: Path, mailboxes: int, domain: str) -> Path:
    """callpro.yaml with its members in a generated file (named members and every generated mailbox)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = POLICY.read_text(encoding="utf-8")
    members = re.compile(r"^    exactly:\n(?:      - .*\n)+", re.MULTILINE)
    text, count = members.subn("    file: members.txt\n", text)
    if count != 1:
        raise SystemExit("policies/callpro.yaml no longer lists its members under 'exactly:'")
    addresses = [f"{name}@{domain}" for name in NAMED_MEMBERS]
    addresses += [generated_address(i, domain) for i in range(mailboxes)]
    (folder / "members.txt").write_text("\n".join(addresses) + "\n", encoding="utf-8")
    policy = folder / "callpro.yaml"
    policy.write_text(text, encoding="utf-8")
    return policy


def exaudit_run(lab: RemoteLab, policy: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One `exaudit run` in a child process: exit code, wall, peak RSS, phase breakdown, the lab's counts."""
    info = lab.info
    env = dict(os.environ)
    env["EXAUDIT_AUDIT_PASSWORD"] = info["auditor_password"]
    env["EXAUDIT_SERVICE_PASSWORD"] = info["service_password"]
    argv = [
        sys.executable, "-c", CHILD, "run", str(policy),
        "--server", "127.0.0.1", "--port", str(info["port"]), "--scheme", "http", "--auth", args.auth,
        "--audit-user", info["auditor"], "--service-user", info["service"], "--timeout", "600",
        "--deadline", "3600", "--report-dir", str(out), "--snapshot-out", str(out / "snapshot.json"), "--quiet",
    ]  # fmt: skip
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    bench: dict[str, Any] = next(
        (json.loads(line[6:]) for line in proc.stderr.splitlines() if line.startswith("BENCH ")), {}
    )
    if proc.returncode not in (0, 1) or not bench:
        print(f"  (exaudit run exited {proc.returncode}: {proc.stderr.strip()[-800:]})")
    probes: tuple[Probe, ...] = ()
    concurrency = 0
    if proc.returncode in (0, 1):  # read with exaudit's own loader: the file layout is its business
        snapshot, _sha = snap.load(out / "snapshot.json")
        probes = snapshot.probes
        concurrency = snapshot.probe_run.concurrency if snapshot.probe_run is not None else 0
    return {
        "code": proc.returncode,
        "wall": wall,
        "rss": bench.get("hwm_kib", 0) / 1024.0,
        "cpu": bench.get("cpu", 0.0),
        "phases": bench.get("phases", {}),
        "probes": len(probes),
        "allowed": sum(1 for p in probes if p.outcome == ProbeOutcome.ALLOWED),
        "retried": sum(1 for p in probes if p.attempts > 1),
        "concurrency": concurrency,
        **lab.stats(),
    }


def _spread(values: list[float], fmt: str = "{:.1f}") -> str:
    values = sorted(values)
    return "/".join(fmt.format(v) for v in (values[0], statistics.median(values), values[-1]))


def _phase(results: list[dict[str, Any]], name: str) -> list[float]:
    return [r["phases"].get(name, [0.0, 0.0])[0] for r in results]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--concurrency", type=int, default=27, help="--concurrency given to exaudit (0: its default)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--auth", default="ntlm", choices=["ntlm", "negotiate", "basic"])
    parser.add_argument("--no-demo", action="store_true", help="skip `exaudit demo`")
    args = parser.parse_args()
    results: dict[tuple[int, int], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="exaudit-bench-") as tmp:
        for n in [0, *args.mailboxes]:
            # n = 0: the baseline, the scenario's own tenant (its 6 named members and 2 canaries, no growth).
            lab = RemoteLab(_lab_process, n)
            try:
                policy = write_policy(Path(tmp) / f"policy-{n}", n, lab.info["domain"])
                latencies = args.latency_ms if n else args.latency_ms[-1:]
                for r in range(args.rounds):
                    for lat in latencies:
                        lab.latency(lat)
                        out = Path(tmp) / f"out-{n}-{lat}-{r}"
                        out.mkdir()
                        results.setdefault((n, lat), []).append(exaudit_run(lab, policy, out, args))
                        print(f"  done: {n} mailboxes, {lat} ms, round {r + 1}: {results[(n, lat)][-1]['wall']:.0f} s")
            finally:
                lab.close()
        demo = None
        if not args.no_demo:
            start = time.perf_counter()
            code = subprocess.run(
                [sys.executable, "-m", "audit", "demo", "--out", str(Path(tmp) / "demo"), "--quiet"], check=False
            ).returncode
            demo = (code, time.perf_counter() - start, (Path(tmp) / "demo" / "report.html").is_file())
    _print(results, args, demo)


def _print(results: dict[tuple[int, int], list[dict[str, Any]]], args: argparse.Namespace, demo: Any) -> None:
    conc = args.concurrency or 0
    print(
        f"\nexaudit run, policies/callpro.yaml with every mailbox in its members file and scope group, {args.auth}, "
        f"lab in its own process, --concurrency {conc or 'default'}; min/median/max of {args.rounds} round(s)"
    )
    base = results.get((0, args.latency_ms[-1]), [])
    for (n, lat), runs in sorted(results.items()):
        r0 = runs[0]
        wall = [r["wall"] for r in runs]
        probing = _phase(runs, "probing")
        expected_probes = n + len(NAMED_MEMBERS) + CANARIES
        used = r0["concurrency"] or conc or 1
        bound = expected_probes * (lat / 1000) / used
        print(
            f"  {n or 'scenario':>8} mailboxes, {lat:>2} ms: exit {','.join(str(r['code']) for r in runs)}  "
            f"wall {_spread(wall)} s"
            f"  peak RSS {_spread([r['rss'] for r in runs], '{:.0f}')} MiB  CPU {_spread([r['cpu'] for r in runs])} s"
        )
        print(
            f"      probes {r0['probes']} ({r0['allowed']} allowed, expected {expected_probes}; "
            f"{r0['retried']} retried) at concurrency {used}; "
            f"PSRP cmdlet calls {r0['cmdlet_calls']}, EWS requests {r0['ews_requests']}"
        )
        print(
            "      breakdown (s): "
            + "  ".join(f"{name} {_spread(_phase(runs, name))}" for name in ("collection", "probing", "evaluation"))
            + f"  snapshot {_spread(_phase(runs, 'snapshot'))}  reports {_spread(_phase(runs, 'reports'))}"
        )
        if lat:
            print(
                f"      probing {statistics.median(probing):.1f} s vs its latency bound {bound:.1f} s "
                f"({expected_probes} x {lat} ms / {used}): {bound / max(statistics.median(probing), 1e-9):.0%} of ideal"
            )
        if n == max(args.mailboxes) and lat == max(args.latency_ms):
            med_wall = statistics.median(wall)
            med_rss = statistics.median(r["rss"] for r in runs)
            print(
                f"      LIMITS: wall {med_wall:.0f} s = {med_wall / WALL_LIMIT_S:.0%} of {WALL_LIMIT_S} s "
                f"({'met' if med_wall < WALL_LIMIT_S else 'MISSED'}); peak RSS {med_rss:.0f} MiB = "
                f"{med_rss / RSS_LIMIT_MIB:.0%} of {RSS_LIMIT_MIB} MiB "
                f"({'met' if med_rss < RSS_LIMIT_MIB else 'MISSED'})"
            )
        if base and n:
            b = base[0]
            same = "same" if r0["cmdlets"] == b["cmdlets"] else "DIFFERENT"
            print(
                f"      vs the scenario tenant at {args.latency_ms[-1]} ms "
                f"({statistics.median(r['wall'] for r in base):.1f} s, "
                f"{statistics.median(r['rss'] for r in base):.0f} MiB): cmdlet calls {r0['cmdlet_calls']} vs "
                f"{b['cmdlet_calls']} ({same})"
            )
    if demo is not None:
        code, seconds, html = demo
        print(
            f"exaudit demo: exit {code}, {seconds:.1f} s from start to written HTML (html written: {html}) = "
            f"{seconds / 15:.0%} of the 15 s budget"
        )


if __name__ == "__main__":
    main()
