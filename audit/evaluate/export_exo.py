"""`exaudit export --app-id`: the Exchange Online counterpart of :mod:`audit.evaluate.export`.

It writes a policy mirroring how one Entra app holds its ``Application *`` roles today through RBAC for
Applications: the service principal pointer (Get-ServicePrincipal), its direct role assignments, the management
scope or administrative unit that limits them, the Entra app roles it holds and the EWS allow list. As on premises,
values a least-privilege review should question are kept as found and marked ``# REVIEW``; an unscoped assignment
is refused (there is no least-privilege setup to mirror). One exception to "mirror what is": an Entra grant that
reaches mailboxes is never written as allowed, because Entra grants are a union with Exchange's scoped role and
allowing one would bless the trap EXA074 exists for; it is named in a REVIEW comment instead.
https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac

Pure: it reads a snapshot and returns YAML text; the CLI collects the snapshot and writes the file.
"""

from __future__ import annotations

from audit.errors import CollectionError, UsageError
from audit.evaluate.apps import DEFAULT_ACCESS, RESOURCE_NAMES, is_application_role
from audit.evaluate.context import SERVICE_PRINCIPAL, grants_access
from audit.evaluate.directory import Directory, key
from audit.evaluate.export import _in_filter, _list, _name, _q, _scope_group, group_section
from audit.policy.apps import reaches_mailboxes
from audit.snapshot import AdministrativeUnit, AppRoleGrant, RoleAssignment, ServicePrincipal, Snapshot


def _pointer(snapshot: Snapshot, app_id: str) -> ServicePrincipal:
    found = [sp for sp in snapshot.service_principals if key(sp.app_id) == key(app_id)]
    if not found:
        raise UsageError(
            f"Exchange Online has no service principal for app {app_id!r} (Get-ServicePrincipal): "
            "nothing to export (New-ServicePrincipal creates it)"
        )
    if len({key(sp.object_id) for sp in found}) > 1:
        raise UsageError(f"app {app_id!r} has {len(found)} service principals in Exchange Online; remove the stale one")
    return found[0]


def require_pointer(snapshot: Snapshot, app_id: str) -> None:
    """Refuse an app Exchange has no pointer for, before its consequences are reported as collection failures.

    Test-ServicePrincipalAuthorization and the Entra reads fail for an app without a pointer; when Get-ServicePrincipal
    itself succeeded, the one-line cause (a wrong --app-id, or New-ServicePrincipal never run) is the useful error.

    Raises:
        UsageError: Get-ServicePrincipal was read and holds no pointer for the app.
    """
    if snapshot.call_status("Get-ServicePrincipal")[0]:
        _pointer(snapshot, app_id)


def _assignments(snapshot: Snapshot, sp: ServicePrincipal) -> list[RoleAssignment]:
    """Enabled, Regular ``Application *`` assignments naming the pointer (apps hold roles only directly)."""
    # An assignment's RoleAssignee may show the pointer by ObjectId, AppId, Name or Identity (as in context.py).
    ids = {k for k in (key(sp.object_id), key(sp.app_id), key(sp.identity), key(sp.name), key(sp.display_name)) if k}
    found = [
        a
        for a in snapshot.role_assignments
        if grants_access(a)
        and is_application_role(a.role)
        and key(a.role_assignee_type) == SERVICE_PRINCIPAL
        and (key(a.role_assignee) in ids or key(a.role_assignee_name) in ids)
    ]
    # The calendar role first (the one the integration is for), then by name for a stable output.
    return sorted(found, key=lambda a: ("calendars." not in key(a.role), key(a.role), a.name))


def _unit(snapshot: Snapshot, unit_id: str) -> AdministrativeUnit:
    unit = next((u for u in snapshot.administrative_units if key(u.id) == key(unit_id)), None)
    if unit is None:
        raise UsageError(f"the assignment names administrative unit {unit_id!r}, which is not in the collected state")
    if not unit.members:
        raise UsageError(
            f"administrative unit {unit.display_name or unit.id!r} has no members: there is no access to mirror"
        )
    return unit


def _entra_grants(snapshot: Snapshot, sp: ServicePrincipal) -> list[AppRoleGrant]:
    entra = snapshot.entra_service_principals
    ids = {key(sp.object_id)} | {key(e.id) for e in entra if key(e.app_id) == key(sp.app_id)}
    return [
        g
        for g in snapshot.app_role_grants
        if (not g.principal_id or key(g.principal_id) in ids) and key(g.app_role_id) != DEFAULT_ACCESS
    ]


def _resource(g: AppRoleGrant) -> str:
    return g.resource_display_name or RESOURCE_NAMES.get(key(g.resource_app_id), g.resource_app_id)


def _entra_section(grants: list[AppRoleGrant]) -> list[str]:
    reaching = sorted({f"{_resource(g)} {g.permission}" for g in grants if reaches_mailboxes(g.permission)})
    unresolved = sorted({f"{_resource(g)} appRoleId {g.app_role_id}" for g in grants if not g.permission.strip()})
    allowed = sorted(
        {(_resource(g), g.permission) for g in grants if g.permission.strip() and not reaches_mailboxes(g.permission)}
    )
    out = ["entra:"]
    if reaching:
        out.append(
            "  # REVIEW: the app holds Entra grants that reach EVERY mailbox (a union with the Exchange scope, "
            "EXA074); remove them, never allow them: " + ", ".join(_q(r) for r in reaching)
        )
    if unresolved:
        names = ", ".join(_q(u) for u in unresolved)
        out.append(f"  # REVIEW: Entra grants whose permission could not be resolved: {names}")
    if not allowed:
        return [*out, "  allowedAppRoles: []"]
    out.append("  allowedAppRoles:")
    for resource, permission in allowed:
        out += [f"    - resource: {_q(resource)}", f"      permission: {_q(permission)}"]
    return out


