"""EXA070-EXA078 and the shared checks for an Exchange Online app, on snapshots built here (one change each).

The compliant Exchange Online snapshot is the seed's compliant snapshot moved to RBAC for Applications: the same
group and scope, the CallPro app's service principal with 'Application Calendars.ReadWrite' scoped by
CustomResourceScope, no Entra app role, Test-ServicePrincipalAuthorization rows and Graph probes that agree.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate import ORDER, evaluate
from audit.evaluate.checks import APP_CHECKS, CHECKS
from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import (
    AdministrativeUnit,
    ApplicationAccessPolicy,
    AppRoleGrant,
    AuthorizationRow,
    CollectionCall,
    EntraServicePrincipal,
    Group,
    Organization,
    Probe,
    ProbeOutcome,
    RoleAssignment,
    ServicePrincipal,
    Snapshot,
    Target,
    User,
    load,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "snapshots"
POLICY = ROOT / "policies" / "callpro-exo.yaml"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # after the EWS phase-off (1 Oct 2026), before the end (1 Apr 2027)
APP_ID = "6233fba6-0198-4277-892f-9275bf728bcc"
SP_ID = "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91"
GRAPH = "00000003-0000-0000-c000-000000000000"
EXO = "00000002-0000-0ff1-ce00-000000000000"
SCOPE = "Scope-CallPro Calendar Access"
ROLE = "Application Calendars.ReadWrite"
MEMBERS = (
    "ad.viseur@contoso.com",
    "bea.buiten@contoso.com",
    "cor.veld@contoso.com",
    "dirk.dealer@contoso.com",
    "eva.expediteur@contoso.com",
    "fien.field@contoso.com",
)
CANARIES = ("ceo@contoso.com", "hr-shared@contoso.com")
AU_ID = "4d819ce9-9257-44a2-8e2b-1f0a3c5d7e90"
EXO_CALLS = (
    "Get-ServicePrincipal",
    "Get-ApplicationAccessPolicy",
    "Graph:servicePrincipal",
    "Graph:appRoleAssignments",
    "Graph:resourceAppRoles",
)


def app_assignment(role: str = ROLE, **kw: object) -> RoleAssignment:
    values: dict[str, object] = {
        "name": f"{role}-{SP_ID}",
        "identity": f"{role}-{SP_ID}",
        "role": role,
        "role_assignee": SP_ID,
        "role_assignee_name": SP_ID,
        "role_assignee_type": "ServicePrincipal",
        "assignment_method": "Direct",
        "delegation_type": "Regular",
        "enabled": True,
        "recipient_write_scope": "CustomRecipientScope",
        "custom_resource_scope": SCOPE,
        "when_changed": "2026-10-01T08:00:00Z",
    }
    values.update(kw)
    return RoleAssignment(**values)  # type: ignore[arg-type]


def row(resource: str | None, in_scope: bool | None, role: str = ROLE, **kw: object) -> AuthorizationRow:
    values: dict[str, object] = {
        "resource": resource,
        "role_name": role,
        "granted_permissions": (role.removeprefix("Application "),),
        "allowed_resource_scope": SCOPE,
        "scope_type": "CustomRecipientScope",
        "in_scope": in_scope,
        "raw_in_scope": "Not Run" if in_scope is None else str(in_scope),
    }
    values.update(kw)
    return AuthorizationRow(**values)  # type: ignore[arg-type]


def call(cmdlet: str, ok: bool = True, **parameters: str) -> CollectionCall:
    return CollectionCall(cmdlet, dict(parameters), ok, 1, 1.0, None if ok else f"{cmdlet} failed", None)


def grant(permission: str, resource: str = GRAPH, name: str = "Microsoft Graph") -> AppRoleGrant:
    return AppRoleGrant(
        resource_app_id=resource,
        resource_display_name=name,
        app_role_id="ef54d2bf-783f-4e0f-bca1-3210c0444d99",
        permission=permission,
        principal_id=SP_ID,
    )


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(POLICY)


@pytest.fixture(scope="module")
def online() -> Snapshot:
    seed, _ = load(DATA / "compliant.snapshot.json")
    assignments = tuple(
        a for a in seed.role_assignments if a.name != "ApplicationImpersonation-CallPro Calendar Access"
    )
    probes = tuple(
        dataclasses.replace(
            p,
            response_code="200" if p.expect == "allow" else "403 ErrorAccessDenied",
            outcome=ProbeOutcome.ALLOWED if p.expect == "allow" else ProbeOutcome.DENIED,
        )
        for p in seed.probes
    )
    return dataclasses.replace(
        seed,
        collected_at="2026-11-26T11:00:00Z",
        target=Target("exchange-online", "https://outlook.office365.com", "https://graph.microsoft.com", APP_ID),
        organization=Organization("contoso.onmicrosoft.com", "contoso", True, None, ()),
        role_assignments=(*assignments, app_assignment()),
        role_groups=tuple(rg for rg in seed.role_groups if rg.name != "CallPro Calendar Access"),
        service_principals=(ServicePrincipal("CallPro CalendarSync", APP_ID, SP_ID, identity=SP_ID, name=SP_ID),),
        entra_service_principals=(EntraServicePrincipal(SP_ID, APP_ID, "CallPro CalendarSync", True),),
        authorizations=(
            row(None, None),
            *(row(m, True) for m in MEMBERS),
            *(row(c, False) for c in CANARIES),
        ),
        probes=probes,
        calls=(
            *seed.calls,
            *(call(c) for c in EXO_CALLS),
            *(call("Test-ServicePrincipalAuthorization", Identity=SP_ID, Resource=m) for m in (*MEMBERS, *CANARIES)),
        ),
    )


def by_id(findings: tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.check_id: f for f in findings}


def statuses(findings: tuple[Finding, ...]) -> dict[str, str]:
    return {f.check_id: str(f.status) for f in findings if f.status is not Status.PASS}


def run(policy: LoadedPolicy, snapshot: Snapshot, now: datetime = NOW) -> dict[str, Finding]:
    return by_id(evaluate(policy, snapshot, now))


def with_policy(tmp_path: Path, old: str, new: str) -> LoadedPolicy:
    text = POLICY.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_policy(path)


def replace_calls(snapshot: Snapshot, cmdlet: str, ok: bool) -> Snapshot:
    calls = tuple(dataclasses.replace(c, ok=ok, error=None if ok else "HTTP 403") if c.cmdlet == cmdlet else c
                  for c in snapshot.calls)  # fmt: skip
    return dataclasses.replace(snapshot, calls=calls)


# --- the compliant app ----------------------------------------------------------------------------------------


def test_compliant_app_passes_every_check_that_applies(policy: LoadedPolicy, online: Snapshot) -> None:
    findings = evaluate(policy, online, NOW)
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
    source = Path(__file__).read_text(encoding="utf-8")
    for check_id in sorted(APP_CHECKS):
        assert f'["{check_id}"].status is Status.FAIL' in source, check_id
        assert CHECKS[check_id].needs or check_id == "EXA000"


# --- EXA070: the service principal ----------------------------------------------------------------------------


def test_exa070_pointer_made_with_the_app_id_as_object_id(policy: LoadedPolicy, online: Snapshot) -> None:
    wrong = (ServicePrincipal("CallPro CalendarSync", APP_ID, APP_ID, identity=APP_ID),)
    found = run(policy, dataclasses.replace(online, service_principals=wrong))
    assert found["EXA070"].status is Status.FAIL
    assert "ObjectId/AppId confusion" in found["EXA070"].message
    assert f"New-ServicePrincipal -AppId '{APP_ID}' -ObjectId '{SP_ID}'" in found["EXA070"].remediation


def test_exa070_no_exchange_pointer(policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(policy, dataclasses.replace(online, service_principals=()))
    assert found["EXA070"].status is Status.FAIL
    assert "no service principal pointer" in found["EXA070"].message


def test_exa070_policy_names_the_app_registration_object(policy: LoadedPolicy, online: Snapshot) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    entra = (EntraServicePrincipal(other, APP_ID, "CallPro CalendarSync", True),)
    found = run(policy, dataclasses.replace(online, entra_service_principals=entra))
    assert found["EXA070"].status is Status.FAIL
    assert f"Set principal.app.servicePrincipalId to {other}" in found["EXA070"].remediation


def test_exa070_disabled_or_missing_in_entra(policy: LoadedPolicy, online: Snapshot) -> None:
    disabled = (EntraServicePrincipal(SP_ID, APP_ID, "CallPro CalendarSync", False),)
    assert run(policy, dataclasses.replace(online, entra_service_principals=disabled))["EXA070"].status is Status.FAIL
    missing = run(policy, dataclasses.replace(online, entra_service_principals=()))["EXA070"]
    assert missing.status is Status.FAIL
    assert "New-MgServicePrincipal" in missing.remediation


def test_exa070_error_when_graph_was_not_read(policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(policy, replace_calls(online, "Graph:servicePrincipal", ok=False))
    assert found["EXA070"].status is Status.ERROR
    assert found["EXA074"].status is Status.ERROR


# --- EXA071: Application roles by what they grant --------------------------------------------------------------


def test_exa071_composite_role_is_judged_by_its_granted_permissions(policy: LoadedPolicy, online: Snapshot) -> None:
    full = app_assignment("Application Exchange Full Access")
    bundle = ("Mail.ReadWrite", "Mail.Send", "MailboxSettings.ReadWrite", "Calendars.ReadWrite", "Contacts.ReadWrite")
    rows = (*online.authorizations, row(None, None, "Application Exchange Full Access", granted_permissions=bundle))
    assignments = (*(a for a in online.role_assignments if a.role != ROLE), full)
    found = run(policy, dataclasses.replace(online, role_assignments=assignments, authorizations=rows))
    exa071 = found["EXA071"]
    assert exa071.status is Status.FAIL
    assert "Mail.Send" in exa071.message
    assert "Remove-ManagementRoleAssignment -Identity 'Application Exchange Full Access-" in exa071.remediation
    assert "Calendars.ReadWrite" not in exa071.message.split("beyond the policy's:")[1]


def test_exa071_missing_role(policy: LoadedPolicy, online: Snapshot) -> None:
    read_only = app_assignment("Application Calendars.Read")
    assignments = (*(a for a in online.role_assignments if a.role != ROLE), read_only)
    exa071 = run(policy, dataclasses.replace(online, role_assignments=assignments))["EXA071"]
    assert exa071.status is Status.FAIL
    assert "is not granted" in exa071.message
    assert f"-Role '{ROLE}' -CustomResourceScope '{SCOPE}'" in exa071.remediation


def test_exa071_unknown_role_without_a_row_is_error(policy: LoadedPolicy, online: Snapshot) -> None:
    assignments = (*online.role_assignments, app_assignment("Application Future.Thing"))
    found = run(policy, dataclasses.replace(online, role_assignments=assignments))
    assert found["EXA071"].status is Status.FAIL  # an extra role is a finding whatever it grants
    # ...but when it is the only difference and its permissions are unknown, the verdict says so
    assert "unknown" in found["EXA071"].message


def test_exa071_unknown_expected_role_held_alone_is_error(tmp_path: Path, online: Snapshot) -> None:
    policy = with_policy(tmp_path, "otherRolesAllowed: []", "otherRolesAllowed: [Application Future.Thing]")
    assignments = (*online.role_assignments, app_assignment("Application Future.Thing"))
    found = run(policy, dataclasses.replace(online, role_assignments=assignments))
    assert found["EXA071"].status is Status.ERROR


# --- EXA072: scoped assignments --------------------------------------------------------------------------------


def test_exa072_unscoped_assignment_reaches_every_mailbox(policy: LoadedPolicy, online: Snapshot) -> None:
    wide = app_assignment(custom_resource_scope=None, recipient_write_scope="Organization")
    assignments = (*(a for a in online.role_assignments if a.role != ROLE), wide)
    found = run(policy, dataclasses.replace(online, role_assignments=assignments))
    assert found["EXA072"].status is Status.FAIL
    assert found["EXA072"].severity is Severity.CRITICAL
    assert f"-CustomResourceScope '{SCOPE}'" in found["EXA072"].remediation
    assert found["EXA012"].status is Status.FAIL
    assert found["EXA040"].status is Status.FAIL


def test_exa072_org_wide_authorization_row(policy: LoadedPolicy, online: Snapshot) -> None:
    extra = app_assignment("Application Calendars.Read", custom_resource_scope="Other")
    rows = (*online.authorizations, row(None, None, "Application Calendars.Read", scope_type="Organization"))
    found = run(
        policy,
        dataclasses.replace(online, role_assignments=(*online.role_assignments, extra), authorizations=rows),
    )
    assert found["EXA072"].status is Status.FAIL


# --- EXA073: administrative units ------------------------------------------------------------------------------

AU_POLICY = f"""\
apiVersion: exaudit/v1
kind: MailboxAccessPolicy
metadata: {{name: callpro-au}}
principal: {{app: {{appId: {APP_ID}, servicePrincipalId: {SP_ID}}}}}
grant:
  role: {ROLE}
  via: {{direct: {{}}}}
  administrativeUnit:
    id: {AU_ID}
    displayName: Field Sales
    members: [ad.viseur@contoso.com, bea.buiten@contoso.com]
