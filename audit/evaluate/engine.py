"""The engine: run every check of the registry for a policy against a snapshot, purely.

``evaluate`` reads no file, no network and no clock (``now`` is passed in). For each check, in order: a waiver
that holds turns the finding into SKIP (the verdict it would have had is kept in the message), except an ERROR,
which no waiver hides; a check that does not apply to the policy is SKIP with the reason; a check whose cmdlets
failed or were not called is ERROR quoting the collection error; otherwise the check decides. An expired waiver
adds an EXA000 FAIL. Severity overrides apply last.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

from audit.errors import ExauditError
from audit.evaluate import apps, exo, group, platform, probes, rbac, scope
from audit.evaluate.checks import (
    APP_CHECKS,
    CHECKS,
    GRAPH_ADMINISTRATIVE_UNIT_MEMBERS,
    GROUPS,
    ORDER,
    SERVICE_PRINCIPALS,
    USERS,
)
from audit.evaluate.context import Context, Verdict
from audit.evaluate.directory import Directory
from audit.evaluate.powershell import ps
from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy
from audit.snapshot import Snapshot

CheckFunction = Callable[[Context], Verdict]

# Check id -> (the function that decides it, the dotted policy key its expectation comes from).
IMPLEMENTATIONS: dict[str, tuple[CheckFunction, str]] = {
    "EXA001": (rbac.exa001, "principal"),
    "EXA010": (rbac.exa010, "grant.via"),
    "EXA011": (rbac.exa011, "grant.via"),
    "EXA012": (rbac.exa012, "grant.scope"),
    "EXA013": (rbac.exa013, "grant.onlyPath"),
    "EXA014": (rbac.exa014, "grant.via.roleGroup"),
    "EXA015": (rbac.exa015, "grant.otherRolesAllowed"),
    "EXA020": (scope.exa020, "scope.recipientFilter"),
    "EXA021": (scope.exa021, "scope.recipientFilter"),
    "EXA030": (group.exa030, "group.type"),
    "EXA031": (group.exa031, "group.hiddenFromAddressLists"),
    "EXA032": (group.exa032, "group.membershipClosed"),
    "EXA033": (group.exa033, "group.members"),
    "EXA034": (group.exa034, "group.members"),
    "EXA035": (group.exa035, "group.members"),
    "EXA040": (scope.exa040, "scope"),
    "EXA050": (probes.exa050, "probes.allow"),
    "EXA051": (probes.exa051, "probes.deny"),
    "EXA060": (platform.exa060, "principal"),
    "EXA070": (apps.exa070, "principal.app"),
    "EXA071": (apps.exa071, "grant.role"),
    "EXA072": (apps.exa072, "grant"),
    "EXA073": (apps.exa073, "grant.administrativeUnit"),
    "EXA074": (apps.exa074, "entra"),
    "EXA075": (apps.exa075, "entra"),
    "EXA076": (exo.exa076, "probes"),
    "EXA077": (exo.exa077, "ews"),
    "EXA078": (exo.exa078, "legacy"),
}

GROUP_CHECKS = frozenset({"EXA030", "EXA031", "EXA032", "EXA033", "EXA034", "EXA035"})
VIA_CHECKS = frozenset({"EXA010", "EXA011", "EXA012", "EXA013", "EXA015"})  # they resolve grant.via


def _not_applicable(check_id: str, ctx: Context) -> str:
    """Why a check does not apply to this policy ("" when it does)."""
    spec = ctx.policy.spec
    if check_id == "EXA073" and spec.grant.administrative_unit is None:
        return "The assignment is scoped to a management scope, not an administrative unit (EXA020/EXA040 judge it)."
    if check_id in GROUP_CHECKS and spec.group is None:
        return "The policy has no group section; group checks do not apply."
    if check_id == "EXA076" and ctx.is_app and _no_exchange_pointer(ctx):
        return (
            "Exchange has no service principal for this app (EXA070): RBAC for Applications grants it nothing, and "
            "Test-ServicePrincipalAuthorization has nothing to test."
        )
    if check_id == "EXA014" and ctx.is_app:
        # https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac (Limitations)
        return "Applications cannot be members of a role group; RBAC for Applications assigns roles directly."
    if check_id in ("EXA020", "EXA021") and spec.scope is None:
        return "The assignment is scoped to an administrative unit, not a management scope; EXA073 checks it."
    if check_id == "EXA014" and spec.grant.via.role_group is None:
        return "The role does not come through a role group (grant.via), so there is no role group to check."
    if check_id == "EXA013" and not spec.grant.only_path:
        return "The policy allows other paths to the role (grant.onlyPath: false)."
    if check_id in ("EXA050", "EXA051") and spec.probes is None:
        return "The policy asks for no probes (no probes section)."
    return ""


def _no_exchange_pointer(ctx: Context) -> bool:
    """Whether Get-ServicePrincipal was read in full and lists no pointer for the policy's app (by appId or id)."""
    app = ctx.policy.spec.principal.app
    ok, _ = ctx.snapshot.call_status(SERVICE_PRINCIPALS)
    if app is None or not ok:
        return False
    ids = {app.app_id.casefold(), app.service_principal_id.casefold()}
    return not any(
        sp.app_id.casefold() in ids or sp.object_id.casefold() in ids for sp in ctx.snapshot.service_principals
    )


