"""Checks for an Exchange Online app principal (RBAC for Applications): EXA070-EXA078.

An app reaches a mailbox when Exchange's scoped role OR an Entra ID application permission lets it: "the assigned
permissions are a union operation on the permissions from Microsoft Entra ID and the permissions assigned in
Exchange Online RBAC" (https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac, FAQ). So these
checks read both systems: the Exchange side (Get-ServicePrincipal, Get-ManagementRoleAssignment,
Test-ServicePrincipalAuthorization, Get-ApplicationAccessPolicy, Get-OrganizationConfig) and the Entra side (the
service principal and its appRoleAssignments over Microsoft Graph).
"""

from __future__ import annotations

from audit.evaluate.context import Context, Verdict, assignment_line, grants_access
from audit.evaluate.directory import key
from audit.evaluate.powershell import ps, ps_comment
from audit.evaluate.rbac import is_unscoped, scope_text
from audit.evaluate.scope import expected_mailboxes, find_unit, listing
from audit.findings import Severity, Status
from audit.policy import AppPrincipal, reaches_mailboxes
from audit.policy.model import APPLICATION_ROLE_PREFIX
from audit.snapshot import AppRoleGrant, AuthorizationRow, RoleAssignment

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
RESOURCE_NAMES = {GRAPH_APP_ID: "Microsoft Graph", EXCHANGE_APP_ID: "Office 365 Exchange Online"}

# What each "Application *" role grants (APPRBAC "Supported Application Roles", 2025-11-25). Used only for a role
# Test-ServicePrincipalAuthorization gave no row for: its GrantedPermissions column is authoritative, because
# composites ("Application Exchange Full Access") bundle several permissions under one name.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "application mail.read": ("Mail.Read",),
    "application mail.readbasic": ("Mail.ReadBasic",),
    "application mail.readwrite": ("Mail.ReadWrite",),
    "application mail.send": ("Mail.Send",),
    "application mailboxsettings.read": ("MailboxSettings.Read",),
    "application mailboxsettings.readwrite": ("MailboxSettings.ReadWrite",),
    "application calendars.read": ("Calendars.Read",),
    "application calendars.readwrite": ("Calendars.ReadWrite",),
    "application contacts.read": ("Contacts.Read",),
    "application contacts.readwrite": ("Contacts.ReadWrite",),
    "application mailboxfolder.read": ("MailboxFolder.Read.All",),
    "application mailboxfolder.readwrite": ("MailboxFolder.ReadWrite.All",),
    "application mailboxitem.read": ("MailboxItem.Read.All",),
    "application mailboxitem.readwrite": ("MailboxItem.ReadWrite.All",),
    "application mailboxitem.export": ("MailboxItem.Export.All",),
    "application mailboxitem.importexport": ("MailboxItem.ImportExport.All",),
    "application mail full access": ("Mail.ReadWrite", "Mail.Send"),
    "application exchange full access": (
        "Mail.ReadWrite",
        "Mail.Send",
        "MailboxSettings.ReadWrite",
        "Calendars.ReadWrite",
        "Contacts.ReadWrite",
    ),
    "application ews.accessasapp": ("EWS.AccessAsApp",),
    "application smtp.sendasapp": ("SMTP.SendAsApp",),
    "application mailboxconfigitem.read": ("MailboxConfigItem.Read",),
    "application mailboxconfigitem.readwrite": ("MailboxConfigItem.ReadWrite",),
    "application mailtips.readbasic.all": ("MailTips.ReadBasic.All",),
    "application mail-advanced.readwrite.all": ("Mail-Advanced.ReadWrite.All",),
}

# Test-ServicePrincipalAuthorization rows that mean "every mailbox": ScopeType Organization, or no scope at all.
# OPD Test-ServicePrincipalAuthorization example 1; azapptoolkit's is_org_wide_auth_row for the other spellings.
_ORG_WIDE = frozenset({"", "organization", "organizationconfig", "organizationscope", "not applicable"})


