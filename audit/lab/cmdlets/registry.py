"""The table of cmdlets the lab knows: name, .NET task, parameters, identity type, body, switches."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.lab.cmdlets.apps import (
    _get_application_access_policy,
    _get_service_principal,
    _test_service_principal_authorization,
)
from audit.lab.cmdlets.groups import _get_distribution_group, _get_distribution_group_member, _get_group
from audit.lab.cmdlets.objects import ExchangeObject
from audit.lab.cmdlets.organization import _get_org, _get_server, _get_throttling
from audit.lab.cmdlets.rbac import _get_role, _get_role_assignment, _get_role_group, _get_role_group_member, _get_scope
from audit.lab.cmdlets.recipients import _get_mailbox, _get_recipient, _get_user
from audit.lab.cmdlets.writes import (
    _new_management_scope,
    _new_role_assignment,
    _new_service_principal,
    _remove_role_assignment,
    _remove_role_group,
    _set_account_disabled,
    _set_organization_config,
    _set_role_assignment,
)
from audit.lab.cmdlets.writes_onprem import (
    add_distribution_group_member,
    add_role_group_member,
    new_distribution_group,
    new_management_scope,
    new_role_assignment,
    remove_distribution_group_member,
    remove_management_scope,
    remove_role_assignment,
    remove_role_group_member,
    set_distribution_group,
    set_management_scope,
    set_role_assignment,
)

if TYPE_CHECKING:
    from audit.lab.cmdlets.host import ExchangeSession

_Run = Callable[["ExchangeSession", dict[str, Any]], Iterable[ExchangeObject]]


def _by_platform(online: _Run, onprem: _Run) -> _Run:
    """One cmdlet name, two parameter sets: Exchange Online's (apps, admin units) and on-premises' (groups, users)."""

    def run(s: ExchangeSession, p: dict[str, Any]) -> Iterable[ExchangeObject]:
        return online(s, p) if s.tenant.exo is not None else onprem(s, p)

    return run


# -- the cmdlet table ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParameterSet:
    """One parameter set of a cmdlet, as its OPD page's SYNTAX lists it.

    ``parameters`` are the parameters of this set that are not in every set (a parameter named in no set of the
    cmdlet belongs to all of them, "Parameter Sets: (All)"); ``mandatory`` are those with "Required: True" here.
    """

    name: str
    parameters: frozenset[str]
    mandatory: frozenset[str] = frozenset()


def _set(name: str, parameters: Iterable[str], mandatory: Iterable[str] = ()) -> ParameterSet:
    required = frozenset(mandatory)
    return ParameterSet(name, frozenset(parameters) | required, required)


@dataclass(frozen=True, slots=True)
class _Cmdlet:
    name: str
    task: str  # .NET task class, as it appears in Exchange's FullyQualifiedErrorId
    parameters: tuple[str, ...]
    identity_type: str
    run: Callable[[ExchangeSession, dict[str, Any]], Iterable[ExchangeObject]]
    switches: frozenset[str] = frozenset()
    # Parameter sets enforced as PowerShell's binder does (audit.lab.cmdlets.host); none = one set of everything.
    sets: tuple[ParameterSet, ...] = ()
    default_set: str | None = None


_COMMON = ("DomainController", "ErrorAction", "WarningAction", "Verbose", "Debug")
_WRITE = ("Confirm", "WhatIf", *_COMMON)
_RBAC = "Microsoft.Exchange.Management.RbacTasks."
_RECIPIENT = "Microsoft.Exchange.Management.RecipientTasks."
_SYSCONF = "Microsoft.Exchange.Management.SystemConfigurationTasks."

# Parameter sets, from each cmdlet's OPD page (MicrosoftDocs/office-docs-powershell, exchange/exchange-ps/
# ExchangePowerShell/<Cmdlet>.md, "SYNTAX" and each parameter's "Parameter Sets"/"Required"; exchange-rbac.md 1.1).
_IDENTITY_REQUIRED = (_set("Identity", ("Identity",), ("Identity",)),)
# Get-ManagementRoleAssignment: "If the RoleAssignee parameter is used, you can't use the Identity parameter";
# -AssignmentMethod and -Role exist only in the RoleAssignee set. Example 2 (no -Identity, no -RoleAssignee) runs,
# so one set is the default: Identity, listed first (UNVERIFIED: the cmdlet's DefaultParameterSetName).
_ROLE_ASSIGNMENT_SETS = (
    _set("Identity", ("Identity",)),
    _set("RoleAssignee", ("AssignmentMethod", "Role", "RoleAssignee")),
)
# Get-ManagementRole: -GetChildren and -Recurse each need -Identity; -Cmdlet/-CmdletParameters and -Script/
# -ScriptParameters are sets of their own. Example 1 (no parameter) runs: the default is Identity (UNVERIFIED).
_ROLE_SETS = (
    _set("GetChildren", ("Identity",), ("Identity", "GetChildren")),
    _set("Recurse", ("Identity",), ("Identity", "Recurse")),
    _set("Identity", ("Identity", "Cmdlet", "CmdletParameters")),
    _set("Script", ("Identity", "Script", "ScriptParameters")),
)
# New-ManagementRoleAssignment: exactly one assignee parameter, each in its own set, -Role required in all;
# -CustomResourceScope only with -App, the recipient and configuration scopes only with the others.
_SCOPES = (
    "CustomConfigWriteScope",
    "CustomRecipientWriteScope",
    "ExclusiveConfigWriteScope",
    "ExclusiveRecipientWriteScope",
    "RecipientAdministrativeUnitScope",
    "RecipientGroupScope",
    "RecipientOrganizationalUnitScope",
    "RecipientRelativeWriteScope",
    "UnScopedTopLevel",
    "DomainController",
)
_NEW_ASSIGNMENT_SETS = (
    _set(
        "App",
        ("CustomResourceScope", "Delegating", "RecipientAdministrativeUnitScope", "RecipientGroupScope"),
        ("Role", "App"),
    ),
    _set("Computer", _SCOPES, ("Role", "Computer")),
    _set("Policy", _SCOPES, ("Role", "Policy")),
    _set("SecurityGroup", (*_SCOPES, "Delegating"), ("Role", "SecurityGroup")),
    _set("User", (*_SCOPES, "Delegating"), ("Role", "User")),
)
# Set-ManagementRoleAssignment: one kind of scope per call. Example 1 (-Enabled only) runs: the default set is
# RelativeRecipientWriteScope, listed first (UNVERIFIED: DefaultParameterSetName).
_SET_ASSIGNMENT_SETS = (
    _set(
        "RelativeRecipientWriteScope",
        ("RecipientRelativeWriteScope", "CustomConfigWriteScope", "DomainController"),
        ("Identity",),
    ),
    _set(
        "CustomRecipientWriteScope",
        ("CustomRecipientWriteScope", "CustomConfigWriteScope", "DomainController"),
        ("Identity",),
    ),
    _set(
        "RecipientOrganizationalUnitScope",
        ("RecipientOrganizationalUnitScope", "CustomConfigWriteScope", "DomainController"),
        ("Identity",),
    ),
    _set(
        "ExclusiveScope",
        ("ExclusiveConfigWriteScope", "ExclusiveRecipientWriteScope", "DomainController"),
        ("Identity",),
    ),
    _set("RecipientAdministrativeUnitScope", ("DomainController",), ("Identity", "RecipientAdministrativeUnitScope")),
    _set("App", ("CustomResourceScope",), ("Identity",)),
    _set("RecipientGroupScope", (), ("Identity", "RecipientGroupScope")),
)
# New-ManagementScope: -Name always; a recipient scope needs -RecipientRestrictionFilter (-RecipientRoot only
# there); database and server scopes are sets of their own (exchange-rbac.md 2.1).
_NEW_SCOPE_SETS = (
    _set("RecipientFilter", ("RecipientRoot",), ("Name", "RecipientRestrictionFilter")),
    _set("DatabaseFilter", (), ("Name", "DatabaseRestrictionFilter")),
    _set("DatabaseList", (), ("Name", "DatabaseList")),
    _set("ServerFilter", (), ("Name", "ServerRestrictionFilter")),
    _set("ServerList", (), ("Name", "ServerList")),
)

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
        sets=_ROLE_ASSIGNMENT_SETS,
        default_set="Identity",
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
        sets=_ROLE_SETS,
        default_set="Identity",
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
        sets=_IDENTITY_REQUIRED,
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
        sets=_IDENTITY_REQUIRED,
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
        ("Identity", "RetrieveEwsOperationAccessPolicy", *_COMMON),
        "OrganizationIdParameter",
        _get_org,
        frozenset({"RetrieveEwsOperationAccessPolicy"}),
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
# Exchange Online only (audit.lab.authz.EXO_ONLY_CMDLETS keeps them out of on-premises sessions).
_EXO_CMDLETS = (
    _Cmdlet(
        "Get-ServicePrincipal",
        _RBAC + "GetServicePrincipal",
        ("Identity", "Organization", *_COMMON),
        "ServicePrincipalIdParameter",
        _get_service_principal,
    ),
    _Cmdlet(
        "Test-ServicePrincipalAuthorization",
        _RBAC + "TestServicePrincipalAuthorization",
        ("Identity", "Resource", *_COMMON),
        "ServicePrincipalIdParameter",
        _test_service_principal_authorization,
    ),
    _Cmdlet(
        "Get-ApplicationAccessPolicy",
        _SYSCONF + "GetApplicationAccessPolicy",
        ("Identity", "Organization", *_COMMON),
        "ApplicationAccessPolicyIdParameter",
        _get_application_access_policy,
    ),
    _Cmdlet(
        "New-ServicePrincipal",
        _RBAC + "NewServicePrincipal",
        ("AppId", "ObjectId", "ServiceId", "DisplayName", "Organization", *_WRITE),
        "ServicePrincipalIdParameter",
        _new_service_principal,
        frozenset({"Confirm", "WhatIf"}),
    ),
    _Cmdlet(
        "New-ManagementRoleAssignment",
        _RBAC + "NewManagementRoleAssignment",
        (
            "Name",
            "Role",
            "App",
            "CustomResourceScope",
            "RecipientAdministrativeUnitScope",
            "SecurityGroup",
            "User",
            "CustomRecipientWriteScope",
            *_WRITE,
        ),
        "RoleAssignmentIdParameter",
        _by_platform(_new_role_assignment, new_role_assignment),
        frozenset({"Confirm", "WhatIf"}),
        sets=_NEW_ASSIGNMENT_SETS,
    ),
    _Cmdlet(
        "Set-ManagementRoleAssignment",
        _RBAC + "SetManagementRoleAssignment",
        (
            "Identity",
            "CustomResourceScope",
            "RecipientAdministrativeUnitScope",
            "CustomRecipientWriteScope",
            "Enabled",
            *_WRITE,
        ),
        "RoleAssignmentIdParameter",
        _by_platform(_set_role_assignment, set_role_assignment),
        frozenset({"Confirm", "WhatIf", "Enabled"}),
        sets=_SET_ASSIGNMENT_SETS,
        default_set="RelativeRecipientWriteScope",
    ),
    _Cmdlet(
        "Remove-ManagementRoleAssignment",
        _RBAC + "RemoveManagementRoleAssignment",
        ("Identity", *_WRITE),
        "RoleAssignmentIdParameter",
        _by_platform(_remove_role_assignment, remove_role_assignment),
        frozenset({"Confirm", "WhatIf"}),
        sets=_IDENTITY_REQUIRED,
    ),
    _Cmdlet(
        "New-ManagementScope",
        _SYSCONF + "NewManagementScope",
        ("Name", "RecipientRestrictionFilter", "RecipientRoot", *_WRITE),
        "ManagementScopeIdParameter",
        _by_platform(_new_management_scope, new_management_scope),
        frozenset({"Confirm", "WhatIf"}),
        sets=_NEW_SCOPE_SETS,
    ),
    _Cmdlet(
        "Set-OrganizationConfig",
        _SYSCONF + "SetOrganizationConfig",
        ("EWSEnabled", "EwsAllowedAppIDs", *_WRITE),
        "OrganizationIdParameter",
        _set_organization_config,
        frozenset({"Confirm", "WhatIf"}),
    ),
    _Cmdlet(
        "Remove-RoleGroup",
        _RBAC + "RemoveRoleGroup",
        ("Identity", "BypassSecurityGroupManagerCheck", *_WRITE),
        "RoleGroupIdParameter",
        _remove_role_group,
        frozenset({"Confirm", "WhatIf", "BypassSecurityGroupManagerCheck"}),
        sets=_IDENTITY_REQUIRED,
    ),
    _Cmdlet(
        "Set-User",
        _RECIPIENT + "SetUser",
        ("Identity", "AccountDisabled", *_WRITE),
        "UserIdParameter",
        _set_account_disabled,
        frozenset({"Confirm", "WhatIf"}),
        sets=_IDENTITY_REQUIRED,
    ),
    _Cmdlet(
        "Set-Mailbox",
        _RECIPIENT + "SetMailbox",
        ("Identity", "AccountDisabled", *_WRITE),
        "MailboxIdParameter",
        _set_account_disabled,
        frozenset({"Confirm", "WhatIf"}),
        sets=_IDENTITY_REQUIRED,
    ),
)
# On premises only (audit.lab.authz.ONPREM_WRITES: the lab Administrator's Role Management and Distribution
# Groups roles); what `exaudit plan` prints, so that a plan can be applied and the audit re-run.
_BYPASS = frozenset({"Confirm", "WhatIf", "BypassSecurityGroupManagerCheck"})
_ONPREM_WRITES = (
    _Cmdlet(
        "Set-ManagementScope",
        _SYSCONF + "SetManagementScope",
        ("Identity", "RecipientRestrictionFilter", "RecipientRoot", *_WRITE),
        "ManagementScopeIdParameter",
        set_management_scope,
        frozenset({"Confirm", "WhatIf"}),
        sets=_IDENTITY_REQUIRED,
    ),
    _Cmdlet(
        "Remove-ManagementScope",
        _SYSCONF + "RemoveManagementScope",
        ("Identity", *_WRITE),
        "ManagementScopeIdParameter",
        remove_management_scope,
        frozenset({"Confirm", "WhatIf"}),
        sets=_IDENTITY_REQUIRED,
    ),
    _Cmdlet(
        "Add-RoleGroupMember",
        _RBAC + "AddRoleGroupMember",
        ("Identity", "Member", "BypassSecurityGroupManagerCheck", *_WRITE),
        "RoleGroupIdParameter",
        add_role_group_member,
        _BYPASS,
        sets=_IDENTITY_REQUIRED,
    ),
    _Cmdlet(
        "Remove-RoleGroupMember",
        _RBAC + "RemoveRoleGroupMember",
        ("Identity", "Member", "BypassSecurityGroupManagerCheck", *_WRITE),
        "RoleGroupIdParameter",
        remove_role_group_member,
        _BYPASS,
        sets=_IDENTITY_REQUIRED,
    ),
    _Cmdlet(
        "New-DistributionGroup",
        _RECIPIENT + "NewDistributionGroup",
        (
            "Name",
            "Type",
            "Alias",
            "DisplayName",
            "OrganizationalUnit",
            "MemberJoinRestriction",
            "MemberDepartRestriction",
            *_WRITE,
        ),
        "DistributionGroupIdParameter",
        new_distribution_group,
        frozenset({"Confirm", "WhatIf"}),
        sets=(_set("Default", (), ("Name",)),),
    ),
    _Cmdlet(
        "Set-DistributionGroup",
        _RECIPIENT + "SetDistributionGroup",
        (
            "Identity",
            "HiddenFromAddressListsEnabled",
            "MemberJoinRestriction",
            "MemberDepartRestriction",
            "BypassSecurityGroupManagerCheck",
            *_WRITE,
        ),
        "DistributionGroupIdParameter",
        set_distribution_group,
        _BYPASS | {"HiddenFromAddressListsEnabled"},
        sets=_IDENTITY_REQUIRED,
    ),
    _Cmdlet(
        "Add-DistributionGroupMember",
        _RECIPIENT + "AddDistributionGroupMember",
        ("Identity", "Member", "BypassSecurityGroupManagerCheck", *_WRITE),
        "DistributionGroupIdParameter",
        add_distribution_group_member,
        _BYPASS,
        sets=_IDENTITY_REQUIRED,
    ),
    _Cmdlet(
        "Remove-DistributionGroupMember",
        _RECIPIENT + "RemoveDistributionGroupMember",
        ("Identity", "Member", "BypassSecurityGroupManagerCheck", *_WRITE),
        "DistributionGroupIdParameter",
        remove_distribution_group_member,
        _BYPASS,
        sets=_IDENTITY_REQUIRED,
    ),
)
_CMDLETS = {c.name.lower(): c for c in (*_CMDLET_LIST, *_EXO_CMDLETS, *_ONPREM_WRITES)}
