"""Exchange Online app checks about behaviour and lifecycle: EXA076, EXA077, EXA078, and the propagation rule.

EXA076 reads Test-ServicePrincipalAuthorization, EXA077 the EWS allow list against the date, EXA078 what the
ApplicationImpersonation how-to left behind; the probe checks use the propagation rule for an app.

Exchange caches app permissions: "Changes to app permissions are subject to cache maintenance that varies between
30 minutes and 2 hours ... the test command bypasses this cache"
(https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac, Limitations). So for two hours after a
change the probe (the real API) and Test-ServicePrincipalAuthorization may disagree without anything being wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from audit.evaluate.apps import (
    app_assignments,
    app_principal,
    is_application_role,
    mailbox_grants,
    permissions_of,
)
from audit.evaluate.context import Context, Verdict, assignment_line, grants_access
from audit.evaluate.directory import key
from audit.evaluate.platform import EWS_OFF, EWS_PHASED_OFF, _days
from audit.evaluate.powershell import ps
from audit.evaluate.scope import expected_mailboxes, find_scope, listing
from audit.findings import Severity, Status
from audit.policy.model import reaches_mailboxes
from audit.snapshot import AuthorizationRow, ProbeOutcome

PROPAGATION = timedelta(hours=2)

# Built-in role groups that hold ApplicationImpersonation on-premises (Hygiene Management with a Regular
# assignment); they are not what the how-to created.
_BUILTIN_HOLDERS = frozenset({"hygiene management", "organization management"})
_IMPERSONATION = "applicationimpersonation"


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        # RFC 3339 allows a lower-case "z" too; Python 3.11's fromisoformat reads only "Z". A change time that was
        # not read would hide a propagating change (the probe check's FAIL instead of its "propagating" ERROR).
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("z", "Z") else text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _resource_addresses(ctx: Context, resource: str) -> frozenset[str]:
    recipient = ctx.directory.recipient_by_address(resource)
    found = {key(resource)}
    if recipient is not None:
        found |= ctx.directory.addresses(recipient)
    return frozenset(found)


def authorization_by_mailbox(ctx: Context) -> dict[str, list[AuthorizationRow]]:
    """Test-ServicePrincipalAuthorization -Resource rows, by every address of the mailbox tested."""
    found: dict[str, list[AuthorizationRow]] = {}
    for row in ctx.snapshot.authorizations:
        if row.resource is None:
            continue
        for address in _resource_addresses(ctx, row.resource):
            found.setdefault(address, []).append(row)
    return found


def _grants_role(ctx: Context, row: AuthorizationRow) -> bool:
    """Whether a row is about the policy's role, by name or by what it grants (composites)."""
    if key(row.role_name) == key(ctx.role):
        return True
    wanted = {key(p) for p in permissions_of(ctx, ctx.role) or ()}
    return bool(wanted & {key(p) for p in row.granted_permissions})


def _reaching_row(row: AuthorizationRow) -> bool:
    return is_application_role(row.role_name) and (
        any(reaches_mailboxes(p) for p in row.granted_permissions) or not row.granted_permissions
    )


def tested_in_scope(ctx: Context, mailbox: str) -> bool | None:
    """Test-ServicePrincipalAuthorization's answer for a mailbox: any mailbox-reaching role InScope (None: unknown)."""
    rows = [r for r in authorization_by_mailbox(ctx).get(key(mailbox), []) if _reaching_row(r)]
    if not rows or any(r.in_scope is None for r in rows):
        return None
    return any(r.in_scope for r in rows)