def app_principal(ctx: Context) -> AppPrincipal:
    """The policy's app principal."""
    app = ctx.policy.spec.principal.app
    assert app is not None  # the engine skips these checks for a serviceAccount policy
    return app


def is_application_role(role: str) -> bool:
    """Whether a management role is one of RBAC for Applications' ``Application *`` roles."""
    return role.casefold().startswith(APPLICATION_ROLE_PREFIX.casefold())


def permissions_of(ctx: Context, role: str) -> tuple[str, ...] | None:
    """What a role grants: Test-ServicePrincipalAuthorization's GrantedPermissions, else Microsoft's table."""
    rows = [r for r in ctx.snapshot.authorizations if key(r.role_name) == key(role) and r.granted_permissions]
    if rows:
        return tuple(dict.fromkeys(p for r in rows for p in r.granted_permissions))
    return ROLE_PERMISSIONS.get(key(role))


def app_assignments(ctx: Context) -> list[RoleAssignment]:
    """Enabled, Regular assignments of ``Application *`` roles that reach the app (directly: the only way)."""
    return [
        r.assignment for r in ctx.reaching if grants_access(r.assignment) and is_application_role(r.assignment.role)
    ]


def _sp_ids(ctx: Context) -> set[str]:
    app = app_principal(ctx)
    ids = {key(app.service_principal_id)}
    ids |= {key(e.id) for e in ctx.snapshot.entra_service_principals if key(e.app_id) == key(app.app_id)}
    return ids


# An app role assignment with the empty GUID is "default access" to the resource: it grants no permission.
# https://learn.microsoft.com/en-us/graph/api/resources/approleassignment (appRoleId)
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"


def entra_grants(ctx: Context) -> list[AppRoleGrant]:
    """The Entra app role assignments held by the app's service principal (default access grants nothing)."""
    ids = _sp_ids(ctx)
    return [
        g
        for g in ctx.snapshot.app_role_grants
        if (not g.principal_id or key(g.principal_id) in ids) and key(g.app_role_id) != DEFAULT_ACCESS
    ]


def _resource(g: AppRoleGrant) -> str:
    return g.resource_display_name or RESOURCE_NAMES.get(key(g.resource_app_id), g.resource_app_id)


def _grant_line(g: AppRoleGrant) -> str:
    return (
        f"appRoleAssignment resource={_resource(g)!r} ({g.resource_app_id}) appRoleId={g.app_role_id} "
        f"permission={g.permission or '(unresolved)'!r}" + (f" principalId={g.principal_id}" if g.principal_id else "")
    )


def _allowed(ctx: Context, g: AppRoleGrant) -> bool:
    entra = ctx.policy.spec.entra
    if entra is None:
        return False
    names = {key(g.resource_display_name), key(g.resource_app_id), key(RESOURCE_NAMES.get(key(g.resource_app_id)))}
    return any(
        key(a.permission) == key(g.permission) and key(a.resource) in names - {""} for a in entra.allowed_app_roles
    )


def mailbox_grants(ctx: Context) -> list[AppRoleGrant]:
    """Entra grants that reach every mailbox of the tenant, whatever Exchange's scope says."""
    return [g for g in entra_grants(ctx) if reaches_mailboxes(g.permission)]


def _remove_grant(ctx: Context, g: AppRoleGrant) -> str:
    sp = ps(app_principal(ctx).service_principal_id)
    return (
        f"Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId {sp} | "
        f"Where-Object AppRoleId -eq {ps(g.app_role_id)} | "
        f"ForEach-Object {{ Remove-MgServicePrincipalAppRoleAssignment -ServicePrincipalId {sp} "
        # The resource's display name comes from Graph (another tenant's app names itself): a line break in it would
        # end the comment and start a command of its own in the printed plan.
        f"-AppRoleAssignmentId $_.Id }}   # {ps_comment(f'{_resource(g)} {g.permission}')}"
    )