probes:
  allow: [ad.viseur@contoso.com, bea.buiten@contoso.com]
  deny: {{canaries: [ceo@contoso.com]}}
"""


@pytest.fixture
def au_policy(tmp_path: Path) -> LoadedPolicy:
    path = tmp_path / "au.yaml"
    path.write_text(AU_POLICY, encoding="utf-8")
    return load_policy(path)


def au_snapshot(online: Snapshot, members: tuple[str, ...]) -> Snapshot:
    scoped = app_assignment(custom_resource_scope=None, recipient_administrative_unit_scope=AU_ID)
    assignments = (*(a for a in online.role_assignments if a.role != ROLE), scoped)
    return dataclasses.replace(
        online,
        role_assignments=assignments,
        administrative_units=(AdministrativeUnit(AU_ID, "Field Sales", members),),
        calls=(*online.calls, call("Graph:administrativeUnitMembers")),
    )


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
    policy: LoadedPolicy, online: Snapshot, permission: str, resource: str, name: str
) -> None:
    found = run(policy, dataclasses.replace(online, app_role_grants=(grant(permission, resource, name),)))
    exa074 = found["EXA074"]
    assert exa074.status is Status.FAIL
    assert exa074.severity is Severity.CRITICAL
    assert "union" in exa074.message
    assert f"Remove-MgServicePrincipalAppRoleAssignment -ServicePrincipalId '{SP_ID}'" in exa074.remediation


def test_the_union_trap(policy: LoadedPolicy, online: Snapshot) -> None:
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
    found = run(policy, snap)
    assert found["EXA074"].status is Status.FAIL
    assert found["EXA051"].status is Status.FAIL
    assert found["EXA051"].severity is Severity.CRITICAL
    assert found["EXA051"].message.startswith("The app CAN reach 2 mailbox(es)")
    assert "(EXA074)" in found["EXA051"].message
    assert found["EXA051"].remediation.startswith("# Remove the app's Entra application permission first (EXA074)")
    for check_id in ("EXA012", "EXA040", "EXA072", "EXA076"):
        assert found[check_id].status is Status.PASS, check_id  # Exchange alone looks perfect


def test_exa074_allowed_and_not_allowed_other_permissions(tmp_path: Path, online: Snapshot) -> None:
    policy = with_policy(
        tmp_path, "allowedAppRoles: []", "allowedAppRoles: [{resource: Microsoft Graph, permission: User.Read.All}]"
    )
    allowed = run(policy, dataclasses.replace(online, app_role_grants=(grant("User.Read.All"),)))["EXA074"]
    assert allowed.status is Status.PASS
    other = run(policy, dataclasses.replace(online, app_role_grants=(grant("Group.Read.All"),)))["EXA074"]
    assert other.status is Status.FAIL
    assert other.severity is Severity.MEDIUM


def test_exa074_unresolved_app_role_is_error(policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(policy, dataclasses.replace(online, app_role_grants=(grant(""),)))
    assert found["EXA074"].status is Status.ERROR


def test_exa074_default_access_grants_nothing(policy: LoadedPolicy, online: Snapshot) -> None:
    default = dataclasses.replace(grant(""), app_role_id="00000000-0000-0000-0000-000000000000")
    assert run(policy, dataclasses.replace(online, app_role_grants=(default,)))["EXA074"].status is Status.PASS


def test_exa074_grants_of_other_apps_are_not_this_apps(policy: LoadedPolicy, online: Snapshot) -> None:
    other = dataclasses.replace(grant("Calendars.ReadWrite"), principal_id="99999999-9999-4999-8999-999999999999")
    assert run(policy, dataclasses.replace(online, app_role_grants=(other,)))["EXA074"].status is Status.PASS


# --- EXA075: Application Access Policies -----------------------------------------------------------------------


def aap(group: str, right: str = "RestrictAccess") -> ApplicationAccessPolicy:
    return ApplicationAccessPolicy(f"contoso\\{APP_ID}:{group}", (APP_ID,), group, group, right)


def test_exa075_policy_wider_than_the_scope(policy: LoadedPolicy, online: Snapshot) -> None:
    snap = dataclasses.replace(
        online, application_access_policies=(aap("All Staff"),), app_role_grants=(grant("Calendars.Read"),)
    )
    found = run(policy, snap)
    assert found["EXA075"].status is Status.FAIL
    assert "Remove-ApplicationAccessPolicy" in found["EXA075"].remediation
    assert "confines it" in found["EXA074"].message


def test_exa075_policy_within_the_scope_or_confining_nothing(policy: LoadedPolicy, online: Snapshot) -> None:
    group = "SecurityGroup-CallPro Calendar Access"
    within = dataclasses.replace(
        online, application_access_policies=(aap(group),), app_role_grants=(grant("Calendars.Read"),)
    )
    assert run(policy, within)["EXA075"].status is Status.PASS
    idle = dataclasses.replace(online, application_access_policies=(aap("All Staff"),))
    assert run(policy, idle)["EXA075"].status is Status.PASS


def test_exa075_scope_group_not_read_is_error(policy: LoadedPolicy, online: Snapshot) -> None:
    snap = dataclasses.replace(
        online, application_access_policies=(aap("Nobody Knows"),), app_role_grants=(grant("Calendars.Read"),)
    )
    assert run(policy, snap)["EXA075"].status is Status.ERROR


# --- EXA076: Test-ServicePrincipalAuthorization ----------------------------------------------------------------


def test_exa076_canary_in_scope(policy: LoadedPolicy, online: Snapshot) -> None:
    rows = tuple(
        dataclasses.replace(r, in_scope=True) if r.resource == "ceo@contoso.com" else r for r in online.authorizations
    )
    found = run(policy, dataclasses.replace(online, authorizations=rows))
    assert found["EXA076"].status is Status.FAIL
    assert found["EXA076"].severity is Severity.CRITICAL


def test_exa076_member_out_of_scope(policy: LoadedPolicy, online: Snapshot) -> None:
    rows = tuple(
        dataclasses.replace(r, in_scope=False) if r.resource == "cor.veld@contoso.com" else r
        for r in online.authorizations
    )
    found = run(policy, dataclasses.replace(online, authorizations=rows))
    assert found["EXA076"].status is Status.FAIL
    assert "cor.veld@contoso.com" in found["EXA076"].message


def test_exa076_untested_or_unreadable_is_error(policy: LoadedPolicy, online: Snapshot) -> None:
    untested = tuple(r for r in online.authorizations if r.resource != "fien.field@contoso.com")
    assert run(policy, dataclasses.replace(online, authorizations=untested))["EXA076"].status is Status.ERROR
    odd = tuple(
        dataclasses.replace(r, in_scope=None, raw_in_scope="Maybe") if r.resource == "ceo@contoso.com" else r
        for r in online.authorizations
    )
    assert run(policy, dataclasses.replace(online, authorizations=odd))["EXA076"].status is Status.ERROR
    failed = replace_calls(online, "Test-ServicePrincipalAuthorization", ok=False)
    assert run(policy, failed)["EXA076"].status is Status.ERROR


# --- EXA077: EWS against the date ------------------------------------------------------------------------------


def org(enabled: bool | None, allowed: tuple[str, ...] | None) -> Organization:
    return Organization("contoso.onmicrosoft.com", "contoso", True, enabled, allowed)


def test_exa077_graph_only_app_on_the_allow_list(policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(policy, dataclasses.replace(online, organization=org(True, (APP_ID,))))
    assert found["EXA077"].status is Status.FAIL
    assert found["EXA077"].severity is Severity.LOW
    assert found["EXA077"].remediation == "Set-OrganizationConfig -EwsAllowedAppIDs $null"


@pytest.mark.parametrize(
    ("now", "enabled", "allowed", "status", "severity"),
    [
        (datetime(2026, 6, 1, tzinfo=UTC), None, (), Status.FAIL, Severity.HIGH),
        (NOW, None, (), Status.FAIL, Severity.CRITICAL),
        (NOW, True, ("0f8c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f",), Status.FAIL, Severity.CRITICAL),
        (NOW, True, (APP_ID.upper(),), Status.PASS, Severity.HIGH),
        (datetime(2027, 4, 1, tzinfo=UTC), True, (APP_ID,), Status.FAIL, Severity.CRITICAL),
    ],
    ids=["before-phase-off", "after-phase-off", "not-listed", "listed", "after-the-end"],
)
def test_exa077_app_that_still_needs_ews(
    tmp_path: Path,
    online: Snapshot,
    now: datetime,
    enabled: bool | None,
    allowed: tuple[str, ...],
    status: Status,
    severity: Severity,
) -> None:
    policy = with_policy(tmp_path, "required: false", "required: true")
    found = run(policy, dataclasses.replace(online, organization=org(enabled, allowed)), now)
    assert found["EXA077"].status is status, found["EXA077"].message
    assert found["EXA077"].severity is severity
    if status is Status.FAIL and now < datetime(2027, 4, 1, tzinfo=UTC):
        assert "Set-OrganizationConfig -EwsEnabled $true -EwsAllowedAppIDs" in found["EXA077"].remediation
        assert APP_ID in found["EXA077"].remediation


def test_exa077_on_premises_has_no_allow_list(policy: LoadedPolicy, online: Snapshot) -> None:
    seed, _ = load(DATA / "compliant.snapshot.json")
    found = run(policy, dataclasses.replace(online, organization=seed.organization, target=seed.target))
    assert found["EXA077"].status is Status.SKIP
    assert found["EXA060"].status is Status.FAIL


def test_exa077_allow_list_not_read_is_error(policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(policy, dataclasses.replace(online, organization=org(True, None)))
    assert found["EXA077"].status is Status.ERROR


# --- EXA078: leftovers of the how-to ---------------------------------------------------------------------------

LEGACY = (
    "ews:\n  required: false\nlegacy:\n  serviceAccount: svcServiceAccount@contoso.com\n"
    "  roleGroup: CallPro Calendar Access"
)


@pytest.fixture
def legacy_policy(tmp_path: Path) -> LoadedPolicy:
    return with_policy(tmp_path, "ews:\n  required: false", LEGACY)


def test_exa078_leftovers_listed_for_clean_up(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    seed, _ = load(DATA / "compliant.snapshot.json")
    snap = dataclasses.replace(online, role_groups=seed.role_groups, role_assignments=seed.role_assignments)
    found = run(legacy_policy, snap)
    exa078 = found["EXA078"]
    assert exa078.status is Status.FAIL
    assert "Remove-RoleGroup -Identity 'CallPro Calendar Access'" in exa078.remediation
    assert "Update-MgUser -UserId 'svcServiceAccount@contoso.com' -AccountEnabled:$false" in exa078.remediation
    assert "Remove-ManagementRoleAssignment -Identity 'ApplicationImpersonation-CallPro Calendar Access'" in (
        exa078.remediation
    )
    assert "Hygiene Management" not in exa078.remediation  # a built-in holder is not the how-to's


def test_exa078_disabled_or_removed_service_account_passes(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    users = tuple(dataclasses.replace(u, account_disabled=True) for u in online.users)
    assert run(legacy_policy, dataclasses.replace(online, users=users))["EXA078"].status is Status.PASS
    gone = tuple(
        dataclasses.replace(c, ok=False, error="not found", error_kind="ManagementObjectNotFound")
        if c.cmdlet == "Get-User"
        else c
        for c in online.calls
    )
    assert run(legacy_policy, dataclasses.replace(online, users=(), calls=gone))["EXA078"].status is Status.PASS


def test_exa078_account_absent_from_a_read_of_every_user_is_removed(
    legacy_policy: LoadedPolicy, online: Snapshot
) -> None:
    calls = (*(c for c in online.calls if c.cmdlet != "Get-User"), call("Get-User", ResultSize="Unlimited"))
    found = run(legacy_policy, dataclasses.replace(online, users=(), calls=calls))
    assert found["EXA078"].status is Status.PASS
    failed = (*(c for c in online.calls if c.cmdlet != "Get-User"), call("Get-User", ok=False, ResultSize="Unlimited"))
    assert run(legacy_policy, dataclasses.replace(online, users=(), calls=failed))["EXA078"].status is Status.ERROR


def test_exa078_service_account_never_read_is_error(legacy_policy: LoadedPolicy, online: Snapshot) -> None:
    calls = tuple(c for c in online.calls if c.cmdlet != "Get-User")
    found = run(legacy_policy, dataclasses.replace(online, users=(), calls=calls))
    assert found["EXA078"].status is Status.ERROR
    assert isinstance(online.users[0], User)


def test_exa078_without_a_legacy_block_still_finds_impersonation(policy: LoadedPolicy, online: Snapshot) -> None:
    seed, _ = load(DATA / "compliant.snapshot.json")
    found = run(
        policy, dataclasses.replace(online, role_assignments=(*online.role_assignments, seed.role_assignments[0]))
    )
    assert found["EXA078"].status is Status.FAIL


# --- probes for an app: propagation and 404 --------------------------------------------------------------------


def _canary_reached(online: Snapshot, changed: str) -> Snapshot:
    recent = tuple(
        dataclasses.replace(a, when_changed=changed) if a.role == ROLE else a for a in online.role_assignments
    )
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.ALLOWED, response_code="200")
        if p.mailbox == "ceo@contoso.com"
        else p
        for p in online.probes
    )
    return dataclasses.replace(online, role_assignments=recent, probes=probes)


def test_probe_disagreeing_after_a_recent_change_is_propagating(policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(policy, _canary_reached(online, "2026-11-26T10:30:00Z"))
    assert found["EXA051"].status is Status.ERROR
    assert found["EXA051"].message.startswith("Propagating, re-run after 2026-11-26 12:30 UTC")


def test_probe_disagreeing_long_after_the_change_is_a_breach(policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(policy, _canary_reached(online, "2026-11-26T08:30:00Z"))
    assert found["EXA051"].status is Status.FAIL


def test_member_refused_right_after_the_assignment_was_made(policy: LoadedPolicy, online: Snapshot) -> None:
    recent = tuple(
        dataclasses.replace(a, when_changed="2026-11-26T10:55:00Z") if a.role == ROLE else a
        for a in online.role_assignments
    )
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.DENIED, response_code="403 ErrorAccessDenied")
        if p.expect == "allow"
        else p
        for p in online.probes
    )
    found = run(policy, dataclasses.replace(online, role_assignments=recent, probes=probes))
    assert found["EXA050"].status is Status.ERROR
    assert "re-run after 2026-11-26 12:55 UTC" in found["EXA050"].message


def test_graph_404_is_error_never_pass_or_fail(policy: LoadedPolicy, online: Snapshot) -> None:
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.NO_MAILBOX, response_code="404 MailboxNotEnabledForRESTAPI")
        if p.mailbox in ("ad.viseur@contoso.com", "ceo@contoso.com")
        else p
        for p in online.probes
    )
    found = run(policy, dataclasses.replace(online, probes=probes))
    assert found["EXA050"].status is Status.ERROR
    assert found["EXA051"].status is Status.ERROR


def test_probes_of_another_app_prove_nothing(policy: LoadedPolicy, online: Snapshot) -> None:
    target = dataclasses.replace(online.target, service_account="0f8c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f")
    found = run(policy, dataclasses.replace(online, target=target))
    assert found["EXA050"].status is Status.ERROR
    assert found["EXA051"].status is Status.ERROR


def test_probe_of_a_wrongly_scoped_app_fails(policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(policy, _canary_reached(online, "2026-10-01T08:00:00Z"))
    assert found["EXA051"].status is Status.FAIL
    assert isinstance(found["EXA051"], Finding)
    assert Probe  # the records used above are the snapshot's own


# --- more branches ----------------------------------------------------------------------------------------------


def test_exa073_missing_member_is_high(au_policy: LoadedPolicy, online: Snapshot) -> None:
    found = run(au_policy, au_snapshot(online, ("ad.viseur@contoso.com",)))
    assert found["EXA073"].status is Status.FAIL
    assert found["EXA073"].severity is Severity.HIGH
    assert "New-MgDirectoryAdministrativeUnitMemberByRef" in found["EXA073"].remediation


def test_exa070_pointer_to_another_object(policy: LoadedPolicy, online: Snapshot) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    pointers = (
        ServicePrincipal("CallPro CalendarSync", APP_ID, other, identity=other),
        ServicePrincipal("CallPro copy", "99999999-9999-4999-8999-999999999999", SP_ID, identity=SP_ID),
    )
    exa070 = run(policy, dataclasses.replace(online, service_principals=pointers))["EXA070"]
    assert exa070.status is Status.FAIL
    assert f"its ObjectId {other} is not the service principal's" in exa070.message
    assert "its AppId 99999999" in exa070.message
    assert "2 Exchange pointers name the app" in exa070.message


def test_app_checks_without_the_app_in_exchange_fail(policy: LoadedPolicy, online: Snapshot) -> None:
    # No pointer and no assignment: the principal cannot be found in Exchange at all (the exo-legacy state).
    snap = dataclasses.replace(
        online,
        service_principals=(),
        role_assignments=tuple(a for a in online.role_assignments if a.role != ROLE),
    )
    found = run(policy, snap)
    for check_id in ("EXA001", "EXA070", "EXA071", "EXA072"):
        assert found[check_id].status is Status.FAIL, check_id
    assert "(see EXA001, EXA070)" in found["EXA071"].message


def _group_like(group: Group, name: str, members: tuple[str, ...]) -> Group:
    return dataclasses.replace(
        group,
        name=name,
        display_name=name,
        identity=f"contoso.com/Groups/{name}",
        distinguished_name=f"CN={name},OU=Groups,DC=contoso,DC=com",
        members=members,
    )


def test_exa075_follows_nested_groups(policy: LoadedPolicy, online: Snapshot) -> None:
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
    exa075 = run(policy, snap)["EXA075"]
    assert exa075.status is Status.FAIL
    assert "ceo@contoso.com" in exa075.message


def test_exa076_not_run_for_a_member_is_error(policy: LoadedPolicy, online: Snapshot) -> None:
    rows = tuple(
        dataclasses.replace(r, in_scope=None, raw_in_scope="Not Run") if r.resource == "ad.viseur@contoso.com" else r
        for r in online.authorizations
    )
    exa076 = run(policy, dataclasses.replace(online, authorizations=rows))["EXA076"]
    assert exa076.status is Status.ERROR
    assert "'Not Run'" in exa076.message


def test_plan_for_an_app_removes_the_entra_grant_before_anything_else(policy: LoadedPolicy, online: Snapshot) -> None:
    from audit.evaluate import remediation_plan
    from audit.evaluate.plan import PLAN_ORDER

    assert set(CHECKS) <= set(PLAN_ORDER), "every check has its place in the plan"
    wide = app_assignment(custom_resource_scope=None, recipient_write_scope="Organization")
    snap = dataclasses.replace(
        online,
        app_role_grants=(grant("Calendars.ReadWrite"),),
        application_access_policies=(aap("All Staff"),),
        role_assignments=(*(a for a in online.role_assignments if a.role != ROLE), wide),
    )
    plan = remediation_plan(policy, snap, NOW)
    assert "Microsoft Graph PowerShell" in plan
    removal = plan.index("Remove-MgServicePrincipalAppRoleAssignment")
    scoping = plan.index("Set-ManagementRoleAssignment")
    policy_removal = plan.index("Remove-ApplicationAccessPolicy")
    assert removal < scoping < policy_removal
