"""Microsoft Graph calendar probes per second against the lab's Exchange Online mode at 50 ms mailbox latency.

The lab runs in its own process (as Graph would) and adds the latency to every mailbox request, single or inside a
``$batch``; it dispatches a batch's sub-requests four at a time, as Graph does (domain/exo-2026.md section 3). The
client side is real msal (token) and requests over HTTPS. Printed side by side, in one run:

- a naive loop of single ``GET /v1.0/users/{id}/calendar``;
- ``$batch`` of 20, one batch at a time;
- ``$batch`` of 20 with several batches in flight;

each with the limit set by the latency and the concurrency (batches in flight x 4 / latency) and the ratio to it.

    .venv/bin/python bench/bench_lab_graph.py [--mailboxes 2000] [--latency-ms 50] [--in-flight 8]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msal
import requests

BATCH = 20
DISPATCH = 4  # sub-requests Graph (and the lab) runs at once per batch


def _serve(conn: Any, mailboxes: int, latency_ms: int) -> None:
    from audit.lab.server import LabServer

    with LabServer("exo-compliant", mailboxes=mailboxes, group_members=mailboxes) as lab:
        lab.faults.set_latency(latency_ms, "graph")
        creds = lab.exo_credentials
        conn.send(
            (
                lab.authority_url,
                lab.graph_url,
                str(lab.ca_cert_path),
                creds.integration_client_id,
                creds.integration_client_secret,
            )
        )
        conn.recv()
        conn.send(lab.stats()["graph"])


def _session(ca: str, pool: int) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (psf/requests#3829)
    session.verify = ca
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
    session.mount("https://", adapter)
    return session


def naive(session: requests.Session, graph: str, token: str, users: list[str]) -> float:
    start = time.perf_counter()
    for user in users:
        resp = session.get(f"{graph}/v1.0/users/{user}/calendar", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
    return len(users) / (time.perf_counter() - start)


def batched(session: requests.Session, graph: str, token: str, users: list[str], in_flight: int) -> float:
    chunks = [users[i : i + BATCH] for i in range(0, len(users), BATCH)]

    def one(chunk: list[str]) -> int:
        body = {
            "requests": [{"id": str(i), "method": "GET", "url": f"/users/{u}/calendar"} for i, u in enumerate(chunk)]
        }
        resp = session.post(f"{graph}/v1.0/$batch", json=body, headers={"Authorization": f"Bearer {token}"})
        return sum(r["status"] == 200 for r in resp.json()["responses"])

    start = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        ok = sum(pool.map(one, chunks))
    elapsed = time.perf_counter() - start
    assert ok == len(users), ok
    return len(users) / elapsed


def main() -> None:
    """Run the three clients against one lab and print their rates side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--naive", type=int, default=60, help="single GETs for the naive loop")
    args = parser.parse_args()
    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(target=_serve, args=(child, args.mailboxes, args.latency_ms))
    server.start()
    try:
        authority, graph, ca, client_id, secret = parent.recv()
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
        os.environ.pop("CURL_CA_BUNDLE", None)
        app = msal.ConfidentialClientApplication(
            client_id, authority=authority, client_credential=secret, instance_discovery=False, verify=ca
        )
        token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])["access_token"]
        users = [f"user{i:06d}@contoso.com" for i in range(args.mailboxes)]
        latency = args.latency_ms / 1000
        session = _session(ca, args.in_flight + 2)
        rows = [
            ("single GET, sequential", naive(session, graph, token, users[: args.naive]), 1 / latency),
            ("$batch 20, 1 in flight", batched(session, graph, token, users, 1), DISPATCH / latency),
            (
                f"$batch 20, {args.in_flight} in flight",
                batched(session, graph, token, users, args.in_flight),
                args.in_flight * DISPATCH / latency,
            ),
        ]
        parent.send("stop")
        stats = parent.recv()
    finally:
        server.join(timeout=30)
        if server.is_alive():
            server.terminate()
    print(f"Graph calendar probes, {args.mailboxes} mailboxes, {args.latency_ms} ms per mailbox request")
    print(f"{'client':28} {'probes/s':>10} {'limit/s':>10} {'of limit':>9} {'vs naive':>9}")
    base = rows[0][1]
    for name, rate, limit in rows:
        print(f"{name:28} {rate:10.1f} {limit:10.1f} {rate / limit:9.0%} {rate / base:8.1f}x")
    print(f"lab counted: {stats.get('$batch', 0)} batches, {stats.get('GET users/{id}/calendar', 0)} calendar GETs")


if __name__ == "__main__":
    main()