def _blocked(ctx: Context) -> Verdict | None:
    p = ctx.principal
    if not p.problem:
        return None
    return Verdict(
        Status.ERROR if p.ambiguous else Status.FAIL,
        f"Cannot follow the app's assignments: {p.problem} (see EXA001, EXA070).",
        actual=p.problem,
        remediation="# Create the service principal pointer first (EXA070)" if not p.ambiguous else "",
    )


def exa070(ctx: Context) -> Verdict:
    """The service principal exists in Entra and in Exchange, and the ids match (ObjectId vs AppId)."""
    app = app_principal(ctx)
    app_id, sp_id = key(app.app_id), key(app.service_principal_id)
    expected = f"Entra and Exchange service principal AppId {app.app_id}, ObjectId {app.service_principal_id}"
    entra = [e for e in ctx.snapshot.entra_service_principals if key(e.app_id) == app_id or key(e.id) == sp_id]
    pointers = [
        sp for sp in ctx.snapshot.service_principals if key(sp.app_id) == app_id or key(sp.object_id) in (sp_id, app_id)
    ]
    evidence = tuple(
        f"Entra servicePrincipal id={e.id} appId={e.app_id} displayName={e.display_name!r} "
        f"accountEnabled={e.account_enabled}"
        for e in entra
    ) + tuple(
        f"Get-ServicePrincipal AppId={sp.app_id} ObjectId={sp.object_id} DisplayName={sp.display_name!r}"
        for sp in pointers
    )
    name = ps(app.display_name or ctx.policy.spec.metadata.name)
    create = (
        f"New-ServicePrincipal -AppId {ps(app.app_id)} -ObjectId {ps(app.service_principal_id)} -DisplayName {name}"
    )
    problems: list[str] = []
    fixes: list[str] = []
    entra_sp = next((e for e in entra if key(e.app_id) == app_id), None)
    if entra_sp is None:
        problems.append(f"Entra ID has no service principal (enterprise application) for appId {app.app_id}")
        fixes.append(f"New-MgServicePrincipal -AppId {ps(app.app_id)}   # Microsoft Graph PowerShell")
    else:
        if key(entra_sp.id) != sp_id:
            problems.append(
                f"the app's Entra service principal is {entra_sp.id}, not the policy's servicePrincipalId "
                f"{app.service_principal_id} (the App Registrations page's Object ID is not the service principal's)"
            )
            fixes.append(f"# Set principal.app.servicePrincipalId to {entra_sp.id} in {ctx.policy.path.name}")
        if entra_sp.account_enabled is False:
            problems.append("the Entra service principal is disabled (accountEnabled false)")
            fixes.append(f"Update-MgServicePrincipal -ServicePrincipalId {ps(entra_sp.id)} -AccountEnabled:$true")
    if not pointers:
        problems.append("Exchange Online has no service principal pointer for the app (New-ServicePrincipal)")
        fixes.append(create)
    for sp in pointers:
        wrong = []
        if key(sp.object_id) == app_id and app_id != sp_id:
            wrong.append(f"its ObjectId is the AppId {sp.object_id} (ObjectId/AppId confusion)")
        elif key(sp.object_id) != sp_id:
            wrong.append(f"its ObjectId {sp.object_id} is not the service principal's {app.service_principal_id}")
        if key(sp.app_id) != app_id:
            wrong.append(f"its AppId {sp.app_id} is not {app.app_id}")
        if wrong:
            problems.append(f"the Exchange pointer {sp.display_name or sp.identity!r}: " + "; ".join(wrong))
            fixes.append(f"Remove-ServicePrincipal -Identity {ps(sp.identity or sp.object_id)} -Confirm:$false")
            fixes.append(create)
    if len(pointers) > 1:
        problems.append(f"{len(pointers)} Exchange pointers name the app; keep one")
    if problems:
        return Verdict(
            Status.FAIL,
            "; ".join(problems) + ".",
            expected=expected,
            actual="; ".join(problems),
            evidence=evidence,
            remediation="\n".join(dict.fromkeys(fixes)),
        )
    return Verdict(
        Status.PASS,
        f"The app's service principal {app.service_principal_id} exists in Entra ID and in Exchange Online with "
        f"AppId {app.app_id}.",
        expected=expected,
        actual=expected,
        evidence=evidence,
    )


