"""Checks about the principal and its management role assignments: EXA001, EXA010-EXA015.

Assignments are matched by what they mean (role, assignee, assignee type, delegation type, scope, enabled), never by
their Name: Exchange generates names as ``<Role>-<Assignee>[-Delegating]`` and truncates them to 64 characters.
https://learn.microsoft.com/en-us/exchange/permissions/role-assignments
"""

from __future__ import annotations

from audit.evaluate.context import Context, Reach, Verdict, assignment_line, grants_access
from audit.evaluate.directory import key
from audit.evaluate.powershell import ps
from audit.findings import Severity, Status
from audit.snapshot import RoleAssignment

# An exclusive scope shows as ExclusiveRecipientScope; it still limits the assignment to the scope's recipients
# (and takes them away from everyone without an exclusive assignment), so it satisfies the policy's scope.
# https://learn.microsoft.com/en-us/exchange/permissions/understanding-exclusive-scopes
CUSTOM_SCOPES = frozenset({"customrecipientscope", "exclusiverecipientscope"})
ORGANIZATION = "organization"


def _principal_unknown(ctx: Context) -> Verdict | None:
    """The verdict for a check that needs the principal when it is not found (FAIL) or ambiguous (ERROR)."""
    problem = ctx.principal.problem
    if not problem:
        return None
    status = Status.ERROR if ctx.principal.ambiguous else Status.FAIL
    return Verdict(status, f"Cannot follow assignments: {problem} (see EXA001).", actual=problem)


def _via_unknown(ctx: Context) -> Verdict | None:
    via = ctx.via
    if not via.problem:
        return None
    if via.ambiguous:
        return Verdict(
            Status.ERROR,
            f"Cannot tell which assignee the policy means: {via.problem} (see EXA010).",
            actual=via.problem,
            evidence=via.evidence,
        )
    return Verdict(Status.FAIL, f"{via.problem} (see EXA010).", actual=via.problem, evidence=via.evidence)


def _new_assignment(ctx: Context) -> str:
    via = ctx.via
    scope = ctx.scope_name
    if ctx.is_app:
        app = ctx.policy.spec.principal.app
        assert app is not None
        return (
            f"New-ManagementRoleAssignment -App {ps(app.service_principal_id)} -Role {ps(ctx.role)} "
            f"{ctx.scope_parameter} {ps(scope)}"
        )
    target = {
        "roleGroup": f"-SecurityGroup {ps(via.label or via.name)}",
        "securityGroup": f"-SecurityGroup {ps(via.label or via.name)}",
        "direct": f"-User {ps(ctx.policy.spec.principal.service_account or via.name)}",
    }[via.kind]
    return f"New-ManagementRoleAssignment -Role {ps(ctx.role)} {target} -CustomRecipientWriteScope {ps(scope)}"


def _cut(ctx: Context, reach: Reach) -> str:
    """The PowerShell that removes one unwanted path from the principal, touching as little else as possible."""
    a = reach.assignment
    if not reach.hops:
        return f"Remove-ManagementRoleAssignment -Identity {ps(a.identity)} -Confirm:$false"
    first = reach.hops[0]
    member = ctx.policy.spec.principal.service_account or first.member
    if first.container_kind == "role group":
        cmd = f"Remove-RoleGroupMember -Identity {ps(first.container)} -Member {ps(member)} -Confirm:$false"
    else:
        cmd = (
            f"Remove-DistributionGroupMember -Identity {ps(first.container)} -Member {ps(member)} "
            "-BypassSecurityGroupManagerCheck -Confirm:$false"
        )
    return (
        f"{cmd}\n# or, if nobody else in {first.container!r} needs {a.role!r}:\n"
        f"# Remove-ManagementRoleAssignment -Identity {ps(a.identity)} -Confirm:$false"
    )


