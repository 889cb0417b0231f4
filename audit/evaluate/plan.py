"""``exaudit plan``: the PowerShell that would bring Exchange to the policy, in a safe order. Printed, never run.

The order narrows before it widens. Objects that grant nothing by themselves come first when they are missing (a new,
empty, closed group; then a new scope naming it), because the narrowing steps need them. Then limit or remove
access that is too wide (scope the assignment, cut other paths and roles), tidy the group, fix the scope filter,
and only then grant what is missing (add members, enable or create the assignment). At no point between two steps
can the service account reach more than it could before the plan started. A command that several findings share
is printed once.
"""

from __future__ import annotations

import re
from datetime import datetime

from audit.evaluate.engine import evaluate
from audit.evaluate.powershell import ps, ps_comment
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy
from audit.snapshot import Snapshot

# Cmdlets that are not in the Exchange Management Shell: they come from the ActiveDirectory PowerShell module (RSAT
# or a domain controller). Pasted into the Exchange shell they fail, and the fix looks broken.
NON_EXCHANGE = ("Enable-ADAccount", "Disable-ADAccount", "Set-ADUser", "Set-ADGroup", "Add-ADGroupMember")
NON_EXCHANGE_NOTE = (
    "# NOT an Exchange cmdlet: run the next line where the ActiveDirectory module is loaded (RSAT or a domain "
    "controller), not in the Exchange Management Shell."
)

# Permission changes are not seen at once: Exchange Online caches app RBAC for 30 minutes to 2 hours (APPRBAC,
# Limitations; /work/shared/domain/exo-2026.md) and application access policies for over an hour
# (auth-limit-mailbox-access.md; /work/shared/domain/exchange-rbac.md). An audit right after a fix may still see
# the old access.
RECHECK = (
    "Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange Online: up to 2 "
    "hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell and EWS "
    "sessions). A check that still fails right after a fix is not yet proof the fix failed."
)

_REMOVE_MEMBER = re.compile(r"^Remove-DistributionGroupMember -Identity '((?:[^']|'')*)' -Member '((?:[^']|'')*)'")

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
    out = _mark_non_exchange(_one_removal_per_member(out, snapshot))
    out += ["", *(f"# {line}" for line in _wrap(f"Then re-check: {RECHECK}"))]
    return "\n".join(out) + "\n"


def _mark_non_exchange(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line.startswith(NON_EXCHANGE):
            out.append(NON_EXCHANGE_NOTE)
        out.append(line)
    return out


def _one_removal_per_member(lines: list[str], snapshot: Snapshot) -> list[str]:
    """Remove a member from a group once, even when two findings name it differently (SMTP address, name).

    EXA033 removes a nested group as an unexpected member by its address; EXA034 removes it by name after adding
    its members directly. The last removal is kept (it comes after the additions it must follow).
    """
    names: dict[str, str] = {}
    for r in snapshot.recipients:
        for name in (r.name, r.display_name, r.primary_smtp_address, r.alias, r.identity, r.distinguished_name):
            if name:
                names.setdefault(name.casefold(), r.distinguished_name.casefold() or r.identity.casefold())
    for g in snapshot.groups:
        for name in (g.name, g.display_name, g.primary_smtp_address or "", g.identity, g.distinguished_name):
            if name:
                names.setdefault(name.casefold(), g.distinguished_name.casefold() or g.identity.casefold())

    def key(line: str) -> tuple[str, str] | None:
        match = _REMOVE_MEMBER.match(line)
        if match is None:
            return None
        group, member = (m.replace("''", "'").casefold() for m in match.groups())
        return names.get(group, group), names.get(member, member)

    last: dict[tuple[str, str], int] = {}
    for n, line in enumerate(lines):
        k = key(line)
        if k is not None:
            last[k] = n
    out: list[str] = []
    for n, line in enumerate(lines):
        k = key(line)
        if k is not None and last[k] != n:
            out.append("# (this member is removed further down, under another name, after what must come first)")
            continue
        out.append(line)
    return out


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