def exa071(ctx: Context) -> Verdict:
    """The app holds exactly the expected ``Application *`` roles, judged by what they grant."""
    blocked = _blocked(ctx)
    if blocked is not None:
        return blocked
    spec = ctx.policy.spec.grant
    wanted = {key(r): r for r in (spec.role, *spec.other_roles_allowed) if is_application_role(r)}
    held = app_assignments(ctx)
    have = {key(a.role): a.role for a in held}
    want_perms: set[str] = set()
    for role in wanted.values():
        want_perms |= {key(p) for p in permissions_of(ctx, role) or (role[len(APPLICATION_ROLE_PREFIX) :],)}
    have_perms: dict[str, str] = {}
    unknown: list[str] = []
    for role in have.values():
        granted = permissions_of(ctx, role)
        if granted is None:
            unknown.append(role)
            continue
        have_perms |= {key(p): p for p in granted}
    evidence = tuple(assignment_line(a) for a in held) + tuple(
        f"Test-ServicePrincipalAuthorization RoleName={r.role_name!r} GrantedPermissions={list(r.granted_permissions)}"
        for r in ctx.snapshot.authorizations
        if r.resource is None
    )
    expected = "roles " + ", ".join(sorted(wanted.values()))
    actual = "roles " + (", ".join(sorted(have.values())) or "none")
    extra_roles = sorted(set(have) - set(wanted))
    extra_perms = sorted(have_perms[p] for p in set(have_perms) - want_perms)
    main_perms = {key(p) for p in (permissions_of(ctx, spec.role) or (spec.role[len(APPLICATION_ROLE_PREFIX) :],))}
    missing = sorted(main_perms - set(have_perms)) if not unknown else []
    problems: list[str] = []
    fixes: list[str] = []
    for k in extra_roles:
        problems.append(f"extra role {have[k]!r} ({', '.join(permissions_of(ctx, have[k]) or ('unknown',))})")
        fixes += [
            f"Remove-ManagementRoleAssignment -Identity {ps(a.identity)} -Confirm:$false"
            for a in held
            if key(a.role) == k
        ]
    if extra_perms:
        problems.append("permissions beyond the policy's: " + ", ".join(extra_perms))
    if missing:
        problems.append(f"{spec.role!r} is not granted (missing {', '.join(sorted(missing))})")
        app = app_principal(ctx)
        fixes.append(
            f"New-ManagementRoleAssignment -App {ps(app.service_principal_id)} -Role {ps(spec.role)} "
            f"{ctx.scope_parameter} {ps(ctx.scope_name)}"
        )
    if problems:
        return Verdict(
            Status.FAIL,
            "The app's Application roles differ from the policy: " + "; ".join(problems) + ".",
            expected=expected,
            actual=actual,
            evidence=evidence,
            remediation="\n".join(dict.fromkeys(fixes)) or "# Remove the extra roles' assignments",
        )
    if unknown:
        return Verdict(
            Status.ERROR,
            f"Cannot tell what {listing(unknown)} grant(s): no Test-ServicePrincipalAuthorization row names them and "
            "they are not in Microsoft's list of Application roles.",
            expected=expected,
            actual=actual,
            evidence=evidence,
        )
    return Verdict(
        Status.PASS,
        f"The app holds exactly {', '.join(sorted(have.values()))}, granting {', '.join(sorted(have_perms.values()))}.",
        expected=expected,
        actual=actual,
        evidence=evidence,
    )


def _org_wide(row: AuthorizationRow) -> bool:
    return key(row.scope_type) in _ORG_WIDE or key(row.allowed_resource_scope) in ("", "organization")


