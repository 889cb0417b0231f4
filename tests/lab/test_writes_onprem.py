"""The on-premises write cmdlets (lab Administrator only): Exchange's rules, whole-tenant swaps, EWS following."""

from __future__ import annotations

from typing import Any

import pytest

from audit.lab.authz import Decision, visible_cmdlets
from audit.lab.cmdlets import CmdletHost
from audit.lab.cmdlets.stream import CommandCall, ErrorSpec, Output
from audit.lab.server import LabServer, scenario_path
from audit.lab.tenant import Tenant, load_tenant

GROUP = "SecurityGroup-CallPro Calendar Access"
SCOPE = "Scope-CallPro Calendar Access"


class Lab:
    """A cmdlet host over a tenant that write cmdlets replace (as LabServer.commit does)."""

    def __init__(self, scenario: str) -> None:
        self.tenant = load_tenant(scenario_path(scenario)).with_generated_passwords()
        self.commits = 0
        self.host = CmdletHost(lambda: self.tenant, commit=self._commit)

    def _commit(self, tenant: Tenant) -> None:
        self.commits += 1
        self.tenant = tenant

    def run(self, cmdlet: str, user: str = "Administrator", **params: Any) -> tuple[list[Any], list[ErrorSpec]]:
        call = CommandCall(cmdlet, False, list(params.items()))
        out: list[Any] = []
        errors: list[ErrorSpec] = []
        for emission in self.host.run(user, [[call]]):
            if isinstance(emission, Output):
                out.append(emission.obj)
            elif isinstance(emission, ErrorSpec):
                errors.append(emission)
        return out, errors

    def ok(self, cmdlet: str, **params: Any) -> list[Any]:
        out, errors = self.run(cmdlet, **params)
        assert errors == [], [e.message for e in errors]
        return out


def test_only_the_administrator_sees_the_writes() -> None:
    lab = Lab("compliant")
    admin = visible_cmdlets(lab.tenant, "Administrator")
    reader = visible_cmdlets(lab.tenant, "exaudit-reader")
    service = visible_cmdlets(lab.tenant, "svcServiceAccount")
    writes = {"Set-ManagementScope", "Add-DistributionGroupMember", "New-ManagementRoleAssignment", "Set-User"}
    assert writes <= admin
    assert not {c for c in reader | service if not c.startswith(("Get-", "Test-"))}
    _, errors = lab.run(
        "Set-DistributionGroup", user="exaudit-reader", Identity=GROUP, HiddenFromAddressListsEnabled=False
    )
    assert errors[0].reason == "CommandNotFoundException"
    assert lab.commits == 0
    assert "New-ServicePrincipal" not in admin  # Exchange Online only


def test_membership_rules_and_swaps() -> None:
    lab = Lab("missing-member")
    before = lab.tenant
    lab.ok(
        "Add-DistributionGroupMember",
        Identity=GROUP,
        Member="fien.field@contoso.com",
        BypassSecurityGroupManagerCheck=True,
    )
    assert lab.tenant is not before  # a new value ...
    assert len(before.group(GROUP).members) + 1 == len(lab.tenant.group(GROUP).members)  # ... the old one intact
    _, errors = lab.run(
        "Add-DistributionGroupMember",
        Identity=GROUP,
        Member="fien.field@contoso.com",
        BypassSecurityGroupManagerCheck=True,
    )
    assert errors[0].reason == "MemberAlreadyExistsException"
    _, errors = lab.run(
        "Remove-DistributionGroupMember",
        Identity=GROUP,
        Member="ceo@contoso.com",
        BypassSecurityGroupManagerCheck=True,
        Confirm=False,
    )
    assert errors[0].reason == "MemberNotFoundException"
    _, errors = lab.run(
        "Add-DistributionGroupMember", Identity=GROUP, Member="nobody@contoso.com", BypassSecurityGroupManagerCheck=True
    )
    assert errors[0].reason == "ManagementObjectNotFoundException"
    assert not errors[0].terminating
    _, errors = lab.run("Add-DistributionGroupMember", Identity="No Such Group", Member="ceo@contoso.com")
    assert errors[0].target_type == "DistributionGroupIdParameter"


def test_a_security_group_needs_a_manager_or_the_bypass() -> None:
    lab = Lab("compliant")
    # The group is managed by Administrator: no bypass needed for him; remove him as manager to see the rule.
    group = lab.tenant.group(GROUP)
    assert group is not None
    import dataclasses

    lab.tenant = dataclasses.replace(
        lab.tenant,
        groups=tuple(dataclasses.replace(g, managed_by=()) if g.dn == group.dn else g for g in lab.tenant.groups),
    )
    _, errors = lab.run("Add-DistributionGroupMember", Identity=GROUP, Member="ceo@contoso.com")
    assert errors[0].reason == "OperationRequiresGroupManagerException"
    lab.ok(
        "Add-DistributionGroupMember", Identity=GROUP, Member="ceo@contoso.com", BypassSecurityGroupManagerCheck=True
    )


