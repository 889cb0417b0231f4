"""The table of cmdlets the lab knows: name, .NET task, parameters, identity type, body, switches."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.lab.cmdlets.groups import _get_distribution_group, _get_distribution_group_member, _get_group
from audit.lab.cmdlets.objects import ExchangeObject
from audit.lab.cmdlets.organization import _get_org, _get_server, _get_throttling
from audit.lab.cmdlets.rbac import _get_role, _get_role_assignment, _get_role_group, _get_role_group_member, _get_scope
from audit.lab.cmdlets.recipients import _get_mailbox, _get_recipient, _get_user

if TYPE_CHECKING:
    from audit.lab.cmdlets.host import ExchangeSession

# -- the cmdlet table ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cmdlet:
    name: str
    task: str  # .NET task class, as it appears in Exchange's FullyQualifiedErrorId
    parameters: tuple[str, ...]
    identity_type: str
    run: Callable[[ExchangeSession, dict[str, Any]], Iterable[ExchangeObject]]
    switches: frozenset[str] = frozenset()


_COMMON = ("DomainController", "ErrorAction", "WarningAction", "Verbose", "Debug")
_RBAC = "Microsoft.Exchange.Management.RbacTasks."
_RECIPIENT = "Microsoft.Exchange.Management.RecipientTasks."
_SYSCONF = "Microsoft.Exchange.Management.SystemConfigurationTasks."

_CMDLET_LIST = (
    _Cmdlet(
        "Get-ManagementRoleAssignment",
        _RBAC + "GetManagementRoleAssignment",
        (
            "Identity",
            "RoleAssignee",
            "Role",
            "AssignmentMethod",
            "Delegating",
            "Enabled",
            "GetEffectiveUsers",
            "RoleAssigneeType",
            "CustomRecipientWriteScope",
            "ConfigWriteScope",
            "RecipientWriteScope",
            "Exclusive",
            # No -ResultSize: Get-ManagementRoleAssignment returns every match (its documented syntax has none).
            *_COMMON,
        ),
        "RoleAssignmentIdParameter",
        _get_role_assignment,
        frozenset({"GetEffectiveUsers", "Delegating", "Enabled", "Exclusive"}),
    ),
    _Cmdlet(
        "Get-ManagementScope",
        _SYSCONF + "GetManagementScope",
        ("Identity", "Exclusive", "Orphan", *_COMMON),
        "ManagementScopeIdParameter",
        _get_scope,
        frozenset({"Exclusive", "Orphan"}),
    ),
    _Cmdlet(
        "Get-ManagementRole",
        _RBAC + "GetManagementRole",
        ("Identity", "RoleType", "Recurse", "GetChildren", "Cmdlet", "CmdletParameters", *_COMMON),
        "RoleIdParameter",
        _get_role,
        frozenset({"Recurse", "GetChildren"}),
    ),
    _Cmdlet(
        "Get-RoleGroup",
        _RBAC + "GetRoleGroup",
        ("Identity", "Filter", "ResultSize", "SortBy", "ShowPartnerLinked", "ReadFromDomainController", *_COMMON),
        "RoleGroupIdParameter",
        _get_role_group,
        frozenset({"ShowPartnerLinked", "ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-RoleGroupMember",
        _RBAC + "GetRoleGroupMember",
        ("Identity", "ResultSize", "ReadFromDomainController", *_COMMON),
        "RoleGroupMemberIdParameter",
        _get_role_group_member,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-DistributionGroup",
        _RECIPIENT + "GetDistributionGroup",
        ("Identity", "RecipientTypeDetails", "Filter", "ResultSize", "SortBy", "ReadFromDomainController", *_COMMON),
        "DistributionGroupIdParameter",
        _get_distribution_group,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-DistributionGroupMember",
        _RECIPIENT + "GetDistributionGroupMember",
        ("Identity", "ResultSize", "ReadFromDomainController", "IgnoreDefaultScope", *_COMMON),
        "DistributionGroupMemberIdParameter",
        _get_distribution_group_member,
        frozenset({"ReadFromDomainController", "IgnoreDefaultScope"}),
    ),
    _Cmdlet(
        "Get-Group",
        _RECIPIENT + "GetGroup",
        ("Identity", "RecipientTypeDetails", "Filter", "ResultSize", "SortBy", "ReadFromDomainController", *_COMMON),
        "GroupIdParameter",
        _get_group,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-User",
        _RECIPIENT + "GetUser",
        ("Identity", "RecipientTypeDetails", "Filter", "ResultSize", "SortBy", "ReadFromDomainController", *_COMMON),
        "UserIdParameter",
        _get_user,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-Mailbox",
        _RECIPIENT + "GetMailbox",
        ("Identity", "RecipientTypeDetails", "Filter", "ResultSize", "SortBy", "ReadFromDomainController", *_COMMON),
        "MailboxIdParameter",
        _get_mailbox,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-Recipient",
        _RECIPIENT + "GetRecipient",
        (
            "Identity",
            "Filter",
            "RecipientType",
            "RecipientTypeDetails",
            "ResultSize",
            "SortBy",
            "ReadFromDomainController",
            *_COMMON,
        ),
        "RecipientIdParameter",
        _get_recipient,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-ThrottlingPolicy",
        _SYSCONF + "GetThrottlingPolicy",
        ("Identity", "Explicit", "Diagnostics", *_COMMON),
        "ThrottlingPolicyIdParameter",
        _get_throttling,
        frozenset({"Explicit", "Diagnostics"}),
    ),
    _Cmdlet(
        "Get-OrganizationConfig",
        _SYSCONF + "GetOrganizationConfig",
        ("Identity", *_COMMON),
        "OrganizationIdParameter",
        _get_org,
    ),
    _Cmdlet(
        "Get-ExchangeServer",
        _SYSCONF + "GetExchangeServer",
        ("Identity", "Domain", "Status", *_COMMON),
        "ServerIdParameter",
        _get_server,
        frozenset({"Status"}),
    ),
)
_CMDLETS = {c.name.lower(): c for c in _CMDLET_LIST}
