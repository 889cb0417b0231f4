"""Benchmark the lab's /PowerShell endpoint with the real pypsrp client.

Measures, side by side in one run:
  * a 10,000-object Get-Recipient -ResultSize Unlimited delivered to pypsrp (target: under 10 s), with the lab
    in the same process (as `exaudit demo` runs it) and in a separate process (as `exaudit lab serve`);
  * how that time splits between the lab (handler time) and the client;
  * invocations per second of a small cmdlet on one pool (Basic; NTLM with WinRM message encryption);
  * pypsrp's own deserialization cost per object, measured on the same bytes without any network.

Usage: .venv/bin/python bench/bench_lab_psrp.py [--mailboxes 10000] [--invocations 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan

from audit.lab.clixml import serialize
from audit.lab.cmdlets import CommandCall, Output, run_pipeline
from audit.lab.generate import generate
from audit.lab.http import LabHTTPServer, LabRequest, LabResponse, Route
from audit.lab.tenant import Tenant, load_tenant
from audit.lab.wsman import WSManEndpoint

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "audit" / "lab" / "scenarios" / "_base.yaml"
READER_PASSWORD = "Bench-Reader-Pass-1"


def build_tenant(mailboxes: int) -> Tenant:
    tenant = generate(load_tenant(BASE), mailboxes)
    reader = tenant.account_with_role("auditor")
    assert reader is not None
    tenant.accounts[reader.username.lower()] = type(reader)(
        username=reader.username, password=READER_PASSWORD, role=reader.role
    )
    return tenant.with_generated_passwords()


class Timed:
    """Wrap the endpoint to add up the time the lab spends answering."""

    def __init__(self, endpoint: WSManEndpoint) -> None:
        self.endpoint = endpoint
        self.seconds = 0.0
        self.requests = 0
        self._lock = threading.Lock()

    def __call__(self, req: LabRequest) -> LabResponse:
        start = time.perf_counter()
        try:
            return self.endpoint(req)
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - start
                self.requests += 1


def wsman(port: int, user: str, auth: str = "basic") -> WSMan:
    return WSMan(
        "127.0.0.1",
        port=port,
        path="PowerShell",
        ssl=False,
        auth=auth,
        encryption="never" if auth == "basic" else "auto",
        username=user,
        password=READER_PASSWORD,
        operation_timeout=20,
    )


def _exchange_serializer() -> Serializer | None:
    """The auditor's pypsrp serializer with its fast path for Exchange output objects, when it is installed."""
    try:
        from audit.collect.psrp import _ExchangeSerializer
    except ImportError:
        return None
    return _ExchangeSerializer()


def get_recipients(port: int, user: str, serializer: Serializer | None = None) -> tuple[float, int]:
    with RunspacePool(wsman(port, user), configuration_name="Microsoft.Exchange") as pool:
        if serializer is not None:
            # What exaudit's collector does: same pypsrp client, a faster deserializer for Exchange objects.
            pool._serializer = serializer
            pool._fragmenter.serializer = serializer
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Recipient").add_parameter("ResultSize", "Unlimited")
        start = time.perf_counter()
        output = ps.invoke()
        elapsed = time.perf_counter() - start
        assert not ps.had_errors
        return elapsed, len(output)


def invocations(port: int, user: str, count: int, auth: str) -> float:
    with RunspacePool(wsman(port, user, auth), configuration_name="Microsoft.Exchange") as pool:
        start = time.perf_counter()
        for _ in range(count):
            ps = PowerShell(pool)
            ps.add_cmdlet("Get-OrganizationConfig")
            ps.invoke()
        return count / (time.perf_counter() - start)


def client_deserialization(tenant: Tenant, user: str, sample: int = 2000) -> tuple[float, float]:
    """Per-object cost on the server (build + serialize) and in pypsrp's deserializer, same bytes, no network."""
    calls = [[CommandCall("Get-Recipient", False, [("ResultSize", "Unlimited")])]]
    start = time.perf_counter()
    blobs = []
    for emission in run_pipeline(tenant, user, calls):
        if isinstance(emission, Output):
            blobs.append(serialize(emission.obj).decode())
    server = (time.perf_counter() - start) / len(blobs)
    serializer = Serializer()
    start = time.perf_counter()
    for blob in blobs[:sample]:
        serializer.deserialize(blob, clear=False)
    client = (time.perf_counter() - start) / min(sample, len(blobs))
    return server, client


