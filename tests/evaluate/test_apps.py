"""EXA070-EXA075 and the shared checks for an Exchange Online app, on snapshots built here (one change each).

The compliant Exchange Online snapshot (tests/evaluate/app_snapshot.py) is the seed's compliant snapshot moved to
RBAC for Applications.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.evaluate import ORDER, evaluate
from audit.evaluate.checks import APP_CHECKS, CHECKS
from audit.findings import Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import (
    EntraServicePrincipal,
    ProbeOutcome,
    ServicePrincipal,
    Snapshot,
)
from tests.evaluate.app_snapshot import (
    APP_ID,
    AU_ID,
    EXO,
    GRAPH,
    MEMBERS,
    NOW,
    ROLE,
    ROOT,
    SCOPE,
    SP_ID,
    _group_like,
    aap,
    app_assignment,
    au_snapshot,
    by_id,
    grant,
    replace_calls,
    row,
    run,
    statuses,
    with_policy,
)

# --- the compliant app ----------------------------------------------------------------------------------------


def test_compliant_app_passes_every_check_that_applies(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    findings = evaluate(exo_policy, online, NOW)
    assert [f.check_id for f in findings] == list(ORDER)
    assert statuses(findings) == {"EXA014": "SKIP", "EXA073": "SKIP"}, [
        f"{f.check_id} {f.status} {f.message}" for f in findings if f.status is not Status.PASS
    ]
    found = by_id(findings)
    assert "cannot be members of a role group" in found["EXA014"].message
    assert found["EXA051"].expected == "every canary refused with 403 ErrorAccessDenied"


def test_service_account_policy_gets_no_app_checks(online: Snapshot) -> None:
    findings = evaluate(load_policy(ROOT / "policies" / "callpro.yaml"), online, NOW)
    assert not {f.check_id for f in findings} & APP_CHECKS


def test_a_waiver_of_an_app_check_in_a_service_account_policy_waives_nothing(tmp_path: Path, online: Snapshot) -> None:
    text = (ROOT / "policies" / "callpro.yaml").read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(text.replace("waivers: []", "waivers: [{check: EXA074, reason: x, expires: 2027-01-01}]"))
    expired = by_id(evaluate(load_policy(path), online, NOW))["EXA000"]
    assert expired.status is Status.FAIL
    assert "applies only to an app principal" in expired.message


def test_every_app_check_fails_in_this_file() -> None:
    # Kept honest by the tests below: each app check has at least one FAIL case here.
    source = "".join(
        (Path(__file__).parent / name).read_text(encoding="utf-8")
        for name in ("test_apps.py", "test_apps_behaviour.py")
    )
    for check_id in sorted(APP_CHECKS):
        assert f'["{check_id}"].status is Status.FAIL' in source, check_id
        assert CHECKS[check_id].needs or check_id == "EXA000"


# --- EXA070: the service principal ----------------------------------------------------------------------------


def test_exa070_pointer_made_with_the_app_id_as_object_id(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    wrong = (ServicePrincipal("CallPro CalendarSync", APP_ID, APP_ID, identity=APP_ID),)
    found = run(exo_policy, dataclasses.replace(online, service_principals=wrong))
    assert found["EXA070"].status is Status.FAIL
    assert "ObjectId/AppId confusion" in found["EXA070"].message
    assert f"New-ServicePrincipal -AppId '{APP_ID}' -ObjectId '{SP_ID}'" in found["EXA070"].remediation


def test_exa070_no_exchange_pointer(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(exo_policy, dataclasses.replace(online, service_principals=()))
    assert found["EXA070"].status is Status.FAIL
    assert "no service principal pointer" in found["EXA070"].message


def test_exa070_policy_names_the_app_registration_object(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    entra = (EntraServicePrincipal(other, APP_ID, "CallPro CalendarSync", True),)
    found = run(exo_policy, dataclasses.replace(online, entra_service_principals=entra))
    assert found["EXA070"].status is Status.FAIL
    assert f"Set principal.app.servicePrincipalId to {other}" in found["EXA070"].remediation


def test_exa070_disabled_or_missing_in_entra(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    disabled = (EntraServicePrincipal(SP_ID, APP_ID, "CallPro CalendarSync", False),)
    assert (
        run(exo_policy, dataclasses.replace(online, entra_service_principals=disabled))["EXA070"].status is Status.FAIL
    )
    missing = run(exo_policy, dataclasses.replace(online, entra_service_principals=()))["EXA070"]
    assert missing.status is Status.FAIL
    assert "New-MgServicePrincipal" in missing.remediation


def test_exa070_error_when_graph_was_not_read(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(exo_policy, replace_calls(online, "Graph:servicePrincipal", ok=False))
    assert found["EXA070"].status is Status.ERROR
    assert found["EXA074"].status is Status.ERROR


# --- EXA071: Application roles by what they grant --------------------------------------------------------------


def test_exa071_composite_role_is_judged_by_its_granted_permissions(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    full = app_assignment("Application Exchange Full Access")
    bundle = ("Mail.ReadWrite", "Mail.Send", "MailboxSettings.ReadWrite", "Calendars.ReadWrite", "Contacts.ReadWrite")
    rows = (*online.authorizations, row(None, None, "Application Exchange Full Access", granted_permissions=bundle))
    assignments = (*(a for a in online.role_assignments if a.role != ROLE), full)
    found = run(exo_policy, dataclasses.replace(online, role_assignments=assignments, authorizations=rows))
    exa071 = found["EXA071"]
    assert exa071.status is Status.FAIL
    assert "Mail.Send" in exa071.message
    assert "Remove-ManagementRoleAssignment -Identity 'Application Exchange Full Access-" in exa071.remediation
    assert "Calendars.ReadWrite" not in exa071.message.split("beyond the policy's:")[1]


def test_exa071_missing_role(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    read_only = app_assignment("Application Calendars.Read")
    assignments = (*(a for a in online.role_assignments if a.role != ROLE), read_only)
    exa071 = run(exo_policy, dataclasses.replace(online, role_assignments=assignments))["EXA071"]
    assert exa071.status is Status.FAIL
    assert "is not granted" in exa071.message
    assert f"-Role '{ROLE}' -CustomResourceScope '{SCOPE}'" in exa071.remediation


def test_exa071_unknown_role_without_a_row_is_error(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    assignments = (*online.role_assignments, app_assignment("Application Future.Thing"))
    found = run(exo_policy, dataclasses.replace(online, role_assignments=assignments))
    assert found["EXA071"].status is Status.FAIL  # an extra role is a finding whatever it grants
    # ...but when it is the only difference and its permissions are unknown, the verdict says so
    assert "unknown" in found["EXA071"].message


def test_exa071_unknown_expected_role_held_alone_is_error(tmp_path: Path, online: Snapshot) -> None:
    exo_policy = with_policy(tmp_path, "otherRolesAllowed: []", "otherRolesAllowed: [Application Future.Thing]")
    assignments = (*online.role_assignments, app_assignment("Application Future.Thing"))
    found = run(exo_policy, dataclasses.replace(online, role_assignments=assignments))
    assert found["EXA071"].status is Status.ERROR


# --- EXA072: scoped assignments --------------------------------------------------------------------------------


def test_exa072_unscoped_assignment_reaches_every_mailbox(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    wide = app_assignment(custom_resource_scope=None, recipient_write_scope="Organization")
    assignments = (*(a for a in online.role_assignments if a.role != ROLE), wide)
    found = run(exo_policy, dataclasses.replace(online, role_assignments=assignments))
    assert found["EXA072"].status is Status.FAIL
    assert found["EXA072"].severity is Severity.CRITICAL
    assert f"-CustomResourceScope '{SCOPE}'" in found["EXA072"].remediation
    assert found["EXA012"].status is Status.FAIL
    assert found["EXA040"].status is Status.FAIL


def test_exa072_org_wide_authorization_row(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    extra = app_assignment("Application Calendars.Read", custom_resource_scope="Other")
    rows = (*online.authorizations, row(None, None, "Application Calendars.Read", scope_type="Organization"))
    found = run(
        exo_policy,
        dataclasses.replace(online, role_assignments=(*online.role_assignments, extra), authorizations=rows),
    )
    assert found["EXA072"].status is Status.FAIL


# --- EXA073: administrative units ------------------------------------------------------------------------------


def test_exa073_administrative_unit_holds_the_expected_mailboxes(au_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(au_policy, au_snapshot(online, ("Ad.Viseur@contoso.com", "bea.buiten@contoso.com")))
    assert found["EXA073"].status is Status.PASS, found["EXA073"].message
    assert found["EXA012"].status is Status.PASS, found["EXA012"].message
    assert found["EXA040"].status is Status.PASS, found["EXA040"].message
    assert found["EXA020"].status is Status.SKIP


def test_exa073_extra_member_is_critical(au_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(au_policy, au_snapshot(online, ("ad.viseur@contoso.com", "bea.buiten@contoso.com", "ceo@contoso.com")))
    assert found["EXA073"].status is Status.FAIL
    assert found["EXA073"].severity is Severity.CRITICAL
    assert "Remove-MgDirectoryAdministrativeUnitMemberByRef" in found["EXA073"].remediation
    assert found["EXA040"].status is Status.FAIL


def test_exa073_members_not_read_is_error(au_policy: LoadedPolicy, online: Snapshot) -> None:
    snap = dataclasses.replace(au_snapshot(online, ()), administrative_units=())
    found = run(au_policy, snap)
    assert found["EXA073"].status is Status.ERROR
    assert found["EXA040"].status is Status.ERROR
    failed = replace_calls(au_snapshot(online, MEMBERS[:2]), "Graph:administrativeUnitMembers", ok=False)
    assert run(au_policy, failed)["EXA073"].status is Status.ERROR


def test_exa012_au_policy_with_a_management_scope_assignment(au_policy: LoadedPolicy, online: Snapshot) -> None:
    snap = dataclasses.replace(au_snapshot(online, MEMBERS[:2]), role_assignments=online.role_assignments)
    found = run(au_policy, snap)
    assert found["EXA012"].status is Status.FAIL
    assert f"-RecipientAdministrativeUnitScope '{AU_ID}'" in found["EXA012"].remediation


# --- EXA074: the Entra union -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("permission", "resource", "name"),
    [
        ("Calendars.ReadWrite", GRAPH, "Microsoft Graph"),
        ("Calendars.ReadBasic.All", GRAPH, "Microsoft Graph"),
        ("full_access_as_app", EXO, "Office 365 Exchange Online"),
        ("Mail.Read", EXO, "Office 365 Exchange Online"),
    ],
)
def test_exa074_entra_permission_reaching_mailboxes_is_critical(
    exo_policy: LoadedPolicy, online: Snapshot, permission: str, resource: str, name: str
) -> None:
    found = run(exo_policy, dataclasses.replace(online, app_role_grants=(grant(permission, resource, name),)))
    exa074 = found["EXA074"]
    assert exa074.status is Status.FAIL
    assert exa074.severity is Severity.CRITICAL
    assert "union" in exa074.message
    assert f"Remove-MgServicePrincipalAppRoleAssignment -ServicePrincipalId '{SP_ID}'" in exa074.remediation


def test_the_union_trap(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # Exchange is scoped exactly right and Test-ServicePrincipalAuthorization agrees; one Entra consent still
    # opens the CEO's calendar. Even right after a change this is a breach, not propagation: the grant explains it.
    recent = tuple(
        dataclasses.replace(a, when_changed="2026-11-26T10:40:00Z") if a.role == ROLE else a
        for a in online.role_assignments
    )
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.ALLOWED, response_code="200") if p.expect == "deny" else p
        for p in online.probes
    )
    snap = dataclasses.replace(
        online, app_role_grants=(grant("Calendars.ReadWrite"),), probes=probes, role_assignments=recent
    )
    found = run(exo_policy, snap)
    assert found["EXA074"].status is Status.FAIL
    assert found["EXA051"].status is Status.FAIL
    assert found["EXA051"].severity is Severity.CRITICAL
    assert found["EXA051"].message.startswith("The app CAN reach 2 mailbox(es)")
    assert "(EXA074)" in found["EXA051"].message
    assert found["EXA051"].remediation.startswith("# Remove the app's Entra application permission first (EXA074)")
    for check_id in ("EXA012", "EXA040", "EXA072", "EXA076"):
        assert found[check_id].status is Status.PASS, check_id  # Exchange alone looks perfect


def test_exa074_allowed_and_not_allowed_other_permissions(tmp_path: Path, online: Snapshot) -> None:
    exo_policy = with_policy(
        tmp_path, "allowedAppRoles: []", "allowedAppRoles: [{resource: Microsoft Graph, permission: User.Read.All}]"
    )
    allowed = run(exo_policy, dataclasses.replace(online, app_role_grants=(grant("User.Read.All"),)))["EXA074"]
    assert allowed.status is Status.PASS
    other = run(exo_policy, dataclasses.replace(online, app_role_grants=(grant("Group.Read.All"),)))["EXA074"]
    assert other.status is Status.FAIL
    assert other.severity is Severity.MEDIUM


def test_exa074_unresolved_app_role_is_error(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(exo_policy, dataclasses.replace(online, app_role_grants=(grant(""),)))
    assert found["EXA074"].status is Status.ERROR


def test_exa074_default_access_grants_nothing(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    default = dataclasses.replace(grant(""), app_role_id="00000000-0000-0000-0000-000000000000")
    assert run(exo_policy, dataclasses.replace(online, app_role_grants=(default,)))["EXA074"].status is Status.PASS


def test_exa074_grants_of_other_apps_are_not_this_apps(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    other = dataclasses.replace(grant("Calendars.ReadWrite"), principal_id="99999999-9999-4999-8999-999999999999")
    assert run(exo_policy, dataclasses.replace(online, app_role_grants=(other,)))["EXA074"].status is Status.PASS


# --- EXA075: Application Access Policies -----------------------------------------------------------------------


def test_exa075_policy_wider_than_the_scope(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    snap = dataclasses.replace(
        online, application_access_policies=(aap("All Staff"),), app_role_grants=(grant("Calendars.Read"),)
    )
    found = run(exo_policy, snap)
    assert found["EXA075"].status is Status.FAIL
    assert "Remove-ApplicationAccessPolicy" in found["EXA075"].remediation
    assert "confines it" in found["EXA074"].message


def test_exa075_policy_within_the_scope_or_confining_nothing(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    group = "SecurityGroup-CallPro Calendar Access"
    within = dataclasses.replace(
        online, application_access_policies=(aap(group),), app_role_grants=(grant("Calendars.Read"),)
    )
    assert run(exo_policy, within)["EXA075"].status is Status.PASS
    idle = dataclasses.replace(online, application_access_policies=(aap("All Staff"),))
    assert run(exo_policy, idle)["EXA075"].status is Status.PASS


def test_exa075_scope_group_not_read_is_error(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    snap = dataclasses.replace(
        online, application_access_policies=(aap("Nobody Knows"),), app_role_grants=(grant("Calendars.Read"),)
    )
    assert run(exo_policy, snap)["EXA075"].status is Status.ERROR


# --- more branches ----------------------------------------------------------------------------------------------


def test_exa073_missing_member_is_high(au_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(au_policy, au_snapshot(online, ("ad.viseur@contoso.com",)))
    assert found["EXA073"].status is Status.FAIL
    assert found["EXA073"].severity is Severity.HIGH
    assert "New-MgDirectoryAdministrativeUnitMemberByRef" in found["EXA073"].remediation


def test_exa070_pointer_to_another_object(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    pointers = (
        ServicePrincipal("CallPro CalendarSync", APP_ID, other, identity=other),
        ServicePrincipal("CallPro copy", "99999999-9999-4999-8999-999999999999", SP_ID, identity=SP_ID),
    )
    exa070 = run(exo_policy, dataclasses.replace(online, service_principals=pointers))["EXA070"]
    assert exa070.status is Status.FAIL
    assert f"its ObjectId {other} is not the service principal's" in exa070.message
    assert "its AppId 99999999" in exa070.message
    assert "2 Exchange pointers name the app" in exa070.message


def test_app_checks_without_the_app_in_exchange_fail(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # No pointer and no assignment: the principal cannot be found in Exchange at all (the exo-legacy state).
    snap = dataclasses.replace(
        online,
        service_principals=(),
        role_assignments=tuple(a for a in online.role_assignments if a.role != ROLE),
    )
    found = run(exo_policy, snap)
    for check_id in ("EXA001", "EXA070", "EXA071", "EXA072"):
        assert found[check_id].status is Status.FAIL, check_id
    assert "(see EXA001, EXA070)" in found["EXA071"].message


def test_exa075_follows_nested_groups(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    group = next(g for g in online.groups if g.name == "SecurityGroup-CallPro Calendar Access")
    ceo = next(r for r in online.recipients if r.primary_smtp_address == "ceo@contoso.com")
    inner = _group_like(group, "Inner", (ceo.identity,))
    outer = _group_like(group, "Outer", (inner.identity,))
    snap = dataclasses.replace(
        online,
        groups=(*online.groups, inner, outer),
        application_access_policies=(aap("Outer"),),
        app_role_grants=(grant("Calendars.Read"),),
    )
    exa075 = run(exo_policy, snap)["EXA075"]
    assert exa075.status is Status.FAIL
    assert "ceo@contoso.com" in exa075.message
