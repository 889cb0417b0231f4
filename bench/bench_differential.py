"""Benchmark: the differential test's rate, in random tenants per second, against its budget (2,000 in 60 s).

Runs the same hypothesis strategy and the same two readings as tests/differential/test_differential.py (the
lab's EWS answers for every mailbox; collection through the lab's CmdletHost, the CLIXML round trip, mapping,
snapshot and EXA040) for ``--tenants`` tenants, derandomized, and prints the time of each phase per tenant, the
rate, the time 2,000 tenants take and its ratio to the 60 s budget. CPU time is printed next to wall time: the
machine is shared, and wall time includes waiting for a core (run it under ``nice`` next to other work).

    .venv/bin/python bench/bench_differential.py [--tenants N] [--features all|none|a,b]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers: tests.differential

from hypothesis import HealthCheck, Phase, given, settings

from tests.differential import harness
from tests.differential.tenants import (
    READER,
    Features,
    build,
    login_of,
    principal_of,
    tenant_documents,
)

BUDGET_TENANTS = 2000
BUDGET_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=500, help="tenants to draw and compare (default 500)")
    parser.add_argument("--features", default="", help="override the test's feature switches: all, none, a,b")
    args = parser.parse_args()
    if args.features:
        os.environ["EXAUDIT_DIFFERENTIAL_FEATURES"] = args.features
    from tests.differential.test_differential import FEATURES

    features: Features = FEATURES
    phases = {"draw": 0.0, "build": 0.0, "lab": 0.0, "collect": 0.0, "evaluate": 0.0}
    count = {"tenants": 0, "disagree": 0, "partial": 0}
    last = [time.perf_counter()]

    @settings(
        max_examples=args.tenants,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(doc=tenant_documents(features))
    def one(doc: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        phases["draw"] += t0 - last[0]
        tenant = build(doc)
        phases["build"] += time.perf_counter() - t0
        verdicts = harness.compare(tenant, login_of(tenant), principal_of(tenant), READER, phases)
        count["tenants"] += 1
        count["partial"] += int(0 < len(verdicts.lab) < sum(1 for _ in tenant.mailboxes()))
        count["disagree"] += int(not verdicts.agree())
        last[0] = time.perf_counter()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    last[0] = wall0
    one()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    n = max(count["tenants"], 1)
    print(f"features: {features}")
    print(f"tenants: {n} ({count['partial']} with some mailboxes in scope and not all)")
    for name, seconds in phases.items():
        print(f"  {name:<9} {seconds / n * 1000:7.2f} ms/tenant")
    rate, cpu_rate = n / wall, n / cpu
    projected, projected_cpu = BUDGET_TENANTS / rate, BUDGET_TENANTS / cpu_rate
    print(f"rate: {rate:.1f} tenants/s wall, {cpu_rate:.1f} tenants/s CPU")
    print(
        f"{BUDGET_TENANTS} tenants: {projected:.1f} s wall, {projected_cpu:.1f} s CPU; budget {BUDGET_S:.0f} s "
        f"(ratio {projected / BUDGET_S:.2f} wall, {projected_cpu / BUDGET_S:.2f} CPU)"
    )
    if count["disagree"]:
        print(f"DISAGREEMENTS: {count['disagree']} tenant(s); run tests/differential for the details")
    return 0


if __name__ == "__main__":
    sys.exit(main())
