"""`exaudit run` against each hostile server case: wall time and peak RSS next to their limits.

Run: ``.venv/bin/python bench/bench_hostile_server.py [--repeat N] [--only TEXT]``

Each case (tests/hostile/servers.py) points one protocol at a small hostile HTTP server on 127.0.0.1 (endless
body, 1 byte/s body or headers, redirect to another port, XXE and billion laughs, contradictory SOAP, huge headers,
escape codes) and the other at the embedded lab, runs the real CLI in a child process and reads that child's own
peak RSS (wait4). Limits (issue 7): time < the run's bound (2 x --timeout + --deadline) + 5 s, memory < 300 MiB.
The worst of ``--repeat`` runs is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audit.lab.server import LabServer  # noqa: E402
from tests.hostile.servers import CASES, MEMORY_LIMIT_MIB, RUN_BOUND, LabAccess, play  # noqa: E402


def main() -> int:
    """Play every case and print its figures; exit 1 when a limit is broken."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per case (the worst is printed)")
    parser.add_argument("--only", default="", help="only the cases whose name holds this text")
    args = parser.parse_args()
    broken = 0
    print(f"{'case':44} {'exit':>4} {'time s':>7} {'limit s':>7} {'peak MiB':>8} {'limit':>6}  ok")
    with LabServer("compliant", tls=True, basic=True) as lab, tempfile.TemporaryDirectory() as tmp:
        creds = lab.credentials
        assert lab.ca_cert_path is not None
        access = LabAccess(
            lab.port,
            creds.auditor_username,
            creds.auditor_password,
            creds.service_username,
            creds.service_password,
            lab.ca_cert_path,
        )
        for n, case in enumerate(c for c in CASES if args.only in c.name):
            worst_time, worst_rss, codes = 0.0, 0.0, set()
            for r in range(max(1, args.repeat)):
                outcome = play(case, access, Path(tmp) / f"{n}-{r}")
                worst_time = max(worst_time, outcome.seconds)
                worst_rss = max(worst_rss, outcome.peak_rss_mib)
                codes.add(outcome.code)
            ok = worst_time < RUN_BOUND and worst_rss < MEMORY_LIMIT_MIB and codes == {3}
            broken += not ok
            code = ",".join(str(c) for c in sorted(codes))
            print(
                f"{case.name:44} {code:>4} {worst_time:7.1f} {RUN_BOUND:7.1f} {worst_rss:8.0f} "
                f"{MEMORY_LIMIT_MIB:6.0f}  {'yes' if ok else 'NO'}",
                flush=True,
            )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
