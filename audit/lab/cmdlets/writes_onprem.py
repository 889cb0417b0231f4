"""The on-premises write cmdlets the lab accepts (lab Administrator only): enough to apply `exaudit plan`.

New-/Set-/Remove-ManagementRoleAssignment (-SecurityGroup/-User, -CustomRecipientWriteScope, -Enabled),
New-/Set-/Remove-ManagementScope, Add-/Remove-RoleGroupMember, New-/Set-DistributionGroup, Add-/Remove-
DistributionGroupMember. Exchange's rules the plan meets are kept: one assignee parameter set, names that must
resolve (a non-terminating ManagementObjectNotFoundException otherwise), no duplicate names or members, a scope in
use cannot be removed, and a security group's membership needs a manager or -BypassSecurityGroupManagerCheck.
https://learn.microsoft.com/powershell/module/exchange/new-managementroleassignment
https://learn.microsoft.com/powershell/module/exchange/add-distributiongroupmember
Each write builds a new Tenant value and commits it (CmdletHost's commit swaps it under the lab's lock).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from audit.lab.authz import FilterUnsupported, _Parser
from audit.lab.build import assignment_name
from audit.lab.cmdlets.common import _as_bool, _text
from audit.lab.cmdlets.groups import _distribution_group as _distribution_group_object
from audit.lab.cmdlets.objects import ExchangeObject
from audit.lab.cmdlets.rbac import _assignment, _scope
from audit.lab.records import ou_dn
from audit.lab.tenant import (
    GROUP_TYPES,
    Group,
    ManagementScope,
    RoleAssignment,
    RoleGroup,
    Tenant,
    escape_rdn,
    stable_guid,
)

if TYPE_CHECKING:
    from audit.lab.cmdlets.host import ExchangeSession

_RESTRICTIONS = {"open": "Open", "closed": "Closed", "approvalrequired": "ApprovalRequired"}


def _swap(s: ExchangeSession, **fields: Any) -> None:
    """Commit a copy of the session's tenant with ``fields`` replaced (indexes rebuilt by __post_init__)."""
    new: Tenant = dataclasses.replace(s.tenant, **fields)
    s.commit(new)


def _rbac_dn(s: ExchangeSession, container: str, name: str) -> str:
    return f"CN={escape_rdn(name)},CN={container},CN=RBAC,{s.tenant.organization.config_dn}"


def _scope_or_fail(s: ExchangeSession, name: str) -> ManagementScope | None:
    found = s.tenant.scope(name)
    if found is None:
        s.not_found(name, "ManagementScopeIdParameter")
    return found


def _check_filter(s: ExchangeSession, text: str) -> bool:
    """Exchange parses the OPATH filter when the scope is saved; one the lab cannot read is refused, not stored."""
    try:
        _Parser(text).parse()
    except FilterUnsupported as exc:
        s.fail(f"Invalid filter syntax: {exc}.", "ParserException")
        return False
    return True


# -- role assignments ----------------------------------------------------------------------------------------


