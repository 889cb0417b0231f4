"""Probe throughput and client CPU against the lab's EWS endpoint, side by side in one run, with ratios.

Run: ``.venv/bin/python bench/bench_probe.py [--mailboxes 3000] [--latency-ms 50] [--naive 200] [--rounds 3]``

One lab tenant (its own process: its own interpreter and GIL, as Exchange is another machine) with N mailboxes,
every one in the scope group; NTLM, as the lab and Exchange offer it by default (Basic is off). Interleaved rounds
(min / median / max), because the machine is shared and one round can catch a noisy neighbour:

  A  the prober at concurrency 13 with L ms added per EWS request: target >= 85% of 13 / L (260/s at 50 ms);
  B  the prober at concurrency 27 with L ms: against min(27 / L, C);
  C  the prober at concurrency 27 with 0 ms: what the client itself reaches on this machine;
  R  the raw baseline: the same request bytes POSTed by 13 threads with plain requests + requests_ntlm (one session
     per thread, reply checked for NoError only), with L ms: the least any client must spend per probe;
  D  the naive loop: one exchangelib GetFolder of the calendar per mailbox, one after another, with L ms.

Client CPU per probe is the CPU time of this process (the lab's is counted apart) over the probes it ran: the
prober's limit is 1.5 ms, printed beside R's figure for the same requests.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import requests
from _remote_lab import RemoteLab, command_loop  # bench/ is on sys.path when a bench script runs
from exchangelib import Account, Configuration, Credentials, FailFast
from exchangelib.credentials import IMPERSONATION
from exchangelib.folders import Calendar, Root
from exchangelib.protocol import CachingProtocol
from exchangelib.transport import NTLM
from exchangelib.version import Build, Version
from requests_ntlm import HttpNtlmAuth

from audit.lab.generate import generated_address
from audit.lab.server import LabServer
from audit.probe import MARKER_PREFIX, EwsEndpoint, Prober, ProbeSettings, ProbeTarget
from audit.probe.wire import find_item_request
from audit.snapshot import ProbeOutcome

AUTH = "ntlm"
CPU_LIMIT_MS = 1.5


def _lab_process(conn: Connection, mailboxes: int) -> None:
    """Run the lab in its own process and obey commands from the pipe."""
    with LabServer(scenario="compliant", mailboxes=mailboxes, group_members=mailboxes) as lab:
        creds = lab.credentials
        conn.send(
            {
                "url": lab.ews_url,
                "username": creds.service_username,
                "password": creds.service_password,
                "build": lab.tenant.organization.build,
            }
        )
        stats = {"stats": lambda _arg: {**lab.stats()["ews"], "cpu_seconds": time.process_time()}}
        command_loop(conn, lab, "ews", stats)


class EwsLab(RemoteLab):
    """The lab in a child process; the EWS endpoint of its service account."""

    def __init__(self, mailboxes: int) -> None:
        super().__init__(_lab_process, mailboxes)

    def endpoint(self) -> EwsEndpoint:
        i = self.info
        return EwsEndpoint(
            url=i["url"], username=i["username"], password=i["password"], auth=AUTH, server_build=tuple(i["build"])
        )


def _timed(lab: EwsLab, latency_ms: int, count: int, work: Callable[[], None]) -> dict[str, float]:
    """Run ``work`` with the lab at ``latency_ms``: rate, client and lab CPU per probe, the lab's max in flight."""
    lab.latency(latency_ms)
    lab_cpu0 = lab.stats()["cpu_seconds"]
    cpu0 = time.process_time()
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - cpu0
    stats = lab.stats()
    return {
        "rate": count / elapsed,
        "client_cpu_ms": 1000 * client_cpu / count,
        "lab_cpu_ms": 1000 * (stats["cpu_seconds"] - lab_cpu0) / count,
        "max_in_flight": float(stats["max_in_flight"]),
    }


def measure(lab: EwsLab, targets: list[ProbeTarget], concurrency: int, latency_ms: int) -> dict[str, float]:
    """The prober over every target."""
    prober = Prober(lab.endpoint(), ProbeSettings(concurrency=concurrency, deadline_seconds=600, request_timeout=30))

    def work() -> None:
        probes, _run = prober.run(targets)
        bad = [p for p in probes if p.outcome != ProbeOutcome.ALLOWED]
        if bad:
            raise SystemExit(f"{len(bad)} probes did not succeed, e.g. {bad[0]}")

    try:
        return _timed(lab, latency_ms, len(targets), work)
    finally:
        prober.close()