SERVE = """
import sys
from bench.bench_lab_psrp import build_tenant
from audit.lab.http import LabHTTPServer, Route
from audit.lab.wsman import WSManEndpoint
tenant = build_tenant(int(sys.argv[1]))
accounts = {a.username: a.password for a in tenant.accounts.values()}
srv = LabHTTPServer({"/PowerShell": Route(WSManEndpoint(tenant), ("Basic", "Negotiate"))}, lambda: accounts).start()
print(srv.port, flush=True)
sys.stdin.read()
srv.stop()
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--invocations", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    tenant = build_tenant(args.mailboxes)
    reader = tenant.account_with_role("auditor")
    assert reader is not None
    user = reader.username
    print(f"tenant: {len(tenant.recipients)} users, built in {time.perf_counter() - start:.2f} s")
    accounts = {a.username: a.password or "" for a in tenant.accounts.values()}

    endpoint = WSManEndpoint(tenant)
    timed = Timed(endpoint)
    with LabHTTPServer({"/PowerShell": Route(timed, ("Negotiate", "Basic"))}, lambda: accounts) as srv:
        seconds, objects = get_recipients(srv.port, user)
        lab_share = timed.seconds
        print(
            f"in-process lab : Get-Recipient {objects} objects in {seconds:.2f} s "
            f"({objects / seconds:.0f} objects/s); lab handler time {lab_share:.2f} s over {timed.requests} requests"
        )
        fast = _exchange_serializer()
        fast_seconds = float("inf")
        if fast is not None:
            timed.seconds = 0.0
            fast_seconds, fast_objects = get_recipients(srv.port, user, fast)
            print(
                f"in-process lab : same call with exaudit's collector deserializer: {fast_objects} objects in "
                f"{fast_seconds:.2f} s; lab handler time {timed.seconds:.2f} s"
            )
        basic = invocations(srv.port, user, args.invocations, "basic")
        ntlm = invocations(srv.port, user, args.invocations, "ntlm")
        print(f"in-process lab : {basic:.0f} invocations/s (Basic), {ntlm:.0f} invocations/s (NTLM + encryption)")
        endpoint.close()

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(args.mailboxes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        seconds2, objects2 = get_recipients(port, user)
        print(
            f"separate process: Get-Recipient {objects2} objects in {seconds2:.2f} s "
            f"({objects2 / seconds2:.0f} objects/s)"
        )
        basic2 = invocations(port, user, args.invocations, "basic")
        print(f"separate process: {basic2:.0f} invocations/s (Basic)")
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)

    server_ms, client_ms = client_deserialization(tenant, user)
    properties = 0
    for emission in run_pipeline(tenant, user, [[CommandCall("Get-Recipient", False, [("ResultSize", "1")])]]):
        if isinstance(emission, Output):
            properties = len(emission.obj.props)
    print(
        f"per object      : lab build+serialize {server_ms * 1000:.3f} ms, pypsrp deserialize "
        f"{client_ms * 1000:.3f} ms (ReducedRecipient, {properties} properties); ratio client/lab "
        f"{client_ms / server_ms:.1f}x"
    )
    target = 10.0
    plain = min(seconds, seconds2)
    verdict = "MET" if plain < target else "NOT MET"
    print(f"target 10,000 objects < {target:.0f} s, plain pypsrp: {plain:.2f} s -> {verdict}")
    if fast is not None:
        verdict = "MET" if fast_seconds < target else "NOT MET"
        print(
            f"target 10,000 objects < {target:.0f} s, pypsrp + collector deserializer: "
            f"{fast_seconds:.2f} s -> {verdict}"
        )


if __name__ == "__main__":
    main()