def exa072(ctx: Context) -> Verdict:
    """Every Application role assignment of the app is scoped; an Organization-scoped one reaches every mailbox."""
    blocked = _blocked(ctx)
    if blocked is not None:
        return blocked
    held = app_assignments(ctx)
    rows = [r for r in ctx.snapshot.authorizations if r.resource is None and is_application_role(r.role_name)]
    evidence = tuple(f"{assignment_line(a)} ({scope_text(a)})" for a in held) + tuple(
        f"Test-ServicePrincipalAuthorization RoleName={r.role_name!r} AllowedResourceScope={r.allowed_resource_scope!r}"
        f" ScopeType={r.scope_type!r}"
        for r in rows
    )
    unscoped = [a for a in held if is_unscoped(a)]
    org_rows = [r for r in rows if _org_wide(r) and not any(key(a.role) == key(r.role_name) for a in unscoped)]
    expected = "every Application role assignment scoped (CustomResourceScope or administrative unit)"
    if not unscoped and not org_rows:
        return Verdict(
            Status.PASS,
            f"All {len(held)} Application role assignment(s) of the app are scoped.",
            expected=expected,
            actual=expected,
            evidence=evidence,
        )
    lines = [f"{a.identity!r} ({a.role})" for a in unscoped] + [
        f"{r.role_name!r} (Test-ServicePrincipalAuthorization ScopeType {r.scope_type or 'empty'})" for r in org_rows
    ]
    fixes = [
        f"Set-ManagementRoleAssignment -Identity {ps(a.identity)} {ctx.scope_parameter} {ps(ctx.scope_name)}"
        for a in unscoped
    ] + [
        # Only this app's assignments: -RoleAssigneeType alone selects every service principal's assignment of the
        # role, and rescoping those would change other apps' access. Get-ManagementRoleAssignment has no -App
        # parameter; the assignment names its service principal by ObjectId in RoleAssigneeName (APPRBAC, Example
        # One; /work/shared/domain/exo-2026.md 1.1). The filter runs in the client's PowerShell (EXO V3 module).
        f"Get-ManagementRoleAssignment -RoleAssigneeType ServicePrincipal -Role {ps(r.role_name)} | "
        f"Where-Object {{ $_.RoleAssigneeName -eq {ps(app_principal(ctx).service_principal_id)} }} | "
        f"Set-ManagementRoleAssignment {ctx.scope_parameter} {ps(ctx.scope_name)}"
        for r in org_rows
    ]
    return Verdict(
        Status.FAIL,
        f"{len(lines)} assignment(s) reach every mailbox in the organization: {listing(lines)}.",
        expected=expected,
        actual="unscoped: " + ", ".join(lines),
        evidence=evidence,
        remediation="\n".join(fixes),
        severity=Severity.CRITICAL,
    )


def exa073(ctx: Context) -> Verdict:
    """The administrative unit the assignment is scoped to holds exactly the expected mailboxes."""
    au = ctx.policy.spec.grant.administrative_unit
    assert au is not None  # the engine skips this check for a management-scope policy
    unit = find_unit(ctx, au.id)
    expected = f"administrative unit {au.display_name or au.id} holds exactly {len(au.members)} mailbox(es)"
    if unit is None:
        return Verdict(
            Status.ERROR,
            f"The members of administrative unit {au.id} were not read; what it scopes is unknown.",
            expected=expected,
            actual="not read",
        )
    want = {key(m): m for m in au.members}
    by_address: dict[str, str] = {}
    for member in unit.members:
        addresses = {key(member)}
        recipient = ctx.directory.recipient_by_address(member)
        if recipient is not None:
            addresses |= ctx.directory.addresses(recipient)
        for address in addresses:
            by_address[address] = member
    wanted_members = {by_address[a] for a in want if a in by_address}
    extra = sorted({m for a, m in by_address.items() if a not in want} - wanted_members)
    missing = sorted(want[a] for a in want if a not in by_address)
    evidence = (f"AdministrativeUnit Id={unit.id} DisplayName={unit.display_name!r} Members={list(unit.members)}",)
    actual = f"{len(unit.members)} member(s)"
    if not extra and not missing:
        return Verdict(
            Status.PASS,
            f"Administrative unit {unit.display_name or unit.id} holds exactly the expected {len(want)} mailbox(es).",
            expected=expected,
            actual=actual,
            evidence=evidence,
        )
    unit_id = ps(unit.id)
    fixes = [
        f"New-MgDirectoryAdministrativeUnitMemberByRef -AdministrativeUnitId {unit_id} "
        f"-OdataId ('https://graph.microsoft.com/v1.0/users/' + {ps(m)})"
        for m in missing
    ] + [
        f"Remove-MgDirectoryAdministrativeUnitMemberByRef -AdministrativeUnitId {unit_id} "
        f"-DirectoryObjectId (Get-MgUser -UserId {ps(m)}).Id"
        for m in extra
    ]
    parts = []
    if extra:
        parts.append(f"{len(extra)} member(s) the policy does not allow: {listing(extra)}")
    if missing:
        parts.append(f"{len(missing)} expected mailbox(es) missing: {listing(missing)}")
    return Verdict(
        Status.FAIL,
        f"Administrative unit {unit.display_name or unit.id}: " + "; ".join(parts) + ".",
        expected=expected,
        actual=actual,
        evidence=evidence,
        remediation="\n".join(fixes),
        severity=Severity.CRITICAL if extra else Severity.HIGH,
    )


