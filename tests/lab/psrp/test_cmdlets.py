"""Cmdlet output as pypsrp receives it: Exchange's type chains, Partial encodings, property order and semantics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool

from .conftest import PSLab

M = "Microsoft.Exchange.Data.Directory.Management."
SC = "Microsoft.Exchange.Data.Directory.SystemConfiguration."
BASE = [
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    "Microsoft.Exchange.Data.ConfigurableObject",
    "System.Object",
]
SCOPE_GROUP = "SecurityGroup-CallPro Calendar Access"
SCOPE_GROUP_DN = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"


@pytest.fixture
def pool(lab: PSLab) -> Iterator[RunspacePool]:
    with RunspacePool(lab.wsman(), configuration_name="Microsoft.Exchange") as opened:
        yield opened


def run(pool: RunspacePool, cmdlet: str, *piped: str, **params: Any) -> list[Any]:
    ps = PowerShell(pool)
    ps.add_cmdlet(cmdlet)
    for name, value in params.items():
        ps.add_parameter(name, value)
    for extra in piped:
        ps.add_cmdlet(extra)
    output = ps.invoke()
    assert ps.state == PSInvocationState.COMPLETED, [str(e) for e in ps.streams.error]
    assert ps.streams.error == []
    return list(output)


def props(obj: Any) -> dict[str, Any]:
    return dict(obj.adapted_properties)


def test_role_assignment_presentation(pool: RunspacePool) -> None:
    [a] = run(pool, "Get-ManagementRoleAssignment", Identity="ApplicationImpersonation-CallPro Calendar Access")
    assert a.types == [M + "ExchangeRoleAssignmentPresentation", M + "ADPresentationObject", *BASE]
    assert str(a) == "ApplicationImpersonation-CallPro Calendar Access"
    # Property order of the real Format-List (Q&A 326630), RunspaceId being added by PowerShell clients only.
    assert list(props(a)) == [
        "DataObject", "User", "AssignmentMethod", "Identity", "EffectiveUserName", "AssignmentChain",
        "RoleAssigneeType", "RoleAssignee", "Role", "RoleAssignmentDelegationType", "CustomRecipientWriteScope",
        "CustomConfigWriteScope", "RecipientReadScope", "ConfigReadScope", "RecipientWriteScope", "ConfigWriteScope",
        "Enabled", "RoleAssigneeName", "IsValid", "ExchangeVersion", "Name", "DistinguishedName", "Guid",
        "ObjectCategory", "ObjectClass", "WhenChanged", "WhenCreated", "WhenChangedUTC", "WhenCreatedUTC",
        "OrganizationId", "Id", "OriginatingServer", "ObjectState",
    ]  # fmt: skip
    p = props(a)
    assert p["RoleAssigneeType"] == "RoleGroup"
    assert p["RoleAssignee"] == "contoso.com/Microsoft Exchange Security Groups/CallPro Calendar Access"
    assert p["Role"] == "ApplicationImpersonation"
    assert p["RoleAssignmentDelegationType"] == "Regular"
    assert p["CustomRecipientWriteScope"] == "Scope-CallPro Calendar Access"
    assert p["RecipientWriteScope"] == "CustomRecipientScope"
    assert p["CustomConfigWriteScope"] is None
    assert p["Enabled"] is True
    assert isinstance(p["Guid"], uuid.UUID)
    assert p["DistinguishedName"].startswith("CN=ApplicationImpersonation-CallPro Calendar Access,CN=Role Assignments,")
    assert p["ObjectClass"].types[0].startswith("Microsoft.Exchange.Data.MultiValuedProperty`1[[System.String,")
    # A MultiValuedProperty is an <Obj> with the generic type chain and an <LST> of strings; pypsrp 0.9.1 hands
    # the <LST> over unparsed, as it would for real Exchange.
    assert p["ObjectClass"].property_sets == ["<LST><S>top</S><S>msExchRoleAssignment</S></LST>"]


def test_role_assignment_filters(pool: RunspacePool) -> None:
    role = "ApplicationImpersonation"
    everything = {props(a)["Name"] for a in run(pool, "Get-ManagementRoleAssignment", Role=role)}
    assert "ApplicationImpersonation-Organization Management-Delegating" in everything
    regular = {props(a)["Name"] for a in run(pool, "Get-ManagementRoleAssignment", Role=role, Delegating=False)}
    assert "ApplicationImpersonation-Organization Management-Delegating" not in regular
    delegating = run(pool, "Get-ManagementRoleAssignment", Role=role, Delegating=True)
    assert {props(a)["RoleAssignmentDelegationType"] for a in delegating} <= {"Delegating", "DelegatingOrgWide"}
    assert run(pool, "Get-ManagementRoleAssignment", Role=role, Enabled=False) == []
    via_user = run(pool, "Get-ManagementRoleAssignment", RoleAssignee="svcServiceAccount", Role=role)
    assert [props(a)["Name"] for a in via_user] == ["ApplicationImpersonation-CallPro Calendar Access"]
    scoped = run(pool, "Get-ManagementRoleAssignment", CustomRecipientWriteScope="Scope-CallPro Calendar Access")
    assert [props(a)["Name"] for a in scoped] == ["ApplicationImpersonation-CallPro Calendar Access"]
    by_type = run(pool, "Get-ManagementRoleAssignment", Role=role, RoleAssigneeType="User")
    assert by_type == []
    method = run(pool, "Get-ManagementRoleAssignment", RoleAssignee="svcServiceAccount", AssignmentMethod="RoleGroup")
    assert {props(a)["Role"] for a in method} == {role}


def test_get_effective_users(pool: RunspacePool) -> None:
    rows = run(
        pool, "Get-ManagementRoleAssignment", Identity="ApplicationImpersonation-CallPro Calendar Access",
        GetEffectiveUsers=True,
    )  # fmt: skip
    group_row, *user_rows = rows
    assert props(group_row)["EffectiveUserName"] == "All Group Members"
    assert [props(r)["EffectiveUserName"] for r in user_rows] == ["svcServiceAccount"]
    assert props(user_rows[0])["AssignmentMethod"] == "RoleGroup"
    assert props(user_rows[0])["User"].endswith("/svcServiceAccount")


def test_scope_role_and_role_group(pool: RunspacePool) -> None:
    [scope] = run(pool, "Get-ManagementScope", Identity="Scope-CallPro Calendar Access")
    assert scope.types == [SC + "ManagementScope", SC + "ADConfigurationObject", *BASE]
    p = props(scope)
    assert list(p)[:7] == [
        "RecipientRoot", "RecipientFilter", "ServerFilter", "DatabaseFilter", "TenantOrganizationFilter",
        "ScopeRestrictionType", "Exclusive",
    ]  # fmt: skip
    assert p["RecipientFilter"] == f"MemberOfGroup -eq '{SCOPE_GROUP_DN}'"
    assert (p["ScopeRestrictionType"], p["Exclusive"], p["RecipientRoot"]) == ("RecipientScope", False, None)

    [role] = run(pool, "Get-ManagementRole", Identity="ApplicationImpersonation")
    assert role.types[:2] == [SC + "ExchangeRole", SC + "ADConfigurationObject"]
    assert props(role)["RoleType"] == "ApplicationImpersonation"

    [group] = run(pool, "Get-RoleGroup", Identity="CallPro Calendar Access")
    assert group.types == [M + "RoleGroup", M + "ADPresentationObject", *BASE]
    assert list(props(group))[:14] == [
        "ManagedBy", "RoleAssignments", "Roles", "DisplayName", "ExternalDirectoryObjectId", "Members",
        "SamAccountName", "Description", "RoleGroupType", "LinkedGroup", "Capabilities", "LinkedPartnerGroupId",
        "LinkedPartnerOrganizationId", "Identity",
    ]  # fmt: skip
    assert props(group)["RoleGroupType"] == "Standard"
    members = run(pool, "Get-RoleGroupMember", Identity="CallPro Calendar Access")
    assert [str(m) for m in members] == ["svcServiceAccount"]
    assert members[0].types[0] == M + "ReducedRecipient"


def test_distribution_group_and_members(pool: RunspacePool) -> None:
    [group] = run(pool, "Get-DistributionGroup", Identity=SCOPE_GROUP)
    assert group.types == [
        M + "DistributionGroup", M + "DistributionGroupBase", M + "MailEnabledRecipient", M + "ADPresentationObject",
        *BASE,
    ]  # fmt: skip
    p = props(group)
    assert p["GroupType"] == "Universal, SecurityEnabled"
    assert p["RecipientTypeDetails"] == "MailUniversalSecurityGroup"
    assert p["HiddenFromAddressListsEnabled"] is True
    assert (p["MemberJoinRestriction"], p["MemberDepartRestriction"]) == ("Closed", "Closed")
    assert p["DistinguishedName"] == SCOPE_GROUP_DN
    members = run(pool, "Get-DistributionGroupMember", Identity=SCOPE_GROUP, ResultSize="Unlimited")
    assert members[0].types == [M + "ReducedRecipient", *BASE]
    smtp = sorted(props(m)["PrimarySmtpAddress"] for m in members)
    assert smtp[0] == "ad.viseur@contoso.com"
    assert len(smtp) == 6
    piped = run(pool, "Get-DistributionGroup", "Get-DistributionGroupMember", Identity=SCOPE_GROUP)
    assert sorted(props(m)["PrimarySmtpAddress"] for m in piped) == smtp
    filtered = run(pool, "Get-Recipient", Filter=f"MemberOfGroup -eq '{SCOPE_GROUP_DN}'", ResultSize="Unlimited")
    assert sorted(props(m)["PrimarySmtpAddress"] for m in filtered) == smtp


def test_mailbox_user_group_recipient(pool: RunspacePool) -> None:
    [mbx] = run(pool, "Get-Mailbox", Identity="ad.viseur@contoso.com")
    assert mbx.types == [
        M + "Mailbox", M + "MailEnabledOrgPerson", M + "MailEnabledRecipient", M + "ADPresentationObject", *BASE,
    ]  # fmt: skip
    assert str(mbx) == "Ad Viseur"
    p = props(mbx)
    assert p["RecipientTypeDetails"] == "UserMailbox"
    assert p["ThrottlingPolicy"] is None
    assert p["EmailAddresses"].types[0] == "Microsoft.Exchange.Data.ProxyAddressCollection"
    assert list(p)[-16:] == [
        "Identity", "IsValid", "ExchangeVersion", "Name", "DistinguishedName", "Guid", "ObjectCategory",
        "ObjectClass", "WhenChanged", "WhenCreated", "WhenChangedUTC", "WhenCreatedUTC", "OrganizationId", "Id",
        "OriginatingServer", "ObjectState",
    ]  # fmt: skip
    [user] = run(pool, "Get-User", Identity="ad.viseur")
    assert user.types[:3] == [M + "User", M + "OrgPersonPresentationObject", M + "ADPresentationObject"]
    [group] = run(pool, "Get-Group", Identity=SCOPE_GROUP)
    assert group.types[0] == M + "WindowsGroup"
    [members] = props(group)["Members"].property_sets
    assert members.count("<S>") == 6
    assert "<S>contoso.com/Users/Ad Viseur</S>" in members
    shared = run(pool, "Get-Recipient", RecipientTypeDetails="SharedMailbox")
    assert [str(r) for r in shared] == ["HR Shared"]


def test_throttling_organization_server(pool: RunspacePool) -> None:
    policies = run(pool, "Get-ThrottlingPolicy")
    default = next(p for p in policies if props(p)["ThrottlingPolicyScope"] == "Global")
    assert default.types[:2] == [SC + "ThrottlingPolicy", SC + "ADConfigurationObject"]
    # Partial serialization sends Unlimited<uint> values as strings; the property is spelled Ews..., not EWS...
    assert props(default)["EwsMaxConcurrency"] == "27"
    assert "EWSMaxConcurrency" not in props(default)
    [org] = run(pool, "Get-OrganizationConfig")
    assert org.types[0] == M + "OrganizationConfig"
    assert props(org)["EwsApplicationAccessPolicy"] is None
    [server] = run(pool, "Get-ExchangeServer")
    assert server.types[0] == M + "ExchangeServer"
    assert props(server)["AdminDisplayVersion"] == "Version 15.2 (Build 1544.4)"


def test_not_found_everywhere_is_non_terminating(pool: RunspacePool) -> None:
    cases = {
        "Get-ManagementRoleAssignment": {"RoleAssignee": "nobody"},
        "Get-ManagementScope": {"Identity": "nope"},
        "Get-RoleGroupMember": {"Identity": "nope"},
        "Get-DistributionGroupMember": {"Identity": "nope"},
        "Get-Recipient": {"Identity": "nope@contoso.com"},
        "Get-User": {"Identity": "nope"},
    }
    for cmdlet, params in cases.items():
        ps = PowerShell(pool)
        ps.add_cmdlet(cmdlet)
        for name, value in params.items():
            ps.add_parameter(name, value)
        assert ps.invoke() == []
        assert ps.state == PSInvocationState.COMPLETED
        assert not ps.had_errors
        [error] = ps.streams.error
        assert error.reason == "ManagementObjectNotFoundException", cmdlet
        assert error.target_object == next(iter(params.values()))