def exa001(ctx: Context) -> Verdict:
    """The principal exists and is enabled."""
    p = ctx.principal
    wanted = ctx.policy.spec.principal.service_account or p.label
    if p.problem:
        status = Status.ERROR if p.ambiguous else Status.FAIL
        fix = (
            "# Create the service principal pointer: New-ServicePrincipal -AppId <appId> -ObjectId <objectId>"
            if ctx.is_app
            else f"# Create the account, or correct principal.serviceAccount ({wanted}) in {ctx.policy.path.name}"
        )
        return Verdict(
            status,
            f"The principal was not found: {p.problem}.",
            expected=f"{wanted} exists and is enabled",
            actual=p.problem,
            remediation=fix,
        )
    if p.user is not None and p.user.account_disabled:
        return Verdict(
            Status.FAIL,
            f"The account {p.user.user_principal_name or p.label} is disabled: the integration cannot log in.",
            expected="AccountDisabled False",
            actual="AccountDisabled True",
            evidence=p.evidence,
            remediation=f"Enable-ADAccount -Identity {ps(p.user.sam_account_name or p.user.name)}  # AD module",
        )
    what = "service principal" if ctx.is_app else "user"
    return Verdict(
        Status.PASS,
        f"The {what} {p.label} exists and is enabled.",
        expected=f"{wanted} exists and is enabled",
        actual="found, enabled",
        evidence=p.evidence,
    )


def exa010(ctx: Context) -> Verdict:
    """The principal holds the role through the path the policy names."""
    blocked = _principal_unknown(ctx)
    if blocked is not None:
        return blocked
    via = ctx.via
    expected = f"{ctx.role} assigned to {via.kind} '{via.name}', reaching {ctx.principal.label}"
    if via.problem:
        return Verdict(
            Status.FAIL,
            f"The path the policy names {'is ambiguous' if via.ambiguous else 'does not exist'}: {via.problem}.",
            expected=expected,
            actual=via.problem,
            evidence=via.evidence,
            remediation="# Give each a distinct DisplayName (or remove the stray one):\n"
            + "\n".join(
                f"{'Set-RoleGroup' if via.kind == 'roleGroup' else 'Set-Group'} -Identity {ps(c)} "
                "-DisplayName '<distinct name>'"
                for c in via.candidates
            )
            if via.ambiguous
            else f"# create the {via.kind} {ps(via.name)} first, then:\n{_new_assignment(ctx)}",
        )
    on_path = ctx.on_path
    if not on_path:
        others = [r for r in ctx.reaching if key(r.assignment.role) == key(ctx.role)]
        return Verdict(
            Status.FAIL,
            f"No assignment of {ctx.role} to {via.kind} '{via.label}' exists"
            + (f"; the principal gets it only through other paths ({len(others)})." if others else "."),
            expected=expected,
            actual="no such assignment",
            evidence=via.evidence + tuple(f"{assignment_line(r.assignment)} via {r.path}" for r in others),
            remediation=_new_assignment(ctx),
        )
    evidence = via.evidence + tuple(assignment_line(a) for a in on_path)
    if via.kind != "direct" and via.identity not in ctx.containers:
        member = ctx.policy.spec.principal.service_account or ctx.principal.label
        add = (
            f"Add-RoleGroupMember -Identity {ps(via.label)} -Member {ps(member)}"
            if via.kind == "roleGroup"
            else f"Add-DistributionGroupMember -Identity {ps(via.label)} -Member {ps(member)} "
            "-BypassSecurityGroupManagerCheck"
        )
        return Verdict(
            Status.FAIL,
            f"{ctx.principal.label} is not a member of {via.kind} '{via.label}' (directly or through nested groups), "
            f"so the assignment does not reach it.",
            expected=expected,
            actual=f"{ctx.principal.label} not a member of '{via.label}'",
            evidence=evidence,
            remediation=add,
        )
    path = next((p for p in map(ctx.reaches, on_path) if p), None)
    if path is None:
        # Named on the path, yet none reaches the principal (a RoleAssigneeType RoleAssignmentPolicy record naming
        # the role group: Exchange writes no such record). A PASS here would vouch for a path nobody can show.
        return Verdict(
            Status.ERROR,
            f"The assignment(s) of {ctx.role} to {via.kind} '{via.label}' reach {ctx.principal.label} by no path "
            "exaudit can follow (their RoleAssigneeType contradicts the assignee): re-collect, or check them in "
            "Exchange with Get-ManagementRoleAssignment.",
            expected=expected,
            actual="assignment(s) on the path that reach nothing",
            evidence=evidence,
        )
    return Verdict(
        Status.PASS,
        f"{ctx.role} reaches {ctx.principal.label} as the policy says: {path}.",
        expected=expected,
        actual=path,
        evidence=evidence,
    )


