"""Get-ManagementRoleAssignment and Get-ManagementScope as Exchange shows scopes, mapped into the snapshot.

ExchangeRoleAssignmentPresentation has one CustomRecipientWriteScope (an ADObjectId) for a custom scope, an
exclusive scope and an OU; RecipientWriteScope tells which (DECOMP ExchangeRoleAssignmentPresentation and its
schema; the RecipientOrganizationUnitScope getter exists only on ECP's RoleAssignmentObjectResolverRow).
"""

from __future__ import annotations

from typing import Any

from audit.collect import mapping


def row(write_scope: str, custom: str | None) -> dict[str, Any]:
    return {
        "Name": "A",
        "Identity": "A",
        "Role": "ApplicationImpersonation",
        "RoleAssignee": "contoso.com/Users/svc",
        "RoleAssigneeName": "svc",
        "RoleAssigneeType": "User",
        "AssignmentMethod": "Direct",
        "RoleAssignmentDelegationType": "Regular",
        "Enabled": True,
        "RecipientWriteScope": write_scope,
        "CustomRecipientWriteScope": custom,
    }


def test_an_ou_scoped_assignment_reads_the_ou_from_custom_recipient_write_scope() -> None:
    (a,) = mapping.role_assignments([row("OU", "contoso.com/Field Sales")])
    assert (a.recipient_write_scope, a.recipient_ou_scope, a.custom_recipient_write_scope) == (
        "OU",
        "contoso.com/Field Sales",
        None,
    )


def test_custom_and_exclusive_scopes_stay_scope_names() -> None:
    custom, exclusive = mapping.role_assignments(
        [row("CustomRecipientScope", "S"), row("ExclusiveRecipientScope", "V")]
    )
    assert (custom.custom_recipient_write_scope, custom.recipient_ou_scope) == ("S", None)
    assert (exclusive.recipient_write_scope, exclusive.custom_recipient_write_scope) == ("ExclusiveRecipientScope", "V")


def test_a_scope_keeps_its_root_and_exclusive_flag() -> None:
    (s,) = mapping.management_scopes(
        [
            {
                "Name": "VIP",
                "ScopeRestrictionType": "RecipientScope",
                "Exclusive": True,
                "RecipientRoot": "contoso.com/Staff",
                "RecipientFilter": "CustomAttribute1 -eq 'VIP'",
            }
        ]
    )
    assert (s.exclusive, s.recipient_root) == (True, "contoso.com/Staff")
