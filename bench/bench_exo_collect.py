"""Exchange Online collection over InvokeCommand (paged) and Graph: a 20- and an N-recipient tenant side by side.

Run: ``.venv/bin/python bench/bench_exo_collect.py [--mailboxes 10000]``

For each tenant size the auditor (this process; the lab runs in a child process) collects with
``policies/callpro-exo.yaml``'s app and probe targets over real msal and HTTPS, and the bench prints:
  * logical calls recorded (must be equal for both sizes: a fixed plan, Test-ServicePrincipalAuthorization per
    probed mailbox, the Graph reads);
  * InvokeCommand POSTs sent (= the 20-recipient run's plus one per extra page of 1,000 objects, computed from the
    object counts);
  * elapsed time and this process's peak RSS (target < 400 MiB for N = 10,000).
Each size runs in a fresh child process of its own so the peak RSS is that run's.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import resource
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "policies" / "callpro-exo.yaml"
PAGE = 1000


def _lab(conn: Connection, mailboxes: int) -> None:
    from audit.lab.server import LabServer

    with LabServer(scenario="exo-compliant", mailboxes=mailboxes) as lab:
        creds = lab.exo_credentials
        conn.send(
            {
                "tenant": lab.tenant_id,
                "authority": lab.authority_url,
                "adminapi": lab.adminapi_url,
                "graph": lab.graph_url,
                "ca": str(lab.ca_cert_path),
                "auditor_id": creds.auditor_client_id,
                "auditor_secret": creds.auditor_client_secret,
            }
        )
        conn.recv()
        conn.send(lab.stats()["invoke_command"])
        conn.recv()


def _audit(conn: Connection, info: dict[str, Any]) -> None:
    """The auditor side, alone in its process so that ru_maxrss is its own peak."""
    from audit.collect.exo import collect_exo_state
    from audit.policy import load_policy
    from audit.run import probe_targets
    from audit.run_exo import apps_of
    from audit.target.exo import ExchangeOnline
    from audit.target.tokens import AppCredential

    policy = load_policy(POLICY)
    target = ExchangeOnline(
        tenant=info["tenant"],
        auditor=AppCredential(info["auditor_id"], secret=info["auditor_secret"]),
        authority_url=info["authority"],
        adminapi_url=info["adminapi"],
        graph_url=info["graph"],
        ca_bundle=Path(info["ca"]),
        timeout_seconds=300,
    )
    tokens = target.auditor_tokens()
    runner, graph = target.runner(tokens), target.graph(tokens)
    start = time.perf_counter()
    cpu = time.process_time()
    state = collect_exo_state(
        runner, graph, apps_of([policy]), resources=lambda s: [t.mailbox for t in probe_targets([policy], s, 1)]
    )
    elapsed = time.perf_counter() - start
    objects = {c.cmdlet: c.object_count for c in state.calls}
    extra_pages = sum(max(0, math.ceil(n / PAGE) - 1) for c, n in objects.items() if not c.startswith("Graph:"))
    conn.send(
        {
            "calls": len(state.calls),
            "failed": [c.cmdlet for c in state.calls if not c.ok],
            "posts": runner.pages,
            "extra_pages": extra_pages,
            "recipients": len(state.recipients),
            "elapsed": elapsed,
            "cpu": time.process_time() - cpu,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def measure(mailboxes: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    lab_conn, lab_child = ctx.Pipe()
    lab = ctx.Process(target=_lab, args=(lab_child, mailboxes), daemon=True)
    lab.start()
    info = lab_conn.recv()
    conn, child = ctx.Pipe()
    auditor = ctx.Process(target=_audit, args=(child, info), daemon=True)
    auditor.start()
    result: dict[str, Any] = conn.recv()
    auditor.join(30)
    lab_conn.send("stats")
    result["lab_invoke"] = sum(lab_conn.recv().values())
    lab_conn.send("stop")
    lab.join(30)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailboxes", type=int, default=10_000)
    args = parser.parse_args()
    small = measure(20)
    large = measure(args.mailboxes)
    print("Exchange Online collection over InvokeCommand (paged, 1,000 per page) and Graph; lab in a child process")
    header = f"{'tenant':>10}{'recipients':>12}{'calls':>8}{'POSTs':>8}{'extra pages':>13}{'elapsed s':>11}"
    print(f"{header}{'auditor CPU s':>15}{'peak RSS MiB':>14}")
    for name, r in (("20", small), (str(args.mailboxes), large)):
        print(
            f"{name:>10}{r['recipients']:>12}{r['calls']:>8}{r['posts']:>8}{r['extra_pages']:>13}"
            f"{r['elapsed']:>11.1f}{r['cpu']:>15.1f}{r['rss_mib']:>14.0f}"
        )
    print(f"failed calls: small {small['failed'] or 'none'}, large {large['failed'] or 'none'}")
    expected = small["posts"] + large["extra_pages"] - small["extra_pages"]
    print(
        f"targets: same logical calls {'met' if small['calls'] == large['calls'] else 'NOT met'} "
        f"({small['calls']} vs {large['calls']}); POSTs = small + extra pages "
        f"{'met' if large['posts'] == expected else 'NOT met'} ({large['posts']} vs {expected}); "
        f"lab counted {large['lab_invoke']} InvokeCommand requests; peak RSS < 400 MiB "
        f"{'met' if large['rss_mib'] < 400 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