def exa011(ctx: Context) -> Verdict:
    """The assignment is enabled and Regular."""
    blocked = _principal_unknown(ctx) or _via_unknown(ctx)
    if blocked is not None:
        return blocked
    on_path = ctx.on_path
    expected = "an enabled, Regular assignment"
    if not on_path:
        return Verdict(
            Status.FAIL,
            f"No assignment of {ctx.role} to '{ctx.via.label}' exists to judge (see EXA010).",
            expected=expected,
            actual="no assignment",
            remediation=_new_assignment(ctx),
        )
    evidence = tuple(assignment_line(a) for a in on_path)
    good = [a for a in on_path if grants_access(a)]
    if good:
        return Verdict(
            Status.PASS,
            f"{good[0].identity!r} is enabled and Regular.",
            expected=expected,
            actual=f"Enabled=True, RoleAssignmentDelegationType={good[0].delegation_type}",
            evidence=evidence,
        )
    fixes: list[str] = []
    problems: list[str] = []
    regular = [a for a in on_path if key(a.delegation_type) == "regular"]
    for a in on_path:
        if key(a.delegation_type) != "regular":
            problems.append(
                f"{a.identity!r} is {a.delegation_type}: it only lets its holder assign the role to "
                "others and grants no impersonation"
            )
        elif not a.enabled:
            problems.append(f"{a.identity!r} is disabled")
            fixes.append(f"Set-ManagementRoleAssignment -Identity {ps(a.identity)} -Enabled $true")
    if not regular:
        fixes.append(_new_assignment(ctx))
    return Verdict(
        Status.FAIL,
        f"No assignment of {ctx.role} to '{ctx.via.label}' grants anything: " + "; ".join(problems) + ".",
        expected=expected,
        actual="; ".join(f"{a.delegation_type}, Enabled={a.enabled}" for a in on_path),
        evidence=evidence,
        remediation="\n".join(fixes),
    )


def _scoped_as_expected(ctx: Context, a: RoleAssignment) -> bool:
    scope = key(ctx.scope_name)
    if ctx.policy.spec.grant.administrative_unit is not None:
        return key(a.recipient_administrative_unit_scope) == scope
    if ctx.is_app:
        # RBAC for Applications: New-ManagementRoleAssignment -App ... -CustomResourceScope <scope>.
        # https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
        return key(a.custom_resource_scope) == scope or (
            key(a.recipient_write_scope) in CUSTOM_SCOPES and key(a.custom_recipient_write_scope) == scope
        )
    return key(a.recipient_write_scope) in CUSTOM_SCOPES and key(a.custom_recipient_write_scope) == scope


def exa012(ctx: Context) -> Verdict:
    """Every Regular assignment on the path carries the expected scope; unscoped means the whole organization."""
    blocked = _principal_unknown(ctx) or _via_unknown(ctx)
    if blocked is not None:
        return blocked
    scope = ctx.scope_name
    param = ctx.scope_parameter
    expected = (
        f"{param[1:]} '{scope}'"
        if ctx.policy.spec.grant.administrative_unit is not None
        else f"RecipientWriteScope CustomRecipientScope, {param[1:]} '{scope}'"
    )
    # Disabled Regular assignments are judged too: enabling one (the EXA011 fix) must not open the organization.
    regular = [a for a in ctx.on_path if key(a.delegation_type) == "regular"]
    if not regular:
        return Verdict(
            Status.FAIL,
            f"No Regular assignment of {ctx.role} to '{ctx.via.label}' carries scope '{scope}'.",
            expected=expected,
            actual="no Regular assignment",
            remediation=_new_assignment(ctx),
        )
    evidence = tuple(assignment_line(a) for a in regular)
    wrong = [a for a in regular if not _scoped_as_expected(ctx, a)]
    if not wrong:
        return Verdict(
            Status.PASS,
            f"{ctx.role} to '{ctx.via.label}' is limited by '{scope}'.",
            expected=expected,
            actual=expected,
            evidence=evidence,
        )
    unscoped = [a for a in wrong if is_unscoped(a)]
    problems = []
    for a in wrong:
        if a in unscoped:
            problems.append(
                f"{a.identity!r} is unscoped (RecipientWriteScope Organization): it reaches every mailbox "
                "in the organization"
            )
        else:
            shown = (
                a.custom_recipient_write_scope
                or a.custom_resource_scope
                or a.recipient_administrative_unit_scope
                or a.recipient_ou_scope
                or ""
            )
            problems.append(
                f"{a.identity!r} has RecipientWriteScope {a.recipient_write_scope}"
                + (f" '{shown}'" if shown else "")
                + f", not '{scope}'"
            )
    return Verdict(
        Status.FAIL,
        "; ".join(problems) + ".",
        expected=expected,
        actual="; ".join(
            f"{a.recipient_write_scope} {a.custom_recipient_write_scope or a.custom_resource_scope or ''}".strip()
            for a in wrong
        ),
        evidence=evidence,
        remediation="\n".join(
            f"Set-ManagementRoleAssignment -Identity {ps(a.identity)} {param} {ps(scope)}" for a in wrong
        ),
        # Microsoft: "If you do not create a management scope, the ApplicationImpersonation role is granted to all
        # accounts in an organization." https://learn.microsoft.com/en-us/exchange/client-developer/
        # exchange-web-services/impersonation-and-ews-in-exchange
        severity=Severity.CRITICAL if unscoped else Severity.HIGH,
    )