def exa076(ctx: Context) -> Verdict:
    """Test-ServicePrincipalAuthorization says InScope for every expected mailbox and for no canary."""
    probes = ctx.policy.spec.probes
    want = expected_mailboxes(ctx)
    allow = sorted(want[0]) if want is not None else []
    canaries = [key(c) for c in probes.deny.canaries] if probes is not None else []
    if not allow and not canaries:
        return Verdict(Status.SKIP, "The policy names no mailbox to test (no expected set, no canaries).")
    rows = authorization_by_mailbox(ctx)
    expected = f"InScope True for {len(allow)} expected mailbox(es), False for {len(canaries)} canary(ies)"
    breached: list[str] = []
    missing: list[str] = []
    unknown: list[str] = []
    evidence: list[str] = []
    for mailbox in allow:
        mine = [r for r in rows.get(mailbox, []) if _grants_role(ctx, r)]
        evidence += [_row_line(r) for r in mine]
        if not mine:
            unknown.append(f"{mailbox} (not tested)")
        elif any(r.in_scope is True for r in mine):
            continue
        elif any(r.in_scope is None for r in mine):
            unknown.append(f"{mailbox} (InScope {mine[0].raw_in_scope or 'unreadable'!r})")
        else:
            missing.append(mailbox)
    for mailbox in canaries:
        mine = [r for r in rows.get(mailbox, []) if _reaching_row(r)]
        evidence += [_row_line(r) for r in mine]
        if any(r.in_scope is True for r in mine):
            roles = sorted({r.role_name for r in mine if r.in_scope})
            breached.append(f"{mailbox} ({', '.join(roles)})")
        elif not rows.get(mailbox):
            unknown.append(f"{mailbox} (not tested)")
        elif any(r.in_scope is None for r in mine):
            unknown.append(f"{mailbox} (InScope unreadable)")
    actual = f"{len(breached)} canary(ies) in scope, {len(missing)} expected out of scope, {len(unknown)} undecided"
    if breached or missing:
        parts = []
        if breached:
            parts.append(f"canaries in scope: {listing(breached)}")
        if missing:
            parts.append(f"expected mailboxes out of scope: {listing(missing)}")
        if unknown:
            parts.append(f"undecided: {listing(unknown)}")
        return Verdict(
            Status.FAIL,
            "Test-ServicePrincipalAuthorization disagrees with the policy: " + "; ".join(parts) + ".",
            expected=expected,
            actual=actual,
            evidence=tuple(evidence[:200]),
            remediation="# Fix the scope or the assignments (EXA012, EXA020, EXA040, EXA072), then verify:\n"
            + "\n".join(
                f"Test-ServicePrincipalAuthorization -Identity {ps(app_principal(ctx).service_principal_id)} "
                f"-Resource {ps(m.split(' ')[0])}"
                for m in (breached + missing)[:10]
            ),
            severity=Severity.CRITICAL if breached else Severity.HIGH,
        )
    if unknown:
        return Verdict(
            Status.ERROR,
            f"Test-ServicePrincipalAuthorization gave no usable answer for {listing(unknown)}.",
            expected=expected,
            actual=actual,
            evidence=tuple(evidence[:200]),
        )
    return Verdict(
        Status.PASS,
        f"Test-ServicePrincipalAuthorization agrees: {len(allow)} expected mailbox(es) in scope, "
        f"{len(canaries)} canary(ies) out of scope (Exchange's side only; EXA074 covers Entra).",
        expected=expected,
        actual=actual,
        evidence=tuple(evidence[:40]),
    )


def _row_line(r: AuthorizationRow) -> str:
    return (
        f"Test-ServicePrincipalAuthorization -Resource {r.resource} RoleName={r.role_name!r} "
        f"AllowedResourceScope={r.allowed_resource_scope!r} ScopeType={r.scope_type!r} InScope={r.raw_in_scope!r}"
    )