def _ews_section(snapshot: Snapshot, sp: ServicePrincipal) -> list[str]:
    org = snapshot.organization
    if org is None or org.ews_allowed_app_ids is None:
        # Without the allow list, ews.required would be a guess written down as the intended state.
        raise CollectionError("the EWS app allow list (EwsAllowedAppIDs) was not read; no policy was exported")
    required = key(sp.app_id) in {key(a) for a in org.ews_allowed_app_ids}
    out = ["ews:"]
    if required:
        out.append("  # REVIEW: the app is in EwsAllowedAppIDs; EWS is switched off in Exchange Online on 1 April 2027")
    return [*out, f"  required: {'true' if required else 'false'}"]


def export_app_policy(snapshot: Snapshot, app_id: str, *, name: str | None = None) -> str:
    """A policy (YAML text) mirroring how app ``app_id`` holds its ``Application *`` roles in ``snapshot``.

    Raises:
        UsageError: no pointer or no working assignment for the app, an unscoped (Organization) assignment, or a
            scope/administrative unit the state does not hold.
        CollectionError: the EWS allow list was not read.
    """
    sp = _pointer(snapshot, app_id)
    label = sp.display_name or sp.app_id
    assignments = _assignments(snapshot, sp)
    if not assignments:
        raise UsageError(f"{label} holds no enabled, Regular 'Application *' role assignment: nothing to export")
    unscoped = [a for a in assignments if not a.custom_resource_scope and not a.recipient_administrative_unit_scope]
    if unscoped:
        raise UsageError(
            f"{unscoped[0].role} reaches every mailbox for {label} (assignment {unscoped[0].name!r} has no "
            "CustomResourceScope nor administrative unit): create a management scope and attach it first; "
            "there is no least-privilege setup to export"
        )
    main = assignments[0]
    same_role = [a for a in assignments[1:] if key(a.role) == key(main.role)]
    others = sorted({a.role for a in assignments if key(a.role) != key(main.role)}, key=key)
    directory = Directory(snapshot)
    scope = None
    if main.custom_resource_scope:
        scope = next((s for s in snapshot.scopes if key(s.name) == key(main.custom_resource_scope)), None)
        if scope is None:
            raise UsageError(
                f"the assignment names scope {main.custom_resource_scope!r}, which is not in the collected state"
            )
    unit = _unit(snapshot, main.recipient_administrative_unit_scope or "") if scope is None else None
    group = _scope_group(directory, scope) if scope is not None else None
    title = name or _name(f"{label}-{main.role}")

    out: list[str] = [
        f"# Exported by `exaudit export` from the state collected at {_q(snapshot.collected_at)}.",
        "# It mirrors what IS. Review every value before you adopt it as what SHOULD be; lines marked REVIEW are",
        "# the ones a least-privilege audit would question.",
        "apiVersion: exaudit/v1",
        "kind: MailboxAccessPolicy",
        "metadata:",
        f"  name: {_q(title)}",
        f"  description: {_q(f'RBAC for Applications access of {label} (exported)')}",
        "principal:",
        "  app:",
        f"    appId: {_q(sp.app_id)}",
        f"    servicePrincipalId: {_q(sp.object_id)}",
        f"    displayName: {_q(sp.display_name)}" if sp.display_name else "",
        "grant:",
        f"  role: {_q(main.role)}",
        "  via:",
        "    direct: {}",
    ]
    if scope is not None:
        out.append(f"  scope: {_q(scope.name)}")
    elif unit is not None:
        members = sorted({m.lower() for m in unit.members})
        out += ["  administrativeUnit:", f"    id: {_q(unit.id)}"]
        if unit.display_name:
            out.append(f"    displayName: {_q(unit.display_name)}")
        out.append(f"    members:{_list(members, '      ')}")
    if same_role:
        out.append(f"  # REVIEW: {len(same_role)} other {main.role} assignment(s) reach the app today:")
        out += [f"  #   {_q(a.name)}" for a in same_role]
        out.append("  onlyPath: false")
    else:
        out.append("  onlyPath: true")
    if others:
        out.append("  # REVIEW: the app holds these Application roles too; does the integration need them?")
    out.append(f"  otherRolesAllowed:{_list(others, '    ')}")
    if scope is not None:
        out += ["scope:", f"  name: {_q(scope.name)}", "  recipientFilter:"]
        if group is not None:
            out.append(f"    memberOfGroup: {_q(group.name)}")
        else:
            out.append(f"    opath: {_q(scope.recipient_filter or '')}")
    if group is not None:
        out += group_section(directory, group)
    out += _entra_section(_entra_grants(snapshot, sp))
    out += _ews_section(snapshot, sp)
    if group is not None:
        allow = " groupMembers"
    elif unit is not None:
        allow = _list(sorted({m.lower() for m in unit.members}), "    ")
    else:
        allow = _list(_in_filter(snapshot, scope) if scope is not None else [], "    ")
    out += [
        "probes:",
        f"  allow:{allow}",
        "  deny:",
        "    # REVIEW: add mailboxes that must stay out of reach (executives, HR, shared mailboxes): each must be",
        "    # refused with 403. Until you do, nothing proves the scope keeps the app out of anything.",
        "    canaries: []",
        "  operation: calendarRead",
    ]
    return "\n".join(line for line in out if line) + "\n"