def new_role_assignment(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """New-ManagementRoleAssignment on premises: -Role with exactly one of -SecurityGroup / -User."""
    assignees = [k for k in ("SecurityGroup", "User") if p.get(k) is not None]
    if p.get("App") is not None or len(assignees) != 1:
        s.fail("Parameter set cannot be resolved using the specified named parameters.", "ParameterBindingException")
        return
    role = s.tenant.role(_text(p.get("Role")))
    if role is None:
        s.not_found(_text(p.get("Role")), "RoleIdParameter")
        return
    wanted = _text(p[assignees[0]])
    holder: Any
    if assignees[0] == "SecurityGroup":
        holder = s.tenant.role_group(wanted) or s.tenant.group(wanted)
        if isinstance(holder, Group) and not holder.group_type.endswith("SecurityEnabled"):
            holder = None  # only security groups hold roles (the parameter's type is SecurityGroupIdParameter)
        kind = "RoleGroup" if isinstance(holder, RoleGroup) else "SecurityGroup"
    else:
        holder = s.tenant.resolve_recipient(wanted)
        kind = "User"
    if holder is None:
        s.not_found(wanted, f"{assignees[0]}IdParameter")
        return
    scope_name = _text(p.get("CustomRecipientWriteScope")) or None
    if scope_name is not None:
        found = _scope_or_fail(s, scope_name)
        if found is None:
            return
        scope_name = found.name
    taken = {a.name.lower() for a in s.tenant.role_assignments}
    name = _text(p.get("Name")) or assignment_name(role.name, holder.name, "Regular", taken)
    if name.lower() in taken:
        s.fail(f"The role assignment '{name}' already exists.", "ADObjectAlreadyExistsException")
        return
    impersonation = role.name == "ApplicationImpersonation"
    assignment = RoleAssignment(
        name=name,
        role=role.name,
        assignee=holder.dn,
        assignee_name=holder.name,
        assignee_type=kind,
        recipient_write_scope="CustomRecipientScope" if scope_name else "Organization",
        custom_recipient_write_scope=scope_name,
        config_write_scope="None" if impersonation else "OrganizationConfig",
        config_read_scope="None" if impersonation else "OrganizationConfig",
        dn=_rbac_dn(s, "Role Assignments", name),
        guid=stable_guid("assignment", name),
    )
    _swap(s, role_assignments=(*s.tenant.role_assignments, assignment))
    yield _assignment(s, assignment)


def _assignment_index(s: ExchangeSession, p: dict[str, Any]) -> int | None:
    wanted = _text(p.get("Identity")).lower()
    for i, a in enumerate(s.tenant.role_assignments):
        if wanted in (a.name.lower(), a.guid.lower(), a.dn.lower()):
            return i
    s.not_found(_text(p.get("Identity")), "RoleAssignmentIdParameter")
    return None


def set_role_assignment(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """Set-ManagementRoleAssignment on premises: -Enabled, -CustomRecipientWriteScope."""
    index = _assignment_index(s, p)
    if index is None:
        return
    old = s.tenant.role_assignments[index]
    changes: dict[str, Any] = {}
    if p.get("CustomRecipientWriteScope") is not None:
        found = _scope_or_fail(s, _text(p["CustomRecipientWriteScope"]))
        if found is None:
            return
        # "any configured OU or predefined scope on the role assignment is overwritten" (Set-ManagementRoleAssignment)
        changes |= {
            "custom_recipient_write_scope": found.name,
            "recipient_write_scope": "CustomRecipientScope",
            "recipient_ou_scope": None,
        }
    if p.get("Enabled") is not None:
        changes["enabled"] = _as_bool(p["Enabled"])
    assignments = list(s.tenant.role_assignments)
    assignments[index] = dataclasses.replace(old, **changes)
    _swap(s, role_assignments=tuple(assignments))
    yield from ()  # Set-* writes nothing to the pipeline


def remove_role_assignment(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """Remove-ManagementRoleAssignment on premises."""
    index = _assignment_index(s, p)
    if index is None:
        return
    assignments = list(s.tenant.role_assignments)
    del assignments[index]
    _swap(s, role_assignments=tuple(assignments))
    yield from ()


# -- management scopes ---------------------------------------------------------------------------------------


def new_management_scope(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """New-ManagementScope -Name -RecipientRestrictionFilter [-RecipientRoot]."""
    name = _text(p.get("Name"))
    text = _text(p.get("RecipientRestrictionFilter"))
    if not name or not text:
        s.fail("New-ManagementScope needs -Name and -RecipientRestrictionFilter in the lab.")
        return
    if s.tenant.scope(name) is not None:
        s.fail(f"The management scope '{name}' already exists.", "ADObjectAlreadyExistsException")
        return
    if not _check_filter(s, text):
        return
    ok, root = _root(s, p)
    if not ok:
        return
    scope = ManagementScope(
        name=name,
        recipient_filter=text,
        recipient_root=root,
        dn=_rbac_dn(s, "Scopes", name),
        guid=stable_guid("scope", name),
    )
    _swap(s, scopes=(*s.tenant.scopes, scope))
    yield _scope(s, scope)


def set_management_scope(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """Set-ManagementScope -Identity -RecipientRestrictionFilter."""
    old = _scope_or_fail(s, _text(p.get("Identity")))
    if old is None:
        return
    changes: dict[str, Any] = {}
    if p.get("RecipientRestrictionFilter") is not None:
        text = _text(p["RecipientRestrictionFilter"])
        if not _check_filter(s, text):
            return
        changes["recipient_filter"] = text
    if p.get("RecipientRoot") is not None:
        ok, root = _root(s, p)
        if not ok:
            return
        changes["recipient_root"] = root
    _swap(s, scopes=tuple(dataclasses.replace(sc, **changes) if sc.dn == old.dn else sc for sc in s.tenant.scopes))
    yield from ()


def _root(s: ExchangeSession, p: dict[str, Any]) -> tuple[bool, str | None]:
    """(False after failing the call, or True and -RecipientRoot as the OU's DN; a DN or canonical name accepted)."""
    text = _text(p.get("RecipientRoot"))
    if not text:
        return True, None
    try:
        return True, ou_dn(text, s.org.domain)
    except ValueError:
        s.not_found(text, "OrganizationalUnitIdParameter")
        return False, None


def remove_management_scope(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """Remove-ManagementScope; Exchange refuses while a role assignment still uses the scope."""
    old = _scope_or_fail(s, _text(p.get("Identity")))
    if old is None:
        return
    users = [a.name for a in s.tenant.role_assignments if (a.custom_recipient_write_scope or "") == old.name]
    if users:
        s.fail(f"The management scope '{old.name}' is used by role assignment(s) {', '.join(users)}.")
        return
    _swap(s, scopes=tuple(sc for sc in s.tenant.scopes if sc.dn != old.dn))
    yield from ()


# -- membership ----------------------------------------------------------------------------------------------


def _member(s: ExchangeSession, p: dict[str, Any]) -> Any:
    wanted = _text(p.get("Member"))
    found = s.tenant.resolve(wanted)
    if found is None or isinstance(found, RoleGroup):
        s.not_found(wanted, "RecipientWithAdUserGroupIdParameter")
        return None
    return found


def _changed_members(s: ExchangeSession, holder: Group | RoleGroup, p: dict[str, Any], add: bool) -> tuple[str, ...]:
    """The holder's new member DNs, or () after queueing/raising Exchange's error."""
    member = _member(s, p)
    if member is None:
        return ()
    present = any(m.lower() == member.dn.lower() for m in holder.members)
    if add and present:
        s.fail(
            f'The recipient "{member.name}" is already a member of the group "{holder.name}".',
            "MemberAlreadyExistsException",
        )
    if not add and not present:
        s.fail(
            f'Couldn\'t find object "{member.name}". Please make sure that it was spelled correctly or '
            f"specify a different object. Reason: The recipient {member.name} isn't a member of the group "
            f"{holder.name}.",
            "MemberNotFoundException",
        )
    if add:
        return (*holder.members, member.dn)
    return tuple(m for m in holder.members if m.lower() != member.dn.lower())


def _manager_check(s: ExchangeSession, group: Group, p: dict[str, Any]) -> bool:
    """Changing a security group needs a manager of it, or -BypassSecurityGroupManagerCheck.

    Organization Management may use the switch (add-distributiongroupmember, learn.microsoft.com).
    """
    if not group.group_type.endswith("SecurityEnabled") or p.get("BypassSecurityGroupManagerCheck"):
        return True
    caller = s.tenant.account_user(s.user)
    if caller is not None and any(m.lower() == caller.dn.lower() for m in group.managed_by):
        return True
    s.fail(
        "You don't have sufficient permissions. This operation can only be performed by a manager of the group.",
        "OperationRequiresGroupManagerException",
    )
    return False


def _distribution_group(s: ExchangeSession, p: dict[str, Any]) -> Group | None:
    found = s.tenant.group(_text(p.get("Identity")))
    if found is None or not found.is_mail_enabled:
        s.not_found(_text(p.get("Identity")), "DistributionGroupIdParameter")
        return None
    return found


def _replace_group(s: ExchangeSession, old: Group, new: Group) -> None:
    _swap(s, groups=tuple(new if g.dn == old.dn else g for g in s.tenant.groups))


def _group_member(s: ExchangeSession, p: dict[str, Any], add: bool) -> Iterator[ExchangeObject]:
    group = _distribution_group(s, p)
    if group is None or not _manager_check(s, group, p):
        return
    members = _changed_members(s, group, p, add)
    if members or not add:
        _replace_group(s, group, dataclasses.replace(group, members=members))
    yield from ()


def add_distribution_group_member(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """Add-DistributionGroupMember -Identity -Member [-BypassSecurityGroupManagerCheck]."""
    return _group_member(s, p, add=True)


def remove_distribution_group_member(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """Remove-DistributionGroupMember -Identity -Member [-BypassSecurityGroupManagerCheck]."""
    return _group_member(s, p, add=False)


def _role_group_member(s: ExchangeSession, p: dict[str, Any], add: bool) -> Iterator[ExchangeObject]:
    # Holders of the Role Management role may change any role group's members (the lab admin holds it).
    group = s.tenant.role_group(_text(p.get("Identity")))
    if group is None:
        s.not_found(_text(p.get("Identity")), "RoleGroupIdParameter")
        return
    members = _changed_members(s, group, p, add)
    if members or not add:
        role_groups = tuple(
            dataclasses.replace(g, members=members) if g.dn == group.dn else g for g in s.tenant.role_groups
        )
        _swap(s, role_groups=role_groups)
    yield from ()


def add_role_group_member(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """Add-RoleGroupMember -Identity -Member."""
    return _role_group_member(s, p, add=True)


def remove_role_group_member(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """Remove-RoleGroupMember -Identity -Member."""
    return _role_group_member(s, p, add=False)


# -- distribution groups -------------------------------------------------------------------------------------


def _restriction(s: ExchangeSession, p: dict[str, Any], key: str, default: str) -> str | None:
    if p.get(key) is None:
        return default
    value = _RESTRICTIONS.get(_text(p[key]).strip().lower())
    if value is None:
        s.fail(
            f"Cannot bind parameter '{key}'. Cannot convert value \"{_text(p[key])}\" to type "
            f'"Microsoft.Exchange.Data.Directory.Recipient.MemberUpdateType".',
            "ParameterBindingException",
        )
    return value


def _next_sid(tenant: Tenant) -> str:
    """A SID in the domain's range, after the highest RID in use."""
    sids = [r.sid for r in tenant.recipients] + [g.sid for g in tenant.groups] + [g.sid for g in tenant.role_groups]
    prefix = sids[0].rsplit("-", 1)[0] if sids else "S-1-5-21-1-2-3"
    rids = [int(x.rsplit("-", 1)[1]) for x in sids if x.rsplit("-", 1)[0] == prefix]
    return f"{prefix}-{max(rids, default=1100) + 1}"


def new_distribution_group(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """New-DistributionGroup -Name [-Type Distribution|Security] [-Member...Restriction] [-Alias].

    The creator becomes its manager (ManagedBy); it goes to the Users container unless -OrganizationalUnit.
    """
    name = _text(p.get("Name")).strip()
    if not name:
        s.fail("New-DistributionGroup needs -Name.")
        return
    if s.tenant.resolve(name) is not None:
        s.fail(f"The name '{name}' is already being used.", "ADObjectAlreadyExistsException")
        return
    kind = _text(p.get("Type") or "Distribution").strip().lower()
    if kind not in ("distribution", "security"):
        s.fail(
            f"Cannot bind parameter 'Type'. Cannot convert value \"{_text(p.get('Type'))}\" to type "
            '"Microsoft.Exchange.Management.RecipientTasks.GroupType".',
            "ParameterBindingException",
        )
        return
    rtype = "MailUniversalSecurityGroup" if kind == "security" else "MailUniversalDistributionGroup"
    join = _restriction(s, p, "MemberJoinRestriction", "Closed" if kind == "security" else "Open")
    depart = _restriction(s, p, "MemberDepartRestriction", "Closed" if kind == "security" else "Open")
    if join is None or depart is None:
        return
    org = s.tenant.organization
    alias = _text(p.get("Alias")) or re.sub(r"[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]", "", name)
    ou = _text(p.get("OrganizationalUnit")) or f"CN=Users,{org.domain_dn}"
    caller = s.tenant.account_user(s.user)
    primary = f"{alias}@{org.domain}"
    group = Group(
        name=name,
        alias=alias,
        display_name=_text(p.get("DisplayName")) or name,
        sam_account_name=name[:64],
        primary_smtp=primary,
        email_addresses=(f"SMTP:{primary}",),
        sid=_next_sid(s.tenant),
        guid=stable_guid("group", name),
        dn=f"CN={escape_rdn(name)},{ou}",
        identity=f"{org.domain}/Users/{name}",
        recipient_type_details=rtype,
        group_type=GROUP_TYPES[rtype][0],
        member_join_restriction=join,
        member_depart_restriction=depart,
        managed_by=(caller.dn,) if caller is not None else (),
    )
    _swap(s, groups=(*s.tenant.groups, group))
    yield _distribution_group_object(s, group)


def set_distribution_group(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    """Set-DistributionGroup: -HiddenFromAddressListsEnabled, -MemberJoinRestriction, -MemberDepartRestriction."""
    group = _distribution_group(s, p)
    if group is None or not _manager_check(s, group, p):
        return
    changes: dict[str, Any] = {}
    if p.get("HiddenFromAddressListsEnabled") is not None:
        changes["hidden_from_address_lists"] = _as_bool(p["HiddenFromAddressListsEnabled"])
    for key, field in (
        ("MemberJoinRestriction", "member_join_restriction"),
        ("MemberDepartRestriction", "member_depart_restriction"),
    ):
        if p.get(key) is not None:
            value = _restriction(s, p, key, "")
            if value is None:
                return
            changes[field] = value
    _replace_group(s, group, dataclasses.replace(group, **changes))
    yield from ()
