"""Impersonated EWS GetFolder requests per second against the lab (target: 200+/s on a 2-core machine).

The lab runs in its own process (as a real server would); clients are raw keep-alive HTTP connections sending
the request exchangelib sends, and exchangelib itself calling the GetFolder service directly. All figures are
measured side by side in one run.

    .venv/bin/python bench/bench_lab_ews.py [--seconds 3] [--mailboxes 2000]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing as mp
import threading
import time
from typing import Any

TARGET = 200.0
T = "http://schemas.microsoft.com/exchange/services/2006/types"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
S = "http://schemas.xmlsoap.org/soap/envelope/"


def _serve(conn: Any, mailboxes: int, latency_ms: int) -> None:
    from audit.lab.server import LabServer

    with LabServer("compliant", mailboxes=mailboxes, group_members=mailboxes, latency_ms=latency_ms, basic=True) as lab:
        creds = lab.credentials
        conn.send((lab.port, creds.service_username, creds.service_password))
        conn.recv()  # wait for "stop"
        conn.send(lab.stats()["ews"])


def _request(mailbox: str) -> bytes:
    # The request exchangelib 5.6 sends for GetFolder(calendar) with impersonation (wire-notes B.1).
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{S}" xmlns:m="{M}" xmlns:t="{T}"><s:Header>'
        '<t:RequestServerVersion Version="Exchange2016"/><t:ExchangeImpersonation><t:ConnectingSID>'
        f"<t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"
        '<t:TimeZoneContext><t:TimeZoneDefinition Id="UTC"/></t:TimeZoneContext></s:Header><s:Body><m:GetFolder>'
        "<m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        '<t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURI FieldURI="folder:TotalCount"/>'
        '</t:AdditionalProperties></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar">'
        f"<t:Mailbox><t:EmailAddress>{mailbox}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds>"
        "</m:GetFolder></s:Body></s:Envelope>"
    ).encode()


def raw_rate(port: int, user: str, password: str, threads: int, seconds: float, mailboxes: int) -> float:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Content-Type": "text/xml; charset=utf-8", "Authorization": f"Basic {token}"}
    count = [0] * threads
    stop = time.perf_counter() + seconds
    bodies = [_request(f"user{i:06d}@contoso.com") for i in range(min(mailboxes, 500))]

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = n
        while time.perf_counter() < stop:
            conn.request("POST", "/EWS/Exchange.asmx", body=bodies[i % len(bodies)], headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200 or b"NoError" not in data:
                raise RuntimeError(f"unexpected answer {response.status}: {data[:200]!r}")
            count[n] += 1
            i += threads
        conn.close()

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(count) / (time.perf_counter() - start)


def exchangelib_rate(port: int, user: str, password: str, threads: int, seconds: float) -> float:
    from exchangelib import BASIC, IMPERSONATION, Account, Build, Configuration, Credentials, Version
    from exchangelib.folders import Calendar, Root
    from exchangelib.properties import DistinguishedFolderId, Mailbox
    from exchangelib.services import GetFolder

    config = Configuration(
        service_endpoint=f"http://127.0.0.1:{port}/EWS/Exchange.asmx",
        credentials=Credentials(user, password),
        auth_type=BASIC,
        version=Version(build=Build(15, 2, 1544, 4)),
        max_connections=threads,
    )
    count = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(n: int) -> None:
        i = n
        while time.perf_counter() < stop:
            address = f"user{i % 500:06d}@contoso.com"
            account = Account(address, config=config, access_type=IMPERSONATION, autodiscover=False)
            # As the prober does: the GetFolder service straight, never Account.calendar (one class-wide lock).
            folder = Calendar(
                root=Root(account=account),
                _distinguished_id=DistinguishedFolderId(
                    id=Calendar.DISTINGUISHED_FOLDER_ID, mailbox=Mailbox(email_address=address)
                ),
            )
            result = list(GetFolder(account=account).call(folders=[folder], shape="IdOnly", additional_fields=set()))
            if not result or isinstance(result[0], Exception):
                raise RuntimeError(f"unexpected result {result!r}")
            count[n] += 1
            i += threads

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(count) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--mailboxes", type=int, default=2000)
    args = parser.parse_args()
    from audit.lab.generate import generate
    from audit.lab.server import scenario_path
    from audit.lab.tenant import load_tenant

    start = time.perf_counter()
    big = generate(load_tenant(scenario_path("compliant")), 100_000, group_members=2_000)
    print(f"generator: {len(big.recipients)} recipients (100,000 generated) in {time.perf_counter() - start:.2f} s")
    del big
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, args.mailboxes, 0), daemon=True)
    proc.start()
    port, user, password = parent.recv()
    print(f"lab: separate process, {args.mailboxes} generated mailboxes in scope, Basic auth, no added latency")
    rows: list[tuple[str, float]] = []
    for threads in (1, 4, 8):
        rows.append(
            (
                f"raw keep-alive HTTP, {threads} connection(s)",
                raw_rate(port, user, password, threads, args.seconds, args.mailboxes),
            )
        )
    for threads in (1, 8):
        rows.append(
            (
                f"exchangelib GetFolder service, {threads} thread(s)",
                exchangelib_rate(port, user, password, threads, args.seconds),
            )
        )
    parent.send("stop")
    stats = parent.recv()
    proc.join(10)
    best = max(rate for _, rate in rows)
    for label, rate in rows:
        print(f"  {label:44s} {rate:8.1f} impersonated GetFolder/s  ({rate / TARGET:4.2f}x the {TARGET:.0f}/s target)")
    print(
        f"best: {best:.1f}/s -> {'PASS' if best >= TARGET else 'BELOW TARGET'}; lab counted {stats['requests']} "
        f"requests, max in flight {stats['max_in_flight']}, responses {stats['by_response']}"
    )


if __name__ == "__main__":
    main()