def exa074(ctx: Context) -> Verdict:
    """No Entra application permission reaches mailboxes unscoped, and the app holds only the allowed ones."""
    grants = entra_grants(ctx)
    evidence = tuple(_grant_line(g) for g in grants)
    unresolved = [g for g in grants if not g.permission.strip()]
    reaching = [g for g in grants if reaches_mailboxes(g.permission)]
    other = [g for g in grants if g.permission.strip() and not reaches_mailboxes(g.permission) and not _allowed(ctx, g)]
    expected = "no Entra app role reaching mailboxes; others only from entra.allowedAppRoles"
    actual = ", ".join(f"{_resource(g)} {g.permission or g.app_role_id}" for g in grants) or "no app roles"
    if reaching:
        confined = [
            p.identity
            for p in ctx.snapshot.application_access_policies
            if key(app_principal(ctx).app_id) in {key(i) for i in p.app_ids} and key(p.access_right) == "restrictaccess"
        ]
        note = (
            f" A legacy Application Access Policy ({', '.join(confined)}) confines it, but RBAC for Applications "
            "grants are added on top (see EXA075) and Microsoft is retiring those policies."
            if confined
            else ""
        )
        return Verdict(
            Status.FAIL,
            f"The app holds {len(reaching)} Entra application permission(s) that reach every mailbox in the tenant: "
            f"{listing([f'{_resource(g)} {g.permission}' for g in reaching])}. Entra grants and Exchange's scoped role "
            f"are a union: the scope '{ctx.scope_name}' restricts nothing while they exist.{note}",
            expected=expected,
            actual=actual,
            evidence=evidence,
            remediation="\n".join(_remove_grant(ctx, g) for g in reaching + other),
            severity=Severity.CRITICAL,
        )
    if unresolved:
        return Verdict(
            Status.ERROR,
            f"Cannot tell what {len(unresolved)} Entra app role assignment(s) grant: their appRoleId is not among the "
            "resource's appRoles that were read.",
            expected=expected,
            actual=actual,
            evidence=evidence,
        )
    if other:
        return Verdict(
            Status.FAIL,
            f"The app holds {len(other)} Entra application permission(s) the policy does not allow: "
            f"{listing([f'{_resource(g)} {g.permission}' for g in other])}.",
            expected=expected,
            actual=actual,
            evidence=evidence,
            remediation="\n".join(_remove_grant(ctx, g) for g in other),
            severity=Severity.MEDIUM,
        )
    return Verdict(
        Status.PASS,
        f"No Entra application permission of the app reaches mailboxes ({len(grants)} app role(s), all allowed).",
        expected=expected,
        actual=actual,
        evidence=evidence,
    )