def needs(check_id: str, ctx: Context) -> tuple[str, ...]:
    """The cmdlets whose records this check reads for this policy."""
    wanted = CHECKS[check_id].needs
    if ctx.is_app:
        # A service principal has no user object: RBAC for Applications assignments name it directly.
        wanted = tuple(c for c in wanted if c != USERS)
        if check_id == "EXA040" and ctx.policy.spec.grant.administrative_unit is not None:
            wanted = (*wanted, GRAPH_ADMINISTRATIVE_UNIT_MEMBERS)
    if check_id in VIA_CHECKS and ctx.policy.spec.grant.via.security_group is not None and GROUPS not in wanted:
        # The assignee grant.via names is then a group: only Get-Group can say whether it exists.
        wanted = (*wanted, GROUPS)
    return wanted


def _missing_data(check_id: str, ctx: Context) -> Verdict | None:
    reasons = []
    for cmdlet in needs(check_id, ctx):
        ok, why = ctx.snapshot.call_status(cmdlet)
        if not ok:
            reasons.append(why.rstrip(". "))
    if not reasons:
        return None
    return Verdict(
        Status.ERROR,
        "Cannot evaluate: " + "; ".join(reasons) + ". The state is unknown (fail closed); fix collection and re-run.",
        actual="data missing",
        evidence=tuple(reasons),
    )


def _decide(check_id: str, ctx: Context) -> Verdict:
    skip = _not_applicable(check_id, ctx)
    if skip:
        return Verdict(Status.SKIP, skip)
    missing = _missing_data(check_id, ctx)
    if missing is not None:
        return missing
    function, _ = IMPLEMENTATIONS[check_id]
    try:
        return function(ctx)
    except ExauditError as exc:
        # A filter exaudit cannot read, an inconsistent record: the state is unknown, never a PASS.
        return Verdict(Status.ERROR, f"Cannot evaluate: {exc}", actual="error")


def _finding(check_id: str, ctx: Context, verdict: Verdict, where: str, waived_by: str | None = None) -> Finding:
    spec = CHECKS[check_id]
    severity = verdict.severity or spec.severity
    override = ctx.policy.spec.severity.get(check_id)
    if override is not None:
        severity = Severity(override)
    return Finding(
        check_id=check_id,
        title=spec.title,
        status=verdict.status,
        severity=severity,
        message=verdict.message,
        policy=ctx.policy.spec.metadata.name,
        expected=verdict.expected,
        actual=verdict.actual,
        remediation=verdict.remediation if verdict.status is Status.FAIL else "",
        doc_url=spec.doc_url,
        rationale=spec.rationale,
        evidence=verdict.evidence,
        location=ctx.policy.location(where),
        waived_by=waived_by,
    )