def exa013(ctx: Context) -> Verdict:
    """No other effective (enabled, Regular) assignment of the role reaches the principal."""
    blocked = _principal_unknown(ctx) or _via_unknown(ctx)
    if blocked is not None:
        return blocked
    on_path = {a.identity for a in ctx.on_path}
    same_role = [r for r in ctx.reaching if key(r.assignment.role) == key(ctx.role)]
    others = [r for r in same_role if r.assignment.identity not in on_path and grants_access(r.assignment)]
    ignored = [r for r in same_role if r.assignment.identity not in on_path and not grants_access(r.assignment)]
    evidence = tuple(f"{assignment_line(r.assignment)} via {r.path}" for r in others) + tuple(
        f"ignored ({r.assignment.delegation_type}, Enabled={r.assignment.enabled}, grants nothing): "
        f"{r.assignment.identity!r} via {r.path}"
        for r in ignored
    )
    expected = f"only the assignment to '{ctx.via.label}'"
    if not others:
        note = f" ({len(ignored)} Delegating or disabled assignment(s) ignored: they grant nothing)" if ignored else ""
        return ctx.undecided(
            lambda role: role == key(ctx.role),
            Verdict(
                Status.PASS,
                f"No other enabled Regular {ctx.role} assignment reaches {ctx.principal.label}{note}.",
                expected=expected,
                actual="no other path",
                evidence=evidence,
            ),
        )
    lines = [f"{r.assignment.identity!r} ({scope_text(r.assignment)}) via {r.path}" for r in others]
    unscoped = any(is_unscoped(r.assignment) for r in others)
    return Verdict(
        Status.FAIL,
        f"{len(others)} other {ctx.role} assignment(s) reach {ctx.principal.label}: " + "; ".join(lines) + ".",
        expected=expected,
        actual="; ".join(lines),
        evidence=evidence,
        remediation="\n".join(_cut(ctx, r) for r in others),
        severity=Severity.CRITICAL if unscoped else Severity.HIGH,
    )


def is_unscoped(a: RoleAssignment) -> bool:
    """Whether an assignment reaches the whole organization (no custom, resource, OU or administrative-unit scope)."""
    return (
        key(a.recipient_write_scope) in (ORGANIZATION, "")
        and not a.custom_resource_scope
        and not a.recipient_administrative_unit_scope
        and not a.custom_recipient_write_scope
        and not a.recipient_ou_scope
    )


def scope_text(a: RoleAssignment) -> str:
    """How an assignment is scoped, in a few words."""
    if is_unscoped(a):
        return "unscoped: whole organization"
    if a.recipient_administrative_unit_scope:
        return f"administrative unit {a.recipient_administrative_unit_scope}"
    shown = a.custom_recipient_write_scope or a.custom_resource_scope or a.recipient_ou_scope
    return f"{a.recipient_write_scope} '{shown}'" if shown else a.recipient_write_scope


def _member_names(ctx: Context, identity: str) -> set[str]:
    """Every name a role group member may be listed by in exactMembers (Name, SamAccountName, UPN, SMTP, alias)."""
    names = {key(identity), key(identity.rsplit("/", 1)[-1])}
    for user in ctx.directory.users(identity):
        names |= {
            key(user.name),
            key(user.sam_account_name),
            key(user.user_principal_name),
            key(user.windows_email_address),
        }
    recipient = ctx.directory.recipient(identity)
    if recipient is not None:
        names |= {key(recipient.name), key(recipient.alias), key(recipient.display_name)} | set(
            ctx.directory.addresses(recipient)
        )
    group = ctx.directory.group(identity)
    if group is not None:
        names |= {key(group.name), key(group.display_name)}
    return names - {""}