def exa077(ctx: Context) -> Verdict:
    """EWSEnabled and EwsAllowedAppIDs agree with whether the app still needs EWS, as of today."""
    org = ctx.snapshot.organization
    if org is None:
        return Verdict(Status.ERROR, "Organization facts were not collected (Get-OrganizationConfig returned nothing).")
    if not org.is_exchange_online and key(ctx.snapshot.target.platform) != "exchange-online":
        return Verdict(Status.SKIP, "On-premises Exchange has no EWS app allow list (see EXA060).")
    app = app_principal(ctx)
    required = ctx.policy.spec.ews is not None and ctx.policy.spec.ews.required
    today = ctx.now.date()
    allowed = org.ews_allowed_app_ids
    shown = f"EWSEnabled={org.ews_enabled} EwsAllowedAppIDs={list(allowed) if allowed is not None else 'not read'}"
    evidence = (f"OrganizationConfig {shown}",)
    if allowed is None:
        return Verdict(
            Status.ERROR,
            "EwsAllowedAppIDs was not read (Get-OrganizationConfig -RetrieveEwsOperationAccessPolicy); whether the app "
            "may use EWS is unknown.",
            expected="EwsAllowedAppIDs read",
            actual="not read",
            evidence=evidence,
        )
    listed = key(app.app_id) in {key(a) for a in allowed}
    rest = [a for a in allowed if key(a) != key(app.app_id)]
    if not required:
        if listed:
            keep = ",".join(rest)
            return Verdict(
                Status.FAIL,
                "The app does not use EWS (ews.required false) but is in EwsAllowedAppIDs: remove it, so that a "
                f"leaked credential cannot use EWS (EWS ends {_days(ctx.now, EWS_OFF)}).",
                expected="app not in EwsAllowedAppIDs",
                actual=shown,
                evidence=evidence,
                remediation=f"Set-OrganizationConfig -EwsAllowedAppIDs {ps(keep) if keep else '$null'}",
                severity=Severity.LOW,
            )
        return Verdict(
            Status.PASS,
            "The app uses Microsoft Graph only and is not in the EWS allow list.",
            expected="app not in EwsAllowedAppIDs",
            actual=shown,
            evidence=evidence,
        )
    expected = "EWSEnabled True and the app in EwsAllowedAppIDs"
    fix = f"Set-OrganizationConfig -EwsEnabled $true -EwsAllowedAppIDs {ps(','.join([*rest, app.app_id]))}"
    if today >= EWS_OFF:
        return Verdict(
            Status.FAIL,
            f"EWS in Exchange Online was switched off for good on 1 April 2027 ({_days(ctx.now, EWS_OFF)}); the app "
            "still needs it (ews.required). Move it to Microsoft Graph.",
            expected="an app that no longer needs EWS",
            actual="ews.required true",
            evidence=evidence,
            remediation="# Move the integration to Microsoft Graph, then set ews.required: false in "
            + ctx.policy.path.name,
            severity=Severity.CRITICAL,
        )
    if org.ews_enabled is True and listed:
        return Verdict(
            Status.PASS,
            f"EWSEnabled is True and the app is in EwsAllowedAppIDs; EWS ends on 1 April 2027 "
            f"({_days(ctx.now, EWS_OFF)}).",
            expected=expected,
            actual=shown,
            evidence=evidence,
        )
    problems = []
    if org.ews_enabled is not True:
        problems.append(f"EWSEnabled is {org.ews_enabled}")
    if not listed:
        problems.append("the app is not in EwsAllowedAppIDs")
    if today >= EWS_PHASED_OFF:
        message = (
            f"{' and '.join(problems)}: since 1 October 2026 EWS is blocked for every app not on the allow list, so "
            "the integration's EWS calls fail."
        )
        severity = Severity.CRITICAL
    else:
        message = (
            f"{' and '.join(problems)}: from 1 October 2026 ({_days(ctx.now, EWS_PHASED_OFF)}) EWS is blocked for "
            "every app not on the allow list."
        )
        severity = Severity.HIGH
    return Verdict(
        Status.FAIL,
        message,
        expected=expected,
        actual=shown,
        evidence=evidence,
        remediation=fix,
        severity=severity,
    )


