"""Parameter sets enforced as Exchange's PowerShell binder does: refused combinations, missing mandatory parameters.

Each set is from the cmdlet's OPD page (MicrosoftDocs/office-docs-powershell ExchangePowerShell/<Cmdlet>.md);
the error record is PowerShell's ParameterBindingException (InvalidArgument, "<ErrorId>,<.NET class>").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool

from audit.lab.cmdlets import CommandCall, Output, run_pipeline
from audit.lab.cmdlets.registry import _CMDLETS
from audit.lab.cmdlets.stream import ErrorSpec
from audit.lab.tenant import Tenant

from .conftest import PSLab

AMBIGUOUS = "Parameter set cannot be resolved using the specified named parameters."
ASSIGNMENT = "ApplicationImpersonation-CallPro Calendar Access"
GROUP_DN = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"


def _emit(tenant: Tenant, user: str, cmdlet: str, **params: Any) -> list[Any]:
    call = CommandCall(cmdlet, False, list(params.items()))  # names as pypsrp sends them, without "-"
    return list(run_pipeline(tenant, user, [[call]]))


def _binding_error(emissions: list[Any]) -> ErrorSpec:
    [error] = emissions
    assert isinstance(error, ErrorSpec)
    assert error.terminating
    assert error.reason == "ParameterBindingException"
    assert error.exception_types[0] == "System.Management.Automation.ParameterBindingException"
    assert error.category == 5  # InvalidArgument
    return error


@pytest.mark.parametrize(
    ("cmdlet", "params", "error_id", "message"),
    [
        # "If the RoleAssignee parameter is used, you can't use the Identity parameter"; -Role is RoleAssignee-only
        ("Get-ManagementRoleAssignment", {"Identity": ASSIGNMENT, "RoleAssignee": "svcServiceAccount"},
         "AmbiguousParameterSet", AMBIGUOUS),
        ("Get-ManagementRoleAssignment", {"Identity": ASSIGNMENT, "Role": "ApplicationImpersonation"},
         "AmbiguousParameterSet", AMBIGUOUS),
        ("Get-ManagementRoleAssignment", {"Identity": ASSIGNMENT, "AssignmentMethod": "RoleGroup"},
         "AmbiguousParameterSet", AMBIGUOUS),
        # -GetChildren/-Recurse need -Identity and exclude each other and -Cmdlet
        ("Get-ManagementRole", {"Recurse": True}, "MissingMandatoryParameter",
         "Cannot process command because of one or more missing mandatory parameters: Identity."),
        ("Get-ManagementRole", {"Identity": "Mail Recipients", "Recurse": True, "GetChildren": True},
         "AmbiguousParameterSet", AMBIGUOUS),
        ("Get-ManagementRole", {"Identity": "Mail Recipients", "Recurse": True, "Cmdlet": "Get-Mailbox"},
         "AmbiguousParameterSet", AMBIGUOUS),
        ("Get-RoleGroupMember", {}, "MissingMandatoryParameter",
         "Cannot process command because of one or more missing mandatory parameters: Identity."),
        ("Get-DistributionGroupMember", {"ResultSize": "Unlimited"}, "MissingMandatoryParameter",
         "Cannot process command because of one or more missing mandatory parameters: Identity."),
    ],
)  # fmt: skip
def test_read_cmdlets_refuse_what_exchange_refuses(
    tenant: Tenant, cmdlet: str, params: dict[str, Any], error_id: str, message: str
) -> None:
    error = _binding_error(_emit(tenant, "exaudit-reader", cmdlet, **params))
    assert error.message == message
    assert error.fully_qualified_error_id == f"{error_id},{_CMDLETS[cmdlet.lower()].task}"
    assert error.activity == cmdlet


@pytest.mark.parametrize(
    ("cmdlet", "params", "error_id"),
    [
        ("New-ManagementRoleAssignment", {"Role": "ApplicationImpersonation", "User": "a", "SecurityGroup": "b"},
         "AmbiguousParameterSet"),
        ("New-ManagementRoleAssignment", {"Role": "ApplicationImpersonation"}, "AmbiguousParameterSet"),
        ("New-ManagementRoleAssignment", {"User": "svcServiceAccount"}, "MissingMandatoryParameter"),
        ("New-ManagementRoleAssignment", {"Role": "ApplicationImpersonation", "User": "svcServiceAccount",
                                          "CustomResourceScope": "Scope-CallPro Calendar Access"},
         "AmbiguousParameterSet"),  # -CustomResourceScope is only in the App set
        ("Set-ManagementRoleAssignment", {"Enabled": False}, "MissingMandatoryParameter"),
        ("Set-ManagementRoleAssignment", {"Identity": ASSIGNMENT, "CustomRecipientWriteScope": "x",
                                          "RecipientAdministrativeUnitScope": "y"}, "AmbiguousParameterSet"),
        ("New-ManagementScope", {"Name": "x"}, "AmbiguousParameterSet"),
        ("New-ManagementScope", {"RecipientRestrictionFilter": "Department -eq 'x'"}, "MissingMandatoryParameter"),
        ("Remove-ManagementScope", {"Confirm": False}, "MissingMandatoryParameter"),
        ("Add-RoleGroupMember", {"Member": "svcServiceAccount"}, "MissingMandatoryParameter"),
        ("Set-DistributionGroup", {"HiddenFromAddressListsEnabled": True}, "MissingMandatoryParameter"),
        ("New-DistributionGroup", {"Type": "Security"}, "MissingMandatoryParameter"),
    ],
)  # fmt: skip
def test_write_cmdlets_refuse_what_exchange_refuses(
    tenant: Tenant, cmdlet: str, params: dict[str, Any], error_id: str
) -> None:
    before = tenant.role_assignments, tenant.scopes, tenant.groups
    error = _binding_error(_emit(tenant, "Administrator", cmdlet, **params))
    assert error.fully_qualified_error_id.startswith(error_id + ",Microsoft.Exchange.Management.")
    assert (tenant.role_assignments, tenant.scopes, tenant.groups) == before  # nothing was written


@pytest.mark.parametrize(
    ("cmdlet", "params"),
    [
        ("Get-ManagementRoleAssignment", {}),
        ("Get-ManagementRoleAssignment", {"Identity": ASSIGNMENT, "GetEffectiveUsers": True, "Enabled": True}),
        ("Get-ManagementRoleAssignment", {"Role": "ApplicationImpersonation", "Delegating": False}),
        ("Get-ManagementRoleAssignment", {"RoleAssignee": "svcServiceAccount", "Role": "ApplicationImpersonation"}),
        ("Get-ManagementRole", {}),
        ("Get-ManagementRole", {"Identity": "ApplicationImpersonation"}),
        ("Get-ManagementRole", {"Identity": "ApplicationImpersonation", "Recurse": True}),
        ("Get-RoleGroupMember", {"Identity": "CallPro Calendar Access"}),
        ("Get-Recipient", {"ResultSize": "Unlimited", "Filter": f"MemberOfGroup -eq '{GROUP_DN}'"}),
    ],
)
def test_documented_combinations_bind(tenant: Tenant, cmdlet: str, params: dict[str, Any]) -> None:
    emissions = _emit(tenant, "exaudit-reader", cmdlet, **params)
    assert emissions
    assert all(isinstance(e, Output) for e in emissions), emissions


def _rows(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    emissions = _emit(tenant, "exaudit-reader", "Get-ManagementRoleAssignment", **params)
    assert all(isinstance(e, Output) for e in emissions), emissions
    return [dict(e.obj.props) for e in emissions]


def test_assignment_method_filters_and_rows_say_how(tenant: Tenant) -> None:
    """-AssignmentMethod RoleGroup returns the service account's role-group assignment as a RoleGroup row."""
    rows = _rows(tenant, RoleAssignee="svcServiceAccount", AssignmentMethod="RoleGroup")
    assert [r["Name"] for r in rows] == [ASSIGNMENT]
    assert [r["AssignmentMethod"] for r in rows] == ["RoleGroup"]
    assert rows[0]["EffectiveUserName"] == "svcServiceAccount"
    assert _rows(tenant, RoleAssignee="svcServiceAccount", AssignmentMethod="Direct") == []
    assert {r["AssignmentMethod"] for r in _rows(tenant, RoleAssignee="svcServiceAccount")} == {"RoleGroup"}