def measure_raw(lab: EwsLab, addresses: list[str], concurrency: int, latency_ms: int) -> dict[str, float]:
    """The same FindItem bytes the prober sends, POSTed by plain requests sessions (NTLM), one per thread."""
    info = lab.info
    build = Build(*info["build"])
    request = find_item_request(Version(build=build).api_version, MARKER_PREFIX)
    user = info["username"]
    # exchangelib logs on as "\\user@domain" when the user name is an address (protocol.create_session)
    login = "\\" + user if "@" in user else user
    sessions = []
    for _ in range(concurrency):
        session = requests.Session()
        session.trust_env = False
        session.auth = HttpNtlmAuth(login, info["password"])
        sessions.append(session)
    work_items = list(addresses)
    lock = threading.Lock()
    failures: list[str] = []

    def worker(session: requests.Session) -> None:
        while True:
            with lock:
                if not work_items:
                    return
                address = work_items.pop()
            r = session.post(
                info["url"],
                data=request.body(address),
                headers={"Content-Type": "text/xml; charset=utf-8", "X-AnchorMailbox": address},
                timeout=30,
            )
            if r.status_code != 200 or b">NoError<" not in r.content:
                failures.append(f"{address}: HTTP {r.status_code}")

    def work() -> None:
        threads = [threading.Thread(target=worker, args=(s,)) for s in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    try:
        result = _timed(lab, latency_ms, len(addresses), work)
    finally:
        for s in sessions:
            s.close()
    if failures:
        raise SystemExit(f"raw baseline: {len(failures)} requests failed, e.g. {failures[0]}")
    return result


def measure_naive(lab: EwsLab, addresses: list[str], latency_ms: int) -> dict[str, float]:
    """The obvious way: a sequential loop, one exchangelib GetFolder of the calendar per mailbox."""
    ep = lab.endpoint()
    config = Configuration(
        service_endpoint=ep.url,
        credentials=Credentials(ep.username, ep.password or ""),
        auth_type=NTLM,
        version=Version(build=Build(*ep.server_build)),
        retry_policy=FailFast(),
    )
    CachingProtocol.clear_cache()

    def work() -> None:
        for address in addresses:
            account = Account(address, config=config, autodiscover=False, access_type=IMPERSONATION)
            Calendar.get_distinguished(root=Root(account=account))  # one GetFolder

    try:
        return _timed(lab, latency_ms, len(addresses), work)
    finally:
        CachingProtocol.clear_cache()


def _spread(runs: list[dict[str, float]], key: str, fmt: str = "{:.0f}") -> str:
    values = sorted(r[key] for r in runs)
    return "/".join(fmt.format(v) for v in (values[0], statistics.median(values), values[-1]))


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=3000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--naive", type=int, default=200, help="mailboxes for the (slow) naive loop")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of A, B, C and R")
    args = parser.parse_args()
    n, lat = args.mailboxes, args.latency_ms
    lab = EwsLab(n)
    runs: dict[str, list[dict[str, Any]]] = {"A": [], "R": [], "B": [], "C": []}
    try:
        targets = [ProbeTarget(generated_address(i), "allow", "groupMembers") for i in range(n)]
        addresses = [t.mailbox for t in targets]
        measure(lab, targets[:200], 13, 0)  # warm-up: connections, imports
        measure_raw(lab, addresses[:200], 13, 0)
        for _round in range(args.rounds):
            runs["A"].append(measure(lab, targets, 13, lat))
            runs["R"].append(measure_raw(lab, addresses, 13, lat))
            runs["B"].append(measure(lab, targets, 27, lat))
            runs["C"].append(measure(lab, targets, 27, 0))
        d = measure_naive(lab, addresses[: args.naive], lat)
    finally:
        lab.close()
    ideal13, ideal27 = 13 / (lat / 1000), 27 / (lat / 1000)
    c_rate = _median(runs["C"], "rate")
    bound27 = min(ideal27, c_rate)
    a_rate = _median(runs["A"], "rate")
    print(f"probe throughput, {n} mailboxes all in scope, NTLM, lab in its own process, latency {lat} ms")
    print(f"(min/median/max of {args.rounds} interleaved rounds; probes/s, CPU ms per probe)")
    for key, label, ideal in (
        ("A", f"A  prober      13 in flight, {lat} ms", ideal13),
        ("R", f"R  raw request 13 in flight, {lat} ms", ideal13),
        ("B", f"B  prober      27 in flight, {lat} ms", bound27),
        ("C", "C  prober      27 in flight, 0 ms", 0.0),
    ):
        r = runs[key]
        ratio = f" = {_median(r, 'rate') / ideal:6.1%} of {ideal:.0f}/s" if ideal else " (client ceiling)    "
        print(
            f"  {label}: {_spread(r, 'rate'):>14}/s{ratio}  client CPU {_spread(r, 'client_cpu_ms', '{:.2f}')}  "
            f"lab CPU {_spread(r, 'lab_cpu_ms', '{:.2f}')}  lab max in flight {_spread(r, 'max_in_flight')}"
        )
    cpu_a, cpu_r = _median(runs["A"], "client_cpu_ms"), _median(runs["R"], "client_cpu_ms")
    print(
        f"  A rate: {a_rate:.0f}/s = {a_rate / ideal13:.1%} of {ideal13:.0f}/s (target >= 85%): "
        f"{'met' if a_rate >= 0.85 * ideal13 else 'MISSED'}; R (raw) {_median(runs['R'], 'rate') / ideal13:.1%}"
    )
    print(
        f"  client CPU per probe (A): {cpu_a:.2f} ms = {cpu_a / CPU_LIMIT_MS:.0%} of the {CPU_LIMIT_MS} ms limit "
        f"({'met' if cpu_a < CPU_LIMIT_MS else 'MISSED'}); raw requests baseline {cpu_r:.2f} ms: prober/raw "
        f"{cpu_a / cpu_r:.2f}x"
    )
    print(
        f"  B rate: {_median(runs['B'], 'rate'):.0f}/s = {_median(runs['B'], 'rate') / bound27:.1%} of "
        f"min({ideal27:.0f}, C {c_rate:.0f}) = {bound27:.0f}/s"
    )
    print(
        f"  D  naive loop, one GetFolder per mailbox, {lat} ms: {d['rate']:.1f}/s over {args.naive} mailboxes "
        f"(client CPU {d['client_cpu_ms']:.2f} ms); A is {a_rate / d['rate']:.1f}x faster"
    )


if __name__ == "__main__":
    main()
