"""Graph probe throughput against the lab's Exchange Online mode, measured side by side in one run, with ratios.

Run: ``.venv/bin/python bench/bench_graph_probe.py [--mailboxes 10000] [--latency-ms 50] [--concurrency 8]
[--naive-seconds 10]``

Measures, on one lab tenant with N mailboxes (all in the scope group), L ms added per Graph request (every
sub-request of a $batch too, and the lab dispatches a batch's sub-requests 4 at a time, as Graph does):
  A. GraphProber: $batch of 20, C batches in flight. Its limit is C * 20 / (ceil(20 / 4) * L): each batch needs
     five rounds of L; the target is >= 80% of that limit.
  B. the naive approach: a sequential loop of single ``GET /v1.0/users/{id}/calendar`` (one token, one session).
     It is time-boxed to a sample (``--naive-seconds``) and its rate extrapolated to N; the target is A >= 10x B.
The lab runs in a child process (its own interpreter and GIL, as Microsoft's service is another machine) on the
same cores. Real msal acquires the probing app's token over HTTPS from the lab's token service.
"""

from __future__ import annotations

import argparse
import math
import time
import urllib.parse
from multiprocessing.connection import Connection
from pathlib import Path

from _remote_lab import RemoteLab, command_loop  # bench/ is on sys.path when a bench script runs

from audit.collect import https
from audit.errors import ProbeError
from audit.lab.generate import generated_address
from audit.lab.server import LabServer
from audit.probe.graph import BATCH_SIZE
from audit.probe.interface import ProbeSettings, ProbeTarget
from audit.snapshot import ProbeOutcome
from audit.target.exo import ExchangeOnline
from audit.target.tokens import GRAPH_RESOURCE, AppCredential

LAB_DISPATCH = 4  # sub-requests of one $batch the lab (like Graph) runs at once


def _lab_process(conn: Connection, mailboxes: int) -> None:
    with LabServer(scenario="exo-compliant", mailboxes=mailboxes, group_members=mailboxes) as lab:
        creds = lab.exo_credentials
        conn.send(
            {
                "tenant": lab.tenant_id,
                "authority": lab.authority_url,
                "adminapi": lab.adminapi_url,
                "graph": lab.graph_url,
                "ca": str(lab.ca_cert_path),
                "client_id": creds.integration_client_id,
                "secret": creds.integration_client_secret,
                "auditor_id": creds.auditor_client_id,
                "auditor_secret": creds.auditor_client_secret,
            }
        )
        stats = {"stats": lambda _arg: {"graph": lab.stats()["graph"], "cpu_seconds": time.process_time()}}
        command_loop(conn, lab, "graph", stats)


class GraphLab(RemoteLab):
    """The lab's Exchange Online mode in a child process; the target for its integration app."""

    def __init__(self, mailboxes: int) -> None:
        super().__init__(_lab_process, mailboxes)

    def target(self, concurrency: int) -> ExchangeOnline:
        i = self.info
        return ExchangeOnline(
            tenant=i["tenant"],
            auditor=AppCredential(i["auditor_id"], secret=i["auditor_secret"]),
            prober=AppCredential(i["client_id"], secret=i["secret"]),
            authority_url=i["authority"],
            adminapi_url=i["adminapi"],
            graph_url=i["graph"],
            ca_bundle=Path(i["ca"]),
            concurrency=concurrency,
            timeout_seconds=60,
            deadline_seconds=3600,
        )


def measure_batched(lab: GraphLab, targets: list[ProbeTarget], concurrency: int, latency_ms: int) -> dict[str, float]:
    lab.latency(latency_ms)
    target = lab.target(concurrency)
    settings = ProbeSettings(concurrency=concurrency, deadline_seconds=3600, request_timeout=60)
    prober = target.graph_prober(target.prober_tokens(), settings)
    try:
        start = time.perf_counter()
        probes, run = prober.run(targets)
        elapsed = time.perf_counter() - start
    finally:
        prober.close()
    bad = [p for p in probes if p.outcome is not ProbeOutcome.ALLOWED]
    if bad or not run.completed:
        raise SystemExit(f"{len(bad)} probes did not succeed, e.g. {bad[0] if bad else run.error}")
    return {"rate": len(targets) / elapsed, "elapsed": elapsed, "batches": float(prober.batches)}


def measure_naive(lab: GraphLab, addresses: list[str], latency_ms: int, seconds: float) -> dict[str, float]:
    """The obvious way: one GET per mailbox, one after the other, time-boxed; the rate is extrapolated."""
    lab.latency(latency_ms)
    target = lab.target(1)
    token = target.prober_tokens().token(GRAPH_RESOURCE, ProbeError)
    session = https.make_session(str(target.ca_bundle), pool=1)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    done = 0
    start = time.perf_counter()
    for address in addresses:
        url = f"{target.graph_url}/v1.0/users/{urllib.parse.quote(address, safe='@')}/calendar"
        reply = https.send(session, "GET", url, deadline=time.monotonic() + 60, headers=headers)
        if reply.status != 200:
            raise SystemExit(f"naive GET {address}: HTTP {reply.status}")
        done += 1
        if time.perf_counter() - start >= seconds:
            break
    elapsed = time.perf_counter() - start
    session.close()
    return {"rate": done / elapsed, "elapsed": elapsed, "sample": float(done)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--naive-seconds", type=float, default=10.0)
    args = parser.parse_args()
    lab = GraphLab(args.mailboxes)
    try:
        addresses = [generated_address(i) for i in range(args.mailboxes)]
        targets = [ProbeTarget(a, "allow", "groupMembers") for a in addresses]
        batched = measure_batched(lab, targets, args.concurrency, args.latency_ms)
        naive = measure_naive(lab, addresses, args.latency_ms, args.naive_seconds)
    finally:
        lab.close()
    rounds = math.ceil(BATCH_SIZE / LAB_DISPATCH)
    limit = args.concurrency * BATCH_SIZE / (rounds * args.latency_ms / 1000.0)
    naive_total = args.mailboxes / naive["rate"]
    print(f"Graph probes of {args.mailboxes} mailboxes, {args.latency_ms} ms per Graph request, lab in a child process")
    print(f"{'':34}{'probes/s':>10}{'total s':>10}{'vs limit':>10}{'vs naive':>10}")
    print(
        f"{'A. $batch 20, ' + str(args.concurrency) + ' batches in flight':34}{batched['rate']:10.1f}"
        f"{batched['elapsed']:10.1f}{batched['rate'] / limit:10.0%}{batched['rate'] / naive['rate']:9.1f}x"
    )
    print(
        f"{'B. naive sequential single GETs':34}{naive['rate']:10.1f}{naive_total:10.1f}{'':>10}{'1.0x':>10}"
        f"   (time-boxed: {int(naive['sample'])} GETs in {naive['elapsed']:.1f} s, total extrapolated to N)"
    )
    print(
        f"limit = {args.concurrency} batches x {BATCH_SIZE} / ({rounds} rounds x {args.latency_ms} ms) = "
        f"{limit:.0f} probes/s; $batch requests sent: {int(batched['batches'])}"
    )
    print(
        f"targets: A >= 80% of limit: {'met' if batched['rate'] >= 0.8 * limit else 'NOT met'}; "
        f"A >= 10x B: {'met' if batched['rate'] >= 10 * naive['rate'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