def test_assignment_method_needs_a_role_assignee(tenant: Tenant) -> None:
    # "You must specify a value with the RoleAssignee parameter if you use the AssignmentMethod parameter"
    [error] = _emit(tenant, "exaudit-reader", "Get-ManagementRoleAssignment", AssignmentMethod="RoleGroup")
    assert isinstance(error, ErrorSpec)
    assert error.terminating


@pytest.mark.parametrize(
    ("written", "members"),
    [
        (GROUP_DN, 6),
        ("cn=securitygroup-callpro calendar access, ou=groups, dc=contoso, dc=com", 6),  # RFC 4514, any case
        ("contoso.com/Groups/SecurityGroup-CallPro Calendar Access", 6),  # the canonical name is accepted too
        ("SecurityGroup-CallPro Calendar Access", 0),  # a name "doesn't match anything"
        ("SecurityGroup-CallProCalendarAccess@contoso.com", 0),  # nor does an address
    ],
)
def test_get_recipient_member_of_group_needs_a_dn(tenant: Tenant, written: str, members: int) -> None:
    """OPD filter-properties.md#memberofgroup: the DN or canonical DN of the group, nothing else."""
    emissions = _emit(tenant, "exaudit-reader", "Get-Recipient", Filter=f"MemberOfGroup -eq '{written}'")
    assert all(isinstance(e, Output) for e in emissions)
    assert len(emissions) == members


