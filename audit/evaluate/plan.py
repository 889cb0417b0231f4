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
from audit.evaluate.powershell import ps, ps_comment
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy
from audit.snapshot import Snapshot

PLAN_ORDER: tuple[str, ...] = (
    # Exchange Online app: an Entra grant unions with every scope, so it goes first; an Application Access Policy
    # only confines Entra grants, so it is removed after them (before, its removal would widen).
    "EXA074",
    "EXA072",  # scope an unscoped Application role assignment
    "EXA012",  # scope an unscoped or wrongly scoped assignment: narrows at once
    "EXA013",  # cut other impersonation paths
    "EXA015",  # cut other management roles
    "EXA075",
    "EXA078",  # the ApplicationImpersonation leftovers grant nothing in Exchange Online: clean them up
    "EXA014",  # role group roles and members
    "EXA032",  # close membership before touching members
    "EXA031",
    "EXA030",
    "EXA035",  # remove members that cannot be synced
    "EXA033",  # remove unexpected members, add missing ones
    "EXA034",  # flatten nested groups
    "EXA073",  # administrative-unit membership
    "EXA020",  # the scope filter, now that the group is right
    "EXA021",
    "EXA001",
    "EXA070",  # the service principal pointer grants nothing by itself; assignments need it
    "EXA011",  # grant last: enable or create the assignment
    "EXA010",
    "EXA071",
    "EXA040",
    "EXA050",
    "EXA051",
    "EXA076",
    "EXA060",
    "EXA077",  # the EWS allow list lets the app use EWS: last
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
        f"# exaudit plan for policy {ps(policy.spec.metadata.name)} ({ps(policy.path.name)})",
        f"# from the snapshot collected at {ps_comment(snapshot.collected_at)} on "
        f"{ps_comment(snapshot.target.psrp_endpoint)}",
        "# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order."
        if policy.spec.principal.app is None
        else "# Review every line; exaudit never runs this. Run it in this order: Exchange cmdlets in Exchange Online "
        "PowerShell, *-Mg* cmdlets in Microsoft Graph PowerShell.",
    ]
    if errors:
        out.append("#")
        out.append(f"# {len(errors)} check(s) could not be evaluated; their fixes are unknown. Collect again first:")
        out += [f"#   {f.check_id} {f.title}: {ps_comment(f.message)}" for f in errors]
    if not failed:
        out.append("#")
        out.append("# Nothing to change: no check failed.")
        return "\n".join(out) + "\n"
    emitted: set[str] = set()
    for f in failed:
        out.append("")
        out.append(f"# {f.check_id} [{f.severity}] {f.title}")
        out += [f"#   {line}" for line in _wrap(ps_comment(f.message))]
        # Every value in a remediation went through ps(), which writes no line break and no control character, so
        # these lines are exactly the lines the check wrote. The comment lines are neutralised once more anyway.
        every = [line if not line.startswith("#") else ps_comment(line) for line in f.remediation.split("\n")]
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