def test_role_assignment_parameter_sets_and_scopes() -> None:
    lab = Lab("delegating-only")
    _, errors = lab.run("New-ManagementRoleAssignment", Role="ApplicationImpersonation")
    assert errors[0].reason == "ParameterBindingException"
    _, errors = lab.run(
        "New-ManagementRoleAssignment",
        Role="ApplicationImpersonation",
        SecurityGroup="CallPro Calendar Access",
        User="svcServiceAccount",
    )
    assert errors[0].reason == "ParameterBindingException"
    _, errors = lab.run(
        "New-ManagementRoleAssignment",
        Role="ApplicationImpersonation",
        SecurityGroup="CallPro Calendar Access",
        CustomRecipientWriteScope="No Such Scope",
    )
    assert errors[0].target_type == "ManagementScopeIdParameter"
    [created] = lab.ok(
        "New-ManagementRoleAssignment",
        Role="ApplicationImpersonation",
        SecurityGroup="CallPro Calendar Access",
        CustomRecipientWriteScope=SCOPE,
    )
    assert created.to_string == "ApplicationImpersonation-CallPro Calendar Access"
    [a] = [a for a in lab.tenant.role_assignments if a.name == created.to_string]
    assert (a.assignee_type, a.recipient_write_scope, a.custom_recipient_write_scope) == (
        "RoleGroup",
        "CustomRecipientScope",
        SCOPE,
    )
    _, errors = lab.run("Remove-ManagementScope", Identity=SCOPE, Confirm=False)
    assert "is used by role assignment" in errors[0].message  # a scope in use cannot go
    lab.ok("Set-ManagementRoleAssignment", Identity=a.name, Enabled=False)
    assert not lab.tenant.role_assignments[-1].enabled
    lab.ok("Remove-ManagementRoleAssignment", Identity=a.name, Confirm=False)
    assert all(x.name != a.name for x in lab.tenant.role_assignments)


def test_scope_filter_is_parsed_when_saved() -> None:
    lab = Lab("claendar-typo")
    _, errors = lab.run(
        "Set-ManagementScope", Identity=SCOPE, RecipientRestrictionFilter="MemberOfGroup -eq 'x' -and ("
    )
    assert errors[0].reason == "ParserException"
    dn = lab.tenant.group(GROUP).dn
    lab.ok("Set-ManagementScope", Identity=SCOPE, RecipientRestrictionFilter=f"MemberOfGroup -eq '{dn}'")
    assert lab.tenant.scope(SCOPE).recipient_filter == f"MemberOfGroup -eq '{dn}'"


def test_new_distribution_group() -> None:
    lab = Lab("unscoped")
    _, errors = lab.run("New-DistributionGroup", Name=GROUP, Type="Universal")
    assert errors[0].reason == "ParameterBindingException"
    [created] = lab.ok(
        "New-DistributionGroup",
        Name=GROUP,
        Type="Security",
        MemberJoinRestriction="Closed",
        MemberDepartRestriction="Closed",
    )
    assert created.to_string == GROUP
    group = lab.tenant.group(GROUP)
    assert group is not None
    assert group.recipient_type_details == "MailUniversalSecurityGroup"
    assert group.managed_by == (lab.tenant.resolve("Administrator").dn,)
    assert len({o.sid for o in (*lab.tenant.recipients, *lab.tenant.groups, *lab.tenant.role_groups)}) == (
        len(lab.tenant.recipients) + len(lab.tenant.groups) + len(lab.tenant.role_groups)
    )
    _, errors = lab.run("New-DistributionGroup", Name=GROUP, Type="Security")
    assert errors[0].reason == "ADObjectAlreadyExistsException"
    lab.ok("Set-DistributionGroup", Identity=GROUP, HiddenFromAddressListsEnabled=True)
    assert lab.tenant.group(GROUP).hidden_from_address_lists


def test_ews_follows_a_committed_tenant() -> None:
    with LabServer("second-path") as server:
        assert server.authorizer.decide("svcServiceAccount", "ceo@contoso.com").decision is Decision.ALLOWED
        host = CmdletHost(server.current_tenant, commit=server.commit)
        call = CommandCall(
            "Remove-RoleGroupMember",
            False,
            [("Identity", "Legacy Sync Admins"), ("Member", "svcServiceAccount@contoso.com"), ("Confirm", False)],
        )
        assert [e for e in host.run("Administrator", [[call]]) if isinstance(e, ErrorSpec)] == []
        assert (
            server.ews.authorizer.decide("svcServiceAccount", "ceo@contoso.com").decision
            is Decision.IMPERSONATE_USER_DENIED
        )
        assert server.ews.tenant is server.current_tenant()


@pytest.mark.parametrize("scenario", ["account-disabled"])
def test_set_user_stands_in_for_enable_adaccount(scenario: str) -> None:
    lab = Lab(scenario)
    lab.ok("Set-User", Identity="svcServiceAccount", AccountDisabled=False)
    assert not lab.tenant.resolve_recipient("svcServiceAccount").account_disabled
