"""How the lab shows exclusive scopes, roots and OU-scoped assignments over Get-ManagementScope and
Get-ManagementRoleAssignment, and how New-/Set-ManagementScope take -RecipientRoot (either form, stored as a DN).

Get-ManagementRoleAssignment's object (ExchangeRoleAssignmentPresentation) has one CustomRecipientWriteScope for a
custom scope, an exclusive scope and an OU (DECOMP ExchangeRoleAssignmentPresentation and its schema); an ADObjectId
of an OU prints as its canonical name (exchange-outputs.md section 4).
"""

from __future__ import annotations

from typing import Any

from audit.lab.cmdlets import CmdletHost
from audit.lab.cmdlets.stream import CommandCall, ErrorSpec, Output
from audit.lab.server import scenario_path
from audit.lab.tenant import Tenant, load_tenant

SCOPE = "Scope-CallPro Calendar Access"


class Lab:
    def __init__(self, scenario: str) -> None:
        self.tenant = load_tenant(scenario_path(scenario)).with_generated_passwords()
        self.host = CmdletHost(lambda: self.tenant, commit=self._commit)

    def _commit(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def run(self, cmdlet: str, user: str = "Administrator", **params: Any) -> tuple[list[Any], list[ErrorSpec]]:
        out: list[Any] = []
        errors: list[ErrorSpec] = []
        for emission in self.host.run(user, [[CommandCall(cmdlet, False, list(params.items()))]]):
            if isinstance(emission, Output):
                out.append(emission.obj)
            elif isinstance(emission, ErrorSpec):
                errors.append(emission)
        return out, errors


def test_an_exclusive_assignment_shows_its_scope_and_exclusive_recipient_scope() -> None:
    lab = Lab("exclusive-vip")
    out, errors = lab.run("Get-ManagementRoleAssignment", Identity="Mail Recipients-VIP Mailbox Admins")
    assert errors == []
    assert out[0].get("RecipientWriteScope") == "ExclusiveRecipientScope"
    assert out[0].get("CustomRecipientWriteScope") == "VIP Mailboxes"
    scopes, _ = lab.run("Get-ManagementScope", Exclusive=True)
    assert [s.get("Name") for s in scopes] == ["VIP Mailboxes"]


def test_an_ou_scoped_assignment_shows_the_ou_canonical_in_custom_recipient_write_scope() -> None:
    out, _ = Lab("ou-scoped-assignment").run(
        "Get-ManagementRoleAssignment", Identity="ApplicationImpersonation-CallPro Calendar Access"
    )
    assert out[0].get("RecipientWriteScope") == "OU"
    assert out[0].get("CustomRecipientWriteScope") == "contoso.com/Field Sales"
    assert all(name != "RecipientOrganizationUnitScope" for name, _ in out[0].props)


def test_get_management_scope_shows_the_root_canonical_whatever_form_it_was_given_in() -> None:
    for scenario, shown in (("recipient-root", "contoso.com/Field Sales"), ("recipient-root-dn", "contoso.com/Staff")):
        out, _ = Lab(scenario).run("Get-ManagementScope", Identity=SCOPE)
        assert out[0].get("RecipientRoot") == shown


def test_new_and_set_management_scope_take_a_dn_or_a_canonical_root() -> None:
    lab = Lab("compliant")
    _, errors = lab.run(
        "New-ManagementScope",
        Name="Rooted",
        RecipientRestrictionFilter="Alias -like '*'",
        RecipientRoot="contoso.com/Users",
    )
    assert errors == []
    assert lab.tenant.scope("Rooted").recipient_root == "CN=Users,DC=contoso,DC=com"  # type: ignore[union-attr]
    _, errors = lab.run("Set-ManagementScope", Identity="Rooted", RecipientRoot="OU=Groups, DC=contoso, DC=com")
    assert errors == []
    assert lab.tenant.scope("Rooted").recipient_root == "OU=Groups,DC=contoso,DC=com"  # type: ignore[union-attr]
    out, _ = lab.run("Get-ManagementScope", Identity="Rooted")
    assert out[0].get("RecipientRoot") == "contoso.com/Groups"
    _, errors = lab.run("Set-ManagementScope", Identity="Rooted", RecipientRoot="fabrikam.com/Users")
    assert [e.reason for e in errors] == ["ManagementObjectNotFoundException"]
    assert lab.tenant.scope("Rooted").recipient_root == "OU=Groups,DC=contoso,DC=com"  # type: ignore[union-attr]


def test_exclusive_and_custom_scope_filters_follow_the_write_scope() -> None:
    lab = Lab("exclusive-vip")
    out, _ = lab.run("Get-ManagementRoleAssignment", Exclusive=True)
    assert [o.get("Name") for o in out] == ["Mail Recipients-VIP Mailbox Admins"]
    # -CustomRecipientWriteScope returns regular assignments only (RecipientWriteScope CustomRecipientScope).
    out, _ = lab.run("Get-ManagementRoleAssignment", CustomRecipientWriteScope="VIP Mailboxes")
    assert out == []
    out, _ = lab.run("Get-ManagementRoleAssignment", CustomRecipientWriteScope=SCOPE)
    assert [o.get("Name") for o in out] == ["ApplicationImpersonation-CallPro Calendar Access"]


def test_set_custom_recipient_write_scope_overwrites_an_ou_scope() -> None:
    lab = Lab("ou-scoped-assignment")
    name = "ApplicationImpersonation-CallPro Calendar Access"
    _, errors = lab.run("Set-ManagementRoleAssignment", Identity=name, CustomRecipientWriteScope=SCOPE)
    assert errors == []
    changed = next(a for a in lab.tenant.role_assignments if a.name == name)
    assert (changed.recipient_write_scope, changed.custom_recipient_write_scope, changed.recipient_ou_scope) == (
        "CustomRecipientScope",
        SCOPE,
        None,
    )