def exa078(ctx: Context) -> Verdict:
    """What the ApplicationImpersonation how-to left behind is gone: its role group, assignments, service account."""
    legacy = ctx.policy.spec.legacy
    problems: list[str] = []
    fixes: list[str] = []
    evidence: list[str] = []
    unknown: list[str] = []
    holders = set()
    for a in ctx.directory.assignments_by_role.get(_IMPERSONATION, ()):
        if not grants_access(a):
            continue
        assignee = ctx.directory.label(a.role_assignee) or a.role_assignee_name
        if key(a.role_assignee_name) in _BUILTIN_HOLDERS or key(assignee) in _BUILTIN_HOLDERS:
            evidence.append(f"built-in, ignored: {assignment_line(a)}")
            continue
        holders.add(key(a.role_assignee_name))
        evidence.append(assignment_line(a))
        problems.append(f"ApplicationImpersonation is still assigned to {assignee!r} ({a.identity!r})")
        fixes.append(f"Remove-ManagementRoleAssignment -Identity {ps(a.identity)} -Confirm:$false")
    if legacy is not None and legacy.role_group:
        found = ctx.directory.role_groups_named(legacy.role_group)
        for rg in found:
            evidence.append(f"RoleGroup Identity={rg.identity!r} Roles={list(rg.roles)} Members={list(rg.members)}")
            problems.append(f"the role group {rg.name!r} still exists")
            fixes.append(f"Remove-RoleGroup -Identity {ps(rg.name)} -BypassSecurityGroupManagerCheck -Confirm:$false")
    if legacy is not None and legacy.service_account:
        account = legacy.service_account
        reads = [c for c in ctx.snapshot.calls if key(c.cmdlet) == "get-user"]
        calls = [c for c in reads if key(c.parameters.get("Identity")) == key(account)]
        # Exchange Online collection reads every user (Get-User -ResultSize Unlimited): absent there means removed.
        everyone = [c for c in reads if "Identity" not in c.parameters]
        users = ctx.directory.users(account)
        if users:
            for user in users:
                evidence.append(
                    f"User Identity={user.identity!r} UserPrincipalName={user.user_principal_name!r} "
                    f"AccountDisabled={user.account_disabled}"
                )
                if not user.account_disabled:
                    problems.append(f"the service account {user.user_principal_name or account!r} is still enabled")
                    fixes.append(
                        f"Update-MgUser -UserId {ps(user.user_principal_name or account)} -AccountEnabled:$false"
                        "   # Microsoft Graph PowerShell; or remove the account"
                    )
        elif calls and all(not c.ok and key(c.error_kind) == "managementobjectnotfound" for c in calls):
            evidence.append(f"Get-User -Identity {account}: not found (removed)")
        elif (calls and all(c.ok for c in calls)) or (everyone and all(c.ok for c in everyone)):
            evidence.append(f"Get-User: no user {account} (removed)")
        else:
            why = next((c.error for c in calls if not c.ok), None) or "it was not read"
            unknown.append(f"whether the service account {account} still exists ({why})")
    expected = "no ApplicationImpersonation assignment, legacy role group or enabled service account left"
    if problems:
        return Verdict(
            Status.FAIL,
            "Leftovers of the ApplicationImpersonation setup, to clean up: " + "; ".join(problems) + ".",
            expected=expected,
            actual="; ".join(problems),
            evidence=tuple(evidence),
            remediation="\n".join(dict.fromkeys(fixes)),
            severity=Severity.MEDIUM,
        )
    if unknown:
        return Verdict(
            Status.ERROR,
            "Cannot tell " + "; ".join(unknown) + ".",
            expected=expected,
            actual="not read",
            evidence=tuple(evidence),
        )
    return Verdict(
        Status.PASS,
        "Nothing of the ApplicationImpersonation setup is left.",
        expected=expected,
        actual="none left",
        evidence=tuple(evidence),
    )


def propagation_until(ctx: Context) -> datetime | None:
    """When a change less than two hours before collection stops propagating (None: no recent change seen)."""
    collected = _when(ctx.snapshot.collected_at)
    if collected is None:
        return None
    changed = [_when(a.when_changed) for a in app_assignments(ctx)]
    if ctx.policy.spec.scope is not None:
        changed += [_when(s.when_changed) for s in find_scope(ctx, ctx.policy.spec.scope.name)]
    changed += [_when(sp.when_changed) for sp in ctx.snapshot.service_principals]
    recent = [c for c in changed if c is not None and collected - PROPAGATION < c <= collected + timedelta(minutes=5)]
    if not recent:
        return None
    return max(recent) + PROPAGATION


def propagating(ctx: Context, expect: str, outcomes: dict[str, ProbeOutcome]) -> str:
    """The "propagating" message for probes that disagree with Test-ServicePrincipalAuthorization after a change.

    "" when it does not apply. A disagreement an Entra grant explains (EXA074) is no propagation.
    """
    until = propagation_until(ctx)
    if until is None or mailbox_grants(ctx):
        return ""
    disagree = []
    for mailbox, outcome in outcomes.items():
        tested = tested_in_scope(ctx, mailbox)
        if tested is None:
            continue
        refused_in_scope = expect == "allow" and outcome is ProbeOutcome.DENIED and tested
        reached_out_of_scope = expect == "deny" and outcome is ProbeOutcome.ALLOWED and not tested
        if refused_in_scope or reached_out_of_scope:
            disagree.append(mailbox)
    if not disagree:
        return ""
    return (
        f"propagating, re-run after {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC: the assignment or scope changed less "
        f"than two hours before collection and the probe of {listing(sorted(disagree))} disagrees with "
        "Test-ServicePrincipalAuthorization (which bypasses Exchange's permission cache)"
    )