# -- the same over the wire, with real pypsrp -----------------------------------------------------------------


@pytest.fixture
def pool(lab: PSLab) -> Iterator[RunspacePool]:
    with RunspacePool(lab.wsman(), configuration_name="Microsoft.Exchange") as opened:
        yield opened


def test_pypsrp_sees_a_terminating_parameter_binding_error(pool: RunspacePool) -> None:
    ps = PowerShell(pool)
    ps.add_cmdlet("Get-ManagementRoleAssignment")
    ps.add_parameter("Identity", ASSIGNMENT)
    ps.add_parameter("RoleAssignee", "svcServiceAccount")
    ps.invoke()
    assert ps.state == PSInvocationState.FAILED
    [error] = ps.streams.error
    assert str(error) == AMBIGUOUS
    assert error.reason == "ParameterBindingException"
    assert error.exception.types[0] == "System.Management.Automation.ParameterBindingException"
    assert error.fq_error == "AmbiguousParameterSet,Microsoft.Exchange.Management.RbacTasks.GetManagementRoleAssignment"


def test_pypsrp_the_auditors_calls_bind(pool: RunspacePool) -> None:
    """The collection plan's calls (audit.collect.collector.PLAN) all bind under the enforced sets."""
    from audit.collect.collector import PLAN

    for cmdlet, params in PLAN:
        ps = PowerShell(pool)
        ps.add_cmdlet(cmdlet)
        for name, value in params.items():
            ps.add_parameter(name, value)
        ps.invoke()
        assert ps.state == PSInvocationState.COMPLETED, cmdlet
        assert not ps.had_errors, cmdlet


def test_every_binding_error_names_the_cmdlet_class(tenant: Tenant) -> None:
    """A server-side binding error names the compiled cmdlet's .NET class, like the set errors above."""
    error = _binding_error(_emit(tenant, "exaudit-reader", "Get-Mailbox", NoSuchParameter="x"))
    assert (
        error.fully_qualified_error_id
        == "NamedParameterNotFound,Microsoft.Exchange.Management.RecipientTasks.GetMailbox"
    )
    assert error.message == "A parameter cannot be found that matches parameter name 'NoSuchParameter'."