def _evaluate(policy: LoadedPolicy, snapshot: Snapshot, directory: Directory, now: datetime) -> tuple[Finding, ...]:
    ctx = Context(policy=policy, snapshot=snapshot, directory=directory, now=now)
    waivers = {w.check: (index, w) for index, w in enumerate(policy.spec.waivers)}
    findings: list[Finding] = []
    expired: list[Finding] = []
    # The Exchange Online app checks are not evaluated (not even as SKIP) for a service account's policy: they
    # are about another kind of principal, and nine SKIP lines in every on-premises report would be noise.
    order = [c for c in ORDER if ctx.is_app or c not in APP_CHECKS]
    for check_id in order:
        _, where = IMPLEMENTATIONS[check_id]
        verdict = _decide(check_id, ctx)
        waiver = waivers.get(check_id)
        if waiver is None:
            findings.append(_finding(check_id, ctx, verdict, where))
            continue
        index, w = waiver
        # A waiver holds through its expiry day (``expires`` is the last day it is valid).
        if now.date() <= w.expires and verdict.status is Status.ERROR:
            # A waiver accepts a deviation someone observed; an ERROR is a state nobody could read. No waiver can
            # accept that: the finding stays ERROR (exit code 3), saying why the waiver did not apply.
            note = (
                f" (waivers[{index}] for {check_id} does not apply: it accepts an observed deviation, "
                "not an unknown state.)"
            )
            findings.append(
                _finding(check_id, ctx, dataclasses.replace(verdict, message=verdict.message + note), where)
            )
            continue
        if now.date() <= w.expires:
            findings.append(
                _finding(
                    check_id,
                    ctx,
                    Verdict(
                        Status.SKIP,
                        f"Waived until {w.expires.isoformat()}: {w.reason} (would have been {verdict.status}: "
                        f"{verdict.message})",
                        expected=verdict.expected,
                        actual=verdict.actual,
                        evidence=verdict.evidence,
                        severity=verdict.severity,
                    ),
                    f"waivers[{index}]",
                    waived_by=w.reason,
                )
            )
            continue
        findings.append(_finding(check_id, ctx, verdict, where))
        expired.append(
            _finding(
                "EXA000",
                ctx,
                Verdict(
                    Status.FAIL,
                    f"The waiver for {check_id} expired on {w.expires.isoformat()} ({w.reason!r}); {check_id} is "
                    f"evaluated again and is {verdict.status}. Renew the waiver deliberately or remove it.",
                    expected=f"waiver for {check_id} valid on {now.date().isoformat()}",
                    actual=f"expired {w.expires.isoformat()}",
                    remediation=f"# Remove (or renew) waivers[{index}] ({check_id}) in {ps(policy.path.name)}",
                ),
                f"waivers[{index}].expires",
            )
        )
    for check_id in sorted(set(waivers) - set(order)):
        index, w = waivers[check_id]
        what = (
            "which applies only to an app principal (principal.app)"
            if check_id in APP_CHECKS
            else "which is not a check exaudit knows"
        )
        expired.append(
            _finding(
                "EXA000",
                ctx,
                Verdict(
                    Status.FAIL,
                    f"waivers[{index}] names {check_id}, {what}; it waives nothing.",
                    expected="a waiver for a known check",
                    actual=check_id,
                    remediation=f"# Correct or remove waivers[{index}] in {ps(policy.path.name)}",
                ),
                f"waivers[{index}].check",
            )
        )
    return tuple(expired + findings)


def evaluate(policy: LoadedPolicy, snapshot: Snapshot, now: datetime) -> tuple[Finding, ...]:
    """Evaluate every check for one policy against one snapshot, as of ``now``."""
    return _evaluate(policy, snapshot, Directory(snapshot), now)


def evaluate_all(policies: Sequence[LoadedPolicy], snapshot: Snapshot, now: datetime) -> tuple[Finding, ...]:
    """Evaluate several policies against one snapshot (indexed once)."""
    directory = Directory(snapshot)
    return tuple(f for policy in policies for f in _evaluate(policy, snapshot, directory, now))
