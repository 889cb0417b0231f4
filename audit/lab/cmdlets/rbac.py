"""Get-ManagementRoleAssignment, Get-ManagementScope, Get-ManagementRole, Get-RoleGroup(+Member)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from audit.lab.cmdlets.common import (
    _CHANGED,
    _CREATED,
    _GROUP_CLASSES,
    _as_bool,
    _matches_name,
    _text,
    with_changed,
)
from audit.lab.cmdlets.objects import (
    ADCONFIG_CHAIN,
    ADPRESENTATION_CHAIN,
    SC,
    ExchangeObject,
    M,
    Value,
    mvp_adobjectid,
    mvp_string,
)
from audit.lab.cmdlets.recipients import _reduced_recipient
from audit.lab.records import dn_to_canonical
from audit.lab.tenant import Group, ManagementRole, ManagementScope, Recipient, RoleAssignment, RoleGroup, Tenant

if TYPE_CHECKING:
    from audit.lab.cmdlets.host import ExchangeSession


def _role_group(s: ExchangeSession, g: RoleGroup) -> ExchangeObject:
    """Get-RoleGroup output; property order of the real Exchange 2016 Format-List (exchange-rbac.md 4.2)."""
    assignments = [a for a in s.tenant.role_assignments if a.assignee.lower() == g.dn.lower()]
    roles = list(dict.fromkeys(a.role for a in assignments))
    props: list[tuple[str, Value]] = [
        ("ManagedBy", mvp_adobjectid(s.canonical(dn) for dn in g.managed_by)),
        ("RoleAssignments", mvp_adobjectid(a.name for a in assignments)),
        ("Roles", mvp_adobjectid(roles)),
        ("DisplayName", g.display_name),
        ("ExternalDirectoryObjectId", ""),
        ("Members", mvp_adobjectid(s.canonical(dn) for dn in g.members)),
        ("SamAccountName", g.sam_account_name),
        ("Description", g.description),
        ("RoleGroupType", g.role_group_type),
        ("LinkedGroup", ""),
        ("Capabilities", mvp_string(())),
        ("LinkedPartnerGroupId", ""),
        ("LinkedPartnerOrganizationId", ""),
    ]
    tail = s.common_tail(g.dn, g.name, g.guid, "Group", _GROUP_CLASSES)
    for i, (name, _value) in enumerate(tail):
        if name == "ExchangeVersion":
            tail[i] = (name, "0.10 (14.0.100.0)")
    return ExchangeObject((M + "RoleGroup", *ADPRESENTATION_CHAIN), g.name, tuple(props + tail))


def _assignment(
    s: ExchangeSession,
    a: RoleAssignment,
    *,
    effective_user: Recipient | None = None,
    chain: Sequence[str] = (),
) -> ExchangeObject:
    """Get-ManagementRoleAssignment output (ExchangeRoleAssignmentPresentation), fl order of exchange-rbac.md 1.3."""
    assignee_id = s.canonical(a.assignee)
    if effective_user is not None:
        user_id: str = effective_user.identity
        effective_name = effective_user.name
        method = "SecurityGroup" if a.assignee_type == "SecurityGroup" else "RoleGroup"
        identity = f"{a.name}\\{effective_user.name}"
        assignment_chain: Value = mvp_adobjectid(chain)
    else:
        user_id = assignee_id
        # Group rows carry this marker; Microsoft's own guidance filters on it (exchange-rbac.md 1.3).
        effective_name = a.assignee_name if a.assignee_type in ("User", "ServicePrincipal") else "All Group Members"
        method = "Direct"
        identity = a.name
        assignment_chain = None
    write_scope = a.recipient_write_scope
    # ExchangeRoleAssignmentPresentation has one CustomRecipientWriteScope (ADObjectId) for the three kinds that use
    # it: a custom scope's or an exclusive scope's name (RecipientWriteScope CustomRecipientScope or
    # ExclusiveRecipientScope), or for -RecipientOrganizationalUnitScope the OU, printed as its canonical name
    # (RecipientWriteScope OU). There is no RecipientOrganizationUnitScope on it: that getter belongs to ECP's
    # RoleAssignmentObjectResolverRow (DECOMP ExchangeRoleAssignmentPresentation, -Schema; exchange-rbac.md 1.3).
    custom_scope = a.custom_recipient_write_scope
    if write_scope == "OU" and a.recipient_ou_scope:
        custom_scope = dn_to_canonical(a.recipient_ou_scope)
    props: list[tuple[str, Value]] = [
        ("DataObject", a.name),
        ("User", user_id),
        ("AssignmentMethod", method),
        ("Identity", identity),
        ("EffectiveUserName", effective_name),
        ("AssignmentChain", assignment_chain),
        ("RoleAssigneeType", a.assignee_type),
        ("RoleAssignee", assignee_id),
        ("Role", a.role),
        ("RoleAssignmentDelegationType", a.delegation),
        ("CustomRecipientWriteScope", custom_scope),
        ("CustomConfigWriteScope", None),
        ("RecipientReadScope", a.recipient_read_scope),
        ("ConfigReadScope", a.config_read_scope),
        ("RecipientWriteScope", write_scope),
        ("ConfigWriteScope", a.config_write_scope),
        ("Enabled", a.enabled),
        ("RoleAssigneeName", a.assignee_name),
        ("IsValid", True),
        ("ExchangeVersion", "0.11 (14.0.550.0)"),
        ("Name", a.name),
        ("DistinguishedName", a.dn),
        ("Guid", uuid.UUID(a.guid)),
        ("ObjectCategory", f"{s.org.domain}/Configuration/Schema/ms-Exch-Role-Assignment"),
        ("ObjectClass", mvp_string(("top", "msExchRoleAssignment"))),
        ("WhenChanged", _CHANGED),
        ("WhenCreated", _CREATED),
        ("WhenChangedUTC", _CHANGED),
        ("WhenCreatedUTC", _CREATED),
        ("OrganizationId", ""),
        ("Id", identity),
        ("OriginatingServer", s.org.domain_controller),
        ("ObjectState", "Unchanged"),
    ]
    if a.assignee_type == "ServicePrincipal":
        # RBAC for Applications (exo-2026.md 1.1): the resource scope and when it changed (UNVERIFIED that EXO's
        # REST output carries WhenChanged for app assignments; section 1.5).
        props = with_changed(props, a.when_changed)
        props.insert(
            props.index(("CustomConfigWriteScope", None)), ("CustomResourceScope", a.custom_recipient_write_scope)
        )
        props.insert(
            props.index(("CustomConfigWriteScope", None)),
            ("RecipientAdministrativeUnitScope", a.recipient_administrative_unit_scope),
        )
    return ExchangeObject((M + "ExchangeRoleAssignmentPresentation", *ADPRESENTATION_CHAIN), a.name, tuple(props))


def _scope(s: ExchangeSession, sc: ManagementScope) -> ExchangeObject:
    """Get-ManagementScope output (ManagementScope : ADConfigurationObject), DECOMP declaration order."""
    props: list[tuple[str, Value]] = [
        # An ADObjectId: shown as the OU's canonical name whatever form -RecipientRoot was given in.
        ("RecipientRoot", dn_to_canonical(sc.recipient_root) if sc.recipient_root else None),
        ("RecipientFilter", sc.recipient_filter or None),
        ("ServerFilter", None),
        ("DatabaseFilter", None),
        ("TenantOrganizationFilter", None),
        ("ScopeRestrictionType", sc.scope_restriction_type),
        ("Exclusive", sc.exclusive),
    ]
    tail = s.config_tail(sc.dn, sc.name, sc.guid, "ms-Exch-Scope", ("top", "msExchScope"), "0.12 (14.0.451.0)")
    if s.tenant.exo is not None:
        tail = with_changed(tail, s.tenant.exo.scope_changed(sc.name))
    return ExchangeObject((SC + "ManagementScope", *ADCONFIG_CHAIN), sc.name, tuple(props + tail))


def _role(s: ExchangeSession, r: ManagementRole) -> ExchangeObject:
    """Get-ManagementRole output (ExchangeRole : ADConfigurationObject)."""
    impersonation = r.role_type == "ApplicationImpersonation"
    props: list[tuple[str, Value]] = [
        ("RoleEntries", mvp_string(())),
        ("RoleType", r.role_type),
        ("ImplicitRecipientReadScope", "Organization"),
        ("ImplicitRecipientWriteScope", "Organization"),
        ("ImplicitConfigReadScope", "None" if impersonation else "OrganizationConfig"),
        ("ImplicitConfigWriteScope", "None" if impersonation else "OrganizationConfig"),
        ("IsRootRole", r.parent is None),
        ("IsEndUserRole", False),
        ("MailboxPlanIndex", ""),
        ("Description", ""),
        ("Parent", r.parent),
        ("IsDeprecated", False),
    ]
    tail = s.config_tail(r.dn, r.name, r.guid, "ms-Exch-Role", ("top", "msExchRole"), "0.11 (14.0.550.0)")
    return ExchangeObject((SC + "ExchangeRole", *ADCONFIG_CHAIN), r.name, tuple(props + tail))


def _get_role_assignment(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    t = s.tenant
    assignments: list[RoleAssignment] = list(t.role_assignments)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        assignments = [a for a in assignments if _matches_name(wanted, a.name, a.guid, a.dn)]
        if not assignments:
            s.not_found(wanted, "RoleAssignmentIdParameter")
            return
    assignee_filter: set[str] | None = None
    assignee_user: Recipient | None = None
    if p.get("RoleAssignee") is not None:
        wanted = _text(p["RoleAssignee"])
        target = t.resolve(wanted)
        if target is None:
            s.not_found(wanted, "RoleAssigneeIdParameter")
            return
        # Direct assignments plus those reaching the assignee through role groups and USGs, nested included.
        assignee_filter = {target.dn.lower()} | s.groups_of(target.dn)
        if isinstance(target, Recipient):
            assignee_user = target
        assignments = [a for a in assignments if a.assignee.lower() in assignee_filter]
    if p.get("Role") is not None:
        wanted = _text(p["Role"])
        role = t.role(wanted)
        if role is None:
            s.not_found(wanted, "RoleIdParameter")
            return
        assignments = [a for a in assignments if a.role.lower() == role.name.lower()]
    if p.get("CustomRecipientWriteScope") is not None:
        wanted = _text(p["CustomRecipientWriteScope"])
        scope = t.scope(wanted)
        if scope is None:
            s.not_found(wanted, "ManagementScopeIdParameter")
            return
        # Only regular (non-exclusive) assignments using that scope, Delegating ones included: the filter is
        # RecipientWriteScope CustomRecipientScope and the scope (DECOMP GetManagementRoleAssignment; "To return
        # exclusive role assignments, use the ExclusiveRecipientWriteScope parameter", exchange-rbac.md 1.1).
        assignments = [
            a
            for a in assignments
            if a.recipient_write_scope == "CustomRecipientScope"
            and (a.custom_recipient_write_scope or "").lower() == scope.name.lower()
        ]
    if p.get("Delegating") is not None:
        delegating = _as_bool(p["Delegating"])
        assignments = [a for a in assignments if (a.delegation != "Regular") == delegating]
    if p.get("Enabled") is not None:
        enabled = _as_bool(p["Enabled"])
        assignments = [a for a in assignments if a.enabled == enabled]
    if p.get("RecipientWriteScope") is not None:
        wanted = _text(p["RecipientWriteScope"]).lower()
        assignments = [a for a in assignments if a.recipient_write_scope.lower() == wanted]
    if p.get("ConfigWriteScope") is not None:
        wanted = _text(p["ConfigWriteScope"]).lower()
        assignments = [a for a in assignments if a.config_write_scope.lower() == wanted]
    if p.get("Exclusive") is not None:
        exclusive = _as_bool(p["Exclusive"])
        assignments = [a for a in assignments if _is_exclusive(t, a) == exclusive]
    if p.get("RoleAssigneeType") is not None:
        wanted = _text(p["RoleAssigneeType"]).lower()
        assignments = [a for a in assignments if a.assignee_type.lower() == wanted]
    if p.get("AssignmentMethod") is not None:
        if p.get("RoleAssignee") is None:
            # "You must specify a value with the RoleAssignee parameter if you use the AssignmentMethod parameter"
            # (OPD Get-ManagementRoleAssignment.md). Exchange's own wording for this refusal is UNVERIFIED.
            s.fail("The AssignmentMethod parameter can only be used with the RoleAssignee parameter.")
            return
        methods = {m.strip().lower() for m in _text(p["AssignmentMethod"]).split(",")}
        assignments = [a for a in assignments if _method(a, assignee_user).lower() in methods]
    effective = bool(p.get("GetEffectiveUsers"))
    for a in assignments:
        if assignee_user is not None and _method(a, assignee_user) != "Direct":
            # -RoleAssignee <user> returns the assignments that reach the user through a role group or USG as the
            # user's own rows (AssignmentMethod RoleGroup/SecurityGroup, AssignmentChain), so that -AssignmentMethod
            # RoleGroup never shows a row saying Direct (OPD -RoleAssignee; row shape UNVERIFIED).
            yield from _effective_rows(s, a, assignee_user)
            continue
        yield _assignment(s, a)
        if effective and a.assignee_type != "User":
            yield from _effective_rows(s, a, assignee_user)


def _is_exclusive(t: Tenant, a: RoleAssignment) -> bool:
    # -Exclusive filters on RecipientWriteScope ExclusiveRecipientScope (DECOMP GetManagementRoleAssignment).
    return a.recipient_write_scope == "ExclusiveRecipientScope"


def _method(a: RoleAssignment, user: Recipient | None) -> str:
    if user is not None and a.assignee.lower() == user.dn.lower():
        return "Direct"
    return {"RoleGroup": "RoleGroup", "SecurityGroup": "SecurityGroup"}.get(a.assignee_type, "Direct")


def _effective_rows(s: ExchangeSession, a: RoleAssignment, only: Recipient | None) -> Iterator[ExchangeObject]:
    """One row per user reached through the assignee group, nested groups expanded (AssignmentChain)."""
    holder = s.tenant.by_dn(a.assignee)
    if holder is None or isinstance(holder, Recipient):
        return
    seen: set[str] = set()
    todo: list[tuple[Group | RoleGroup, tuple[str, ...]]] = [(holder, (holder.identity,))]
    while todo:
        group, chain = todo.pop(0)
        for member in s.tenant.members(group):
            key = member.dn.lower()
            if key in seen:
                continue
            seen.add(key)
            if isinstance(member, Recipient):
                if only is None or member.dn.lower() == only.dn.lower():
                    yield _assignment(s, a, effective_user=member, chain=chain)
            else:
                todo.append((member, (*chain, member.identity)))


def _get_scope(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    scopes = list(s.tenant.scopes)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        scopes = [sc for sc in scopes if _matches_name(wanted, sc.name, sc.guid, sc.dn)]
        if not scopes:
            s.not_found(wanted, "ManagementScopeIdParameter")
            return
    if p.get("Exclusive") is not None:
        exclusive = _as_bool(p["Exclusive"])
        scopes = [sc for sc in scopes if sc.exclusive == exclusive]
    if p.get("Orphan"):
        used = {(a.custom_recipient_write_scope or "").lower() for a in s.tenant.role_assignments}
        scopes = [sc for sc in scopes if sc.name.lower() not in used]
    for sc in scopes:
        yield _scope(s, sc)


def _get_role(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    roles = list(s.tenant.roles)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        roles = [r for r in roles if _matches_name(wanted, r.name, r.guid, r.dn)]
        if not roles:
            s.not_found(wanted, "RoleIdParameter")
            return
    if p.get("RoleType") is not None:
        wanted = _text(p["RoleType"]).lower()
        roles = [r for r in roles if r.role_type.lower() == wanted]
    for r in roles:
        yield _role(s, r)


def _get_role_group(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    groups = list(s.tenant.role_groups)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        groups = [g for g in groups if _matches_name(wanted, g.name, g.display_name, g.guid, g.dn, g.identity)]
        if not groups:
            s.not_found(wanted, "RoleGroupIdParameter")
            return
    for g in groups:
        yield _role_group(s, g)


def _get_role_group_member(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    wanted = _text(p.get("Identity"))
    group = s.tenant.role_group(wanted) if wanted else None
    if group is None:
        s.not_found(wanted, "RoleGroupMemberIdParameter")
        return
    for member in s.tenant.members(group):
        yield _reduced_recipient(s, member)
