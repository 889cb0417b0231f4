"""Benchmark: OPATH MemberOfGroup scope evaluation over 100,000 recipients (budget: under 1 s).

Generates 100,000 Recipient records, 2,000 of them direct members of the scope's group (every recipient also
belongs to a few other groups, as in a real directory), then times parse + compile + evaluate of the filter
Exchange stores for the seed's scope, over all of them. Prints each figure and its ratio to the budget.

    .venv/bin/python bench/bench_opath.py [--recipients N] [--members M] [--runs R]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from audit.opath import compile_filter, equivalent, member_of_group, parse, to_text
from audit.snapshot import Recipient

GROUP_DN = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"
BUDGET_S = 1.0


def make_recipients(count: int, members: int, seed: int = 7) -> list[Recipient]:
    rng = random.Random(seed)
    other_groups = [f"CN=Group {n:03d},OU=Groups,DC=contoso,DC=com" for n in range(200)]
    in_group = set(rng.sample(range(count), members))
    recipients = []
    for i in range(count):
        name = f"user{i:06d}"
        groups = rng.sample(other_groups, rng.randint(0, 3))
        if i in in_group:
            groups.insert(rng.randint(0, len(groups)), GROUP_DN)
        recipients.append(
            Recipient(
                name=name,
                identity=f"contoso.com/Users/{name}",
                distinguished_name=f"CN={name},OU=Users,DC=contoso,DC=com",
                guid=f"00000000-0000-4000-8000-{i:012d}",
                alias=name,
                display_name=f"User {i}",
                primary_smtp_address=f"{name}@contoso.com",
                recipient_type="UserMailbox",
                recipient_type_details="UserMailbox",
                email_addresses=(f"SMTP:{name}@contoso.com", f"smtp:{name}@contoso.onmicrosoft.com"),
                member_of=tuple(groups),
                department=rng.choice(["Field Sales", "Finance", "IT", ""]),
                custom_attributes=(rng.choice(["CallPro", ""]),),
            )
        )
    return recipients


def timed(label: str, runs: int, work: Callable[[], int]) -> float:
    samples = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        samples.append(time.perf_counter() - start)
    best, median = min(samples), statistics.median(samples)
    print(
        f"{label:<58} best {best * 1000:8.1f} ms  median {median * 1000:8.1f} ms  "
        f"ratio to 1 s budget {median / BUDGET_S:6.3f}  (result: {result})"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    recipients = make_recipients(args.recipients, args.members)
    print(
        f"generated {len(recipients):,} recipients ({args.members:,} in the group) "
        f"in {time.perf_counter() - start:.2f} s"
    )

    stored = to_text(member_of_group(GROUP_DN))  # the RecipientFilter as Exchange stores it
    typed = f"\"MemberOfGroup -eq '{GROUP_DN}'\""  # the seed's S5 filter after PowerShell expansion
    assert equivalent(parse(typed), parse(stored))

    def scope_members() -> int:
        in_scope = compile_filter(parse(stored))
        return sum(1 for r in recipients if in_scope(r))

    compound = parse(
        f"((MemberOfGroup -eq '{GROUP_DN}') -and (RecipientTypeDetails -eq 'UserMailbox')"
        " -and (-not(Department -like 'Fin*')))"
    )

    def compound_members() -> int:
        in_scope = compile_filter(compound)
        return sum(1 for r in recipients if in_scope(r))

    median = timed("MemberOfGroup: parse + compile + evaluate", args.runs, scope_members)
    timed("3-clause -and with -not -like: compile + evaluate", args.runs, compound_members)
    verdict = "PASS" if median < BUDGET_S else "FAIL"
    print(
        f"{verdict}: MemberOfGroup over {len(recipients):,} recipients, "
        f"median {median:.3f} s against a {BUDGET_S:.0f} s budget"
    )


if __name__ == "__main__":
    main()
