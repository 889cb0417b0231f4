"""``exaudit plan``: the PowerShell that would bring Exchange to the policy, in a safe order. Printed, never run.

The order narrows before it widens. Objects that grant nothing by themselves come first when they are missing (a new,
empty, closed group; then a new scope naming it), because the narrowing steps need them. Then limit or remove
access that is too wide (scope the assignment, cut other paths and roles), tidy the group, fix the scope filter,
and only then grant what is missing (add members, enable or create the assignment). At no point between two steps
can the service account reach more than it could before the plan started. A command that several findings share
is printed once.
"""

from __future__ import annotations

from datetime import datetime

from audit.evaluate.engine import evaluate
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy
from audit.snapshot import Snapshot

PLAN_ORDER: tuple[str, ...] = (
    "EXA012",  # scope an unscoped or wrongly scoped assignment: narrows at once
    "EXA013",  # cut other impersonation paths
    "EXA015",  # cut other management roles
    "EXA014",  # role group roles and members
    "EXA032",  # close membership before touching members
    "EXA031",
    "EXA030",
    "EXA035",  # remove members that cannot be synced
    "EXA033",  # remove unexpected members, add missing ones
    "EXA034",  # flatten nested groups
    "EXA020",  # the scope filter, now that the group is right
    "EXA021",
    "EXA001",
    "EXA011",  # grant last: enable or create the assignment
    "EXA010",
    "EXA040",
    "EXA050",
    "EXA051",
    "EXA060",
    "EXA000",
)


def _rank(f: Finding) -> int:
    if f.remediation.startswith("New-DistributionGroup"):
        return -2  # the group is missing: create it (empty, closed, hidden) before a scope can name it
    if "New-ManagementScope" in f.remediation:
        return -1  # the scope is missing: create it before an assignment can be limited by it
    return PLAN_ORDER.index(f.check_id) if f.check_id in PLAN_ORDER else len(PLAN_ORDER)


def remediation_plan(policy: LoadedPolicy, snapshot: Snapshot, now: datetime) -> str:
    """The PowerShell for every FAIL of one policy, ordered so that access only ever narrows, with comments."""
    findings = evaluate(policy, snapshot, now)
    failed = sorted((f for f in findings if f.status is Status.FAIL), key=_rank)
    errors = [f for f in findings if f.status is Status.ERROR]
    out = [
        f"# exaudit plan for policy '{policy.spec.metadata.name}' ({policy.path.name})",
        f"# from the snapshot collected at {snapshot.collected_at} on {snapshot.target.psrp_endpoint}",
        "# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.",
    ]
    if errors:
        out.append("#")
        out.append(f"# {len(errors)} check(s) could not be evaluated; their fixes are unknown. Collect again first:")
        out += [f"#   {f.check_id} {f.title}: {f.message}" for f in errors]
    if not failed:
        out.append("#")
        out.append("# Nothing to change: no check failed.")
        return "\n".join(out) + "\n"
    emitted: set[str] = set()
    for f in failed:
        out.append("")
        out.append(f"# {f.check_id} [{f.severity}] {f.title}")
        out += [f"#   {line}" for line in _wrap(f.message)]
        every = f.remediation.splitlines()
        fresh = [line for line in every if line.startswith("#") or line not in emitted]
        if all(line.startswith("#") for line in every) or any(not line.startswith("#") for line in fresh):
            out += fresh
            emitted.update(line for line in fresh if not line.startswith("#"))
        else:
            out.append("# (the commands above already cover this)")
    return "\n".join(out) + "\n"


def _wrap(text: str, width: int = 110) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def step_rank(finding: Finding) -> int:
    """A finding's place in the plan (lower first): the order :func:`remediation_plan` prints (reports reuse it)."""
    return _rank(finding)
