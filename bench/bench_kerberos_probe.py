"""Kerberos probing throughput vs NTLM, side by side in one run, against a real MIT KDC on loopback.

Run: ``.venv/bin/python bench/bench_kerberos_probe.py [--mailboxes 400] [--latency-ms 50] [--concurrency 8]``

One realm (tests/kerberos/realm.py: krb5kdc on a free port, principals and keytabs from kadmin.local), one lab
in a child process (its own GIL, as a real Exchange is another machine) whose EWS accepts Negotiate (Kerberos or
NTLM) with the HTTP/localhost keytab, L ms added per EWS request. Measured, alternating, R rounds each:
  K. the prober as the service account over Kerberos (its ticket from its password, once, into a memory cache);
  N. the same prober over NTLM with the lab's password for the account.
Printed: probes/s, the ratio K/N (target >= 0.85), and from the KDC's own log how many AS and TGS requests the
Kerberos rounds cost (the ticket must be obtained once per run, not per probe).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.kerberos.realm (the test realm)

from _remote_lab import RemoteLab, command_loop  # bench/ is on sys.path when a bench script runs

from audit.lab.generate import generated_address
from audit.lab.server import LabServer
from audit.probe import EwsEndpoint, Prober, ProbeSettings, ProbeTarget
from audit.snapshot import ProbeOutcome
from tests.kerberos.realm import SERVICE_HOST, MitRealm


def _lab_process(conn: Connection, mailboxes: int, keytab: str, env: dict[str, str]) -> None:
    os.environ.update(env)
    with LabServer(scenario="compliant", mailboxes=mailboxes, group_members=mailboxes, kerberos_keytab=keytab) as lab:
        creds = lab.credentials
        conn.send(
            {
                "port": lab.port,
                "username": creds.service_username,
                "password": creds.service_password,
                "build": lab.tenant.organization.build,
            }
        )

        def logons(_arg: object) -> dict[str, int]:
            events = lab.http.logons.events()
            return {"kerberos": sum(e.mechanism == "kerberos" for e in events), "total": len(events)}

        command_loop(conn, lab, "ews", {"logons": logons})


def measure(endpoint: EwsEndpoint, targets: list[ProbeTarget], concurrency: int) -> float:
    prober = Prober(endpoint, ProbeSettings(concurrency=concurrency, deadline_seconds=600, request_timeout=30))
    try:
        start = time.perf_counter()
        probes, _run = prober.run(targets)
        elapsed = time.perf_counter() - start
    finally:
        prober.close()
    bad = [p for p in probes if p.outcome != ProbeOutcome.ALLOWED]
    if bad:
        raise SystemExit(f"{len(bad)} probes did not succeed, e.g. {bad[0]}")
    return len(targets) / elapsed


def _kdc_counts(log: Path, principal: str) -> tuple[int, int]:
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    as_req = sum(1 for line in text if "AS_REQ" in line and "ISSUE" in line and f"{principal}@" in line)
    tgs_req = sum(1 for line in text if "TGS_REQ" in line and "ISSUE" in line and f"{principal}@" in line)
    return as_req, tgs_req


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=400)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="exaudit-bench-krb-") as tmp, MitRealm(Path(tmp)) as realm:
        service = realm.add_user("svcServiceAccount")
        keytab = realm.add_service(SERVICE_HOST)
        env = realm.env(ccache=Path(tmp) / "runner.ccache")
        os.environ.update(env)
        lab = RemoteLab(_lab_process, args.mailboxes, str(keytab), env)
        info = lab.info
        try:
            url = f"http://{SERVICE_HOST}:{info['port']}/EWS/Exchange.asmx"
            build = tuple(info["build"])
            targets = [ProbeTarget(generated_address(i), "allow", "groupMembers") for i in range(args.mailboxes)]
            kerberos = EwsEndpoint(
                url=url, username=info["username"], password=service.password, auth="kerberos", server_build=build
            )
            ntlm = EwsEndpoint(
                url=url, username=info["username"], password=info["password"], auth="ntlm", server_build=build
            )
            lab.latency(args.latency_ms)
            as0, tgs0 = _kdc_counts(realm.log, "svcServiceAccount")
            rates: dict[str, list[float]] = {"kerberos": [], "ntlm": []}
            for _ in range(args.rounds):
                rates["kerberos"].append(measure(kerberos, targets, args.concurrency))
                rates["ntlm"].append(measure(ntlm, targets, args.concurrency))
            as1, tgs1 = _kdc_counts(realm.log, "svcServiceAccount")
            logons = lab.call("logons")
        finally:
            lab.close()

    k = sorted(rates["kerberos"])[len(rates["kerberos"]) // 2]
    n = sorted(rates["ntlm"])[len(rates["ntlm"]) // 2]
    print(
        f"{len(targets)} probes per round, {args.rounds} rounds each, concurrency {args.concurrency}, "
        f"{args.latency_ms} ms added per EWS request, lab in a child process, MIT KDC on loopback"
    )
    print(f"  Kerberos (service account's own ticket): {k:7.1f} probes/s  (rounds: {_fmt(rates['kerberos'])})")
    print(f"  NTLM                                   : {n:7.1f} probes/s  (rounds: {_fmt(rates['ntlm'])})")
    print(f"  ratio Kerberos / NTLM                  : {k / n:6.2f}   (target >= 0.85)")
    print(f"  ideal at this latency (c / L)          : {args.concurrency / (args.latency_ms / 1000):7.1f} probes/s")
    print(
        f"  KDC log over the {args.rounds} Kerberos rounds: {as1 - as0} AS request(s), {tgs1 - tgs0} TGS request(s) "
        f"for the service account; the lab accepted {logons['kerberos']} Kerberos logons "
        f"(one per connection, {args.concurrency} connections per round)"
    )


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