def exa014(ctx: Context) -> Verdict:
    """The role group holds exactly the expected roles and members."""
    blocked = _via_unknown(ctx)
    if blocked is not None:
        return blocked
    spec = ctx.policy.spec.grant.via.role_group
    assert spec is not None
    rg = ctx.directory.role_group(ctx.via.identity)
    assert rg is not None
    evidence = [f"RoleGroup Identity={rg.identity!r} Roles={list(rg.roles)} Members={list(rg.members)}"]
    problems: list[str] = []
    fixes: list[str] = []
    expected: list[str] = []
    actual: list[str] = []
    if spec.exact_roles is not None:
        want = {key(r): r for r in spec.exact_roles}
        have = {key(r): r for r in rg.roles}
        expected.append(f"roles {sorted(want.values())}")
        actual.append(f"roles {sorted(have.values())}")
        for k in sorted(set(have) - set(want)):
            problems.append(f"extra role {have[k]!r}")
            for a in ctx.directory.assignments_by_role.get(k, ()):
                if ctx.directory.canonical(a.role_assignee) == key(rg.identity):
                    fixes.append(f"Remove-ManagementRoleAssignment -Identity {ps(a.identity)} -Confirm:$false")
        for k in sorted(set(want) - set(have)):
            problems.append(f"missing role {want[k]!r}")
            fixes.append(f"New-ManagementRoleAssignment -Role {ps(want[k])} -SecurityGroup {ps(rg.name)}")
    if spec.exact_members is not None:
        names = {m: _member_names(ctx, m) for m in rg.members}
        expected.append(f"members {list(spec.exact_members)}")
        actual.append(f"members {[ctx.directory.label(m) for m in rg.members]}")
        for token in spec.exact_members:
            if not any(key(token) in n for n in names.values()):
                problems.append(f"missing member {token!r}")
                fixes.append(f"Add-RoleGroupMember -Identity {ps(rg.name)} -Member {ps(token)}")
        wanted = {key(t) for t in spec.exact_members}
        for member, n in names.items():
            if not (n & wanted):
                problems.append(f"extra member {ctx.directory.label(member)!r} ({member})")
                fixes.append(f"Remove-RoleGroupMember -Identity {ps(rg.name)} -Member {ps(member)} -Confirm:$false")
    if spec.exact_roles is None and spec.exact_members is None:
        return Verdict(Status.SKIP, "The policy sets neither exactRoles nor exactMembers for the role group.")
    if problems:
        return Verdict(
            Status.FAIL,
            f"Role group '{rg.name}': " + "; ".join(problems) + ".",
            expected="; ".join(expected),
            actual="; ".join(actual),
            evidence=tuple(evidence),
            remediation="\n".join(fixes),
        )
    return Verdict(
        Status.PASS,
        f"Role group '{rg.name}' holds exactly the expected roles and members.",
        expected="; ".join(expected),
        actual="; ".join(actual),
        evidence=tuple(evidence),
    )


def exa015(ctx: Context) -> Verdict:
    """The principal holds no management role beyond the granted one and otherRolesAllowed."""
    blocked = _principal_unknown(ctx)
    if blocked is not None:
        return blocked
    allowed = {key(ctx.role)} | {key(r) for r in ctx.policy.spec.grant.other_roles_allowed}
    extra = [r for r in ctx.reaching if grants_access(r.assignment) and key(r.assignment.role) not in allowed]
    expected = "roles: " + ", ".join([ctx.role, *ctx.policy.spec.grant.other_roles_allowed])
    if not extra:
        return ctx.undecided(
            lambda role: role not in allowed,
            Verdict(
                Status.PASS,
                f"{ctx.principal.label} holds no other management role.",
                expected=expected,
                actual=expected,
            ),
        )
    on_path = {a.identity for a in ctx.on_path}
    fixes = []
    for r in extra:
        a = r.assignment
        if ctx.directory.canonical(a.role_assignee) == ctx.via.identity or a.identity in on_path or not r.hops:
            fixes.append(f"Remove-ManagementRoleAssignment -Identity {ps(a.identity)} -Confirm:$false")
        else:
            fixes.append(_cut(ctx, r))
    roles = sorted({r.assignment.role for r in extra})
    return Verdict(
        Status.FAIL,
        f"{ctx.principal.label} holds {len(roles)} role(s) beyond the allowed ones: "
        + "; ".join(f"{r.assignment.role!r} via {r.path}" for r in extra)
        + ".",
        expected=expected,
        actual="extra roles: " + ", ".join(roles),
        evidence=tuple(f"{assignment_line(r.assignment)} via {r.path}" for r in extra),
        remediation="\n".join(dict.fromkeys(fixes)),
    )