def _group_recipients(ctx: Context, name: str) -> list[tuple[str, frozenset[str]]] | None:
    """Each mailbox a group reaches (label, addresses), nested groups included.

    Application Access Policies follow nesting:
    https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/new-applicationaccesspolicy
    """
    start = ctx.directory.group(name) or next(iter(ctx.directory.groups_named(name)), None)
    if start is None:
        recipient = ctx.directory.recipient(name)
        if recipient is not None and "group" not in key(recipient.recipient_type):
            return [(recipient.primary_smtp_address or recipient.identity, ctx.directory.addresses(recipient))]
        return None
    found: dict[str, tuple[str, frozenset[str]]] = {}
    seen: set[str] = set()
    todo = [start]
    while todo:
        group = todo.pop()
        if key(group.identity) in seen:
            continue
        seen.add(key(group.identity))
        for member in group.members:
            nested = ctx.directory.group(member)
            if nested is not None:
                todo.append(nested)
                continue
            recipient = ctx.directory.recipient(member)
            label = recipient.primary_smtp_address or recipient.identity if recipient is not None else member
            addresses = ctx.directory.addresses(recipient) if recipient is not None else frozenset({key(member)})
            found[key(member)] = (label, addresses)
    return list(found.values())


def exa075(ctx: Context) -> Verdict:
    """Application Access Policies naming the app let it reach no mailbox beyond the expected set."""
    app = app_principal(ctx)
    policies = [p for p in ctx.snapshot.application_access_policies if key(app.app_id) in {key(i) for i in p.app_ids}]
    evidence = tuple(
        f"ApplicationAccessPolicy Identity={p.identity!r} AccessRight={p.access_right} ScopeName={p.scope_name!r}"
        for p in policies
    )
    expected = "no Application Access Policy widens what the app reaches"
    if not policies:
        return Verdict(Status.PASS, "No Application Access Policy names the app.", expected=expected, actual="none")
    reaching = mailbox_grants(ctx)
    if not reaching:
        return Verdict(
            Status.PASS,
            f"{len(policies)} legacy Application Access Policy(ies) name the app, but it holds no Entra permission "
            "reaching mailboxes, so they confine (and widen) nothing; remove them once the move is done.",
            expected=expected,
            actual=f"{len(policies)} policy(ies), no Entra mailbox permission",
            evidence=evidence,
        )
    want = expected_mailboxes(ctx)
    allowed = want[1] if want is not None else None
    widened: list[str] = []
    for p in policies:
        if key(p.access_right) != "restrictaccess":
            continue
        members = _group_recipients(ctx, p.scope_identity or p.scope_name)
        if members is None:
            members = _group_recipients(ctx, p.scope_name)
        if members is None:
            return Verdict(
                Status.ERROR,
                f"Cannot tell whom {p.identity!r} lets the app reach: its scope group {p.scope_name!r} was not read.",
                expected=expected,
                actual="scope group not read",
                evidence=evidence,
            )
        if allowed is None:
            return Verdict(Status.SKIP, "The policy names no ceiling on the mailbox set to compare with.")
        # A mailbox counts once, by any of its addresses.
        beyond = sorted(label for label, addresses in members if not addresses & allowed)
        if beyond:
            widened.append(f"{p.identity!r} (group {p.scope_name!r}): {listing(beyond)}")
    if widened:
        return Verdict(
            Status.FAIL,
            "Application Access Policies let the app's Entra permissions reach mailboxes beyond the policy's: "
            + "; ".join(widened)
            + ". Microsoft: 'A and Not A' means everything: the two grant systems add up.",
            expected=expected,
            actual="; ".join(widened),
            evidence=evidence,
            remediation="\n".join(_remove_grant(ctx, g) for g in reaching)
            + "\n"
            + "\n".join(f"Remove-ApplicationAccessPolicy -Identity {ps(p.identity)} -Confirm:$false" for p in policies),
            severity=Severity.HIGH,
        )
    return Verdict(
        Status.PASS,
        f"{len(policies)} Application Access Policy(ies) confine the app's Entra permissions within the expected set "
        "(the Entra grant itself is EXA074's finding).",
        expected=expected,
        actual=f"{len(policies)} policy(ies)",
        evidence=evidence,
    )
