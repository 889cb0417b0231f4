"""Per-check tests for the semantics that are easy to get wrong (built on the compliant snapshot, one change each)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate import CHECKS, ORDER, evaluate, evaluate_all
from audit.evaluate.checks import APP_CHECKS, CheckSpec
from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import (
    Group,
    Organization,
    Probe,
    ProbeOutcome,
    Recipient,
    RoleAssignment,
    RoleGroup,
    Snapshot,
    Target,
    load,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "snapshots"
# What a service account's policy evaluates: the Exchange Online app checks are left out for it.
SERVICE_ACCOUNT_ORDER = [c for c in ORDER if c not in APP_CHECKS]
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CALLPRO = ROOT / "policies" / "callpro.yaml"
RG = "contoso.com/Microsoft Exchange Security Groups/"
SVC = "contoso.com/Users/svcServiceAccount"


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


def by_id(findings: tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.check_id: f for f in findings}


def statuses(findings: tuple[Finding, ...]) -> dict[str, str]:
    return {f.check_id: str(f.status) for f in findings if f.status is not Status.PASS}


def policy_with(tmp_path: Path, old: str, new: str, name: str = "p.yaml") -> LoadedPolicy:
    text = CALLPRO.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_policy(path)


def assignment(name: str, role: str, assignee: str, **kw: object) -> RoleAssignment:
    fields: dict[str, object] = {
        "name": name,
        "identity": name,
        "role": role,
        "role_assignee": assignee,
        "role_assignee_name": assignee.rsplit("/", 1)[-1],
        "role_assignee_type": "RoleGroup",
        "assignment_method": "Direct",
        "delegation_type": "Regular",
        "enabled": True,
        "recipient_write_scope": "Organization",
    }
    fields.update(kw)
    return RoleAssignment(**fields)  # type: ignore[arg-type]


def usg(name: str, members: tuple[str, ...]) -> Group:
    return Group(
        name=name,
        display_name=name,
        identity=f"contoso.com/Groups/{name}",
        distinguished_name=f"CN={name},OU=Groups,DC=contoso,DC=com",
        guid="",
        recipient_type_details="UniversalSecurityGroup",
        group_type="Universal, SecurityEnabled",
        members=members,
    )


def role_group(name: str, members: tuple[str, ...], roles: tuple[str, ...]) -> RoleGroup:
    return RoleGroup(
        name=name,
        display_name=name,
        identity=RG + name,
        distinguished_name=f"CN={name},OU=Microsoft Exchange Security Groups,DC=contoso,DC=com",
        guid="",
        role_group_type="Standard",
        roles=roles,
        members=members,
    )


# --- registry -------------------------------------------------------------------------------------------------


def test_registry_is_complete_and_documented() -> None:
    expected = {"EXA000", "EXA001", *(f"EXA01{i}" for i in range(6)), "EXA020", "EXA021"}
    expected |= {f"EXA03{i}" for i in range(6)} | {"EXA040", "EXA050", "EXA051", "EXA060"}
    expected |= {f"EXA07{i}" for i in range(9)}
    assert set(CHECKS) == expected
    for check_id, spec in CHECKS.items():
        assert isinstance(spec, CheckSpec)
        assert spec.id == check_id
        assert spec.title
        assert len(spec.rationale) > 80
        assert spec.remediation
        if check_id != "EXA000":
            assert spec.doc_url.startswith("https://learn.microsoft.com/")


# --- assignments ----------------------------------------------------------------------------------------------


def test_delegating_builtin_is_not_access(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # svc in Organization Management: ApplicationImpersonation-Organization Management-Delegating reaches it, but
    # a DelegatingOrgWide assignment grants nothing; the Regular "Mail Recipients" it brings is an excess role.
    groups = tuple(
        dataclasses.replace(rg, members=(*rg.members, SVC)) if rg.name == "Organization Management" else rg
        for rg in compliant.role_groups
    )
    found = by_id(evaluate(policy, dataclasses.replace(compliant, role_groups=groups), NOW))
    assert found["EXA013"].status is Status.PASS
    assert "ignored" in found["EXA013"].message
    assert any("ApplicationImpersonation-Organization Management-Delegating" in e for e in found["EXA013"].evidence)
    assert found["EXA015"].status is Status.FAIL
    assert "Mail Recipients" in found["EXA015"].message
    assert "Remove-RoleGroupMember -Identity 'Organization Management'" in found["EXA015"].remediation


def test_nested_groups_reach_the_principal(policy: LoadedPolicy, compliant: Snapshot) -> None:
    inner = usg("Inner", (SVC,))
    outer = usg("Outer", (inner.identity,))
    legacy = role_group("Legacy", (outer.identity,), ("ApplicationImpersonation",))
    extra = assignment("ApplicationImpersonation-Legacy", "ApplicationImpersonation", legacy.identity)
    snap = dataclasses.replace(
        compliant,
        groups=(*compliant.groups, inner, outer),
        role_groups=(*compliant.role_groups, legacy),
        role_assignments=(*compliant.role_assignments, extra),
    )
    found = by_id(evaluate(policy, snap, NOW))
    assert found["EXA013"].status is Status.FAIL
    assert found["EXA013"].severity is Severity.CRITICAL
    assert "group 'Inner' -> group 'Outer' -> role group 'Legacy'" in found["EXA013"].message
    assert "Remove-DistributionGroupMember -Identity 'Inner'" in found["EXA013"].remediation
    assert found["EXA040"].status is Status.FAIL  # the unscoped second path reaches every mailbox


def test_security_group_member_of_expected_role_group_counts(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # svc reaches the CallPro role group only through a USG: still the policy's path (EXA010 PASS).
    holder = usg("CallPro Holders", (SVC,))
    groups = tuple(
        dataclasses.replace(rg, members=(holder.identity,)) if rg.name == "CallPro Calendar Access" else rg
        for rg in compliant.role_groups
    )
    snap = dataclasses.replace(compliant, groups=(*compliant.groups, holder), role_groups=groups)
    found = by_id(evaluate(policy, snap, NOW))
    assert found["EXA010"].status is Status.PASS
    assert "group 'CallPro Holders' -> role group 'CallPro Calendar Access'" in found["EXA010"].message
    assert found["EXA014"].status is Status.FAIL  # exactMembers: [svcServiceAccount], not the USG


def test_assignments_matched_by_meaning_not_name(policy: LoadedPolicy, compliant: Snapshot) -> None:
    renamed = tuple(
        dataclasses.replace(a, name="ApplicationImpersonation-CallPro Calendar Ac-7", identity="x-7")
        if a.role_assignee.endswith("/CallPro Calendar Access")
        else a
        for a in compliant.role_assignments
    )
    assert statuses(evaluate(policy, dataclasses.replace(compliant, role_assignments=renamed), NOW)) == {}


def test_disabled_assignment_grants_nothing(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # A disabled, unscoped second path is not access (EXA013 PASS), but the disabled one on the path is scoped-checked.
    legacy = role_group("Legacy", (SVC,), ("ApplicationImpersonation",))
    off = assignment("ApplicationImpersonation-Legacy", "ApplicationImpersonation", legacy.identity, enabled=False)
    snap = dataclasses.replace(
        compliant, role_groups=(*compliant.role_groups, legacy), role_assignments=(*compliant.role_assignments, off)
    )
    found = by_id(evaluate(policy, snap, NOW))
    assert found["EXA013"].status is Status.PASS
    assert found["EXA040"].status is Status.PASS


def test_second_unscoped_assignment_on_the_same_role_group(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # Seed step S6: "a second unscoped assignment still exists" on the intended role group.
    second = assignment(
        "ApplicationImpersonation-CallPro Calendar Access-1", "ApplicationImpersonation", RG + "CallPro Calendar Access"
    )
    snap = dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, second))
    found = by_id(evaluate(policy, snap, NOW))
    assert found["EXA012"].status is Status.FAIL
    assert found["EXA012"].severity is Severity.CRITICAL
    assert "every mailbox in the organization" in found["EXA012"].message
    fix = "-Identity 'ApplicationImpersonation-CallPro Calendar Access-1' -CustomRecipientWriteScope"
    assert found["EXA012"].remediation == f"Set-ManagementRoleAssignment {fix} 'Scope-CallPro Calendar Access'"


def test_wrong_custom_scope_is_high_not_critical(policy: LoadedPolicy, compliant: Snapshot) -> None:
    other = tuple(
        dataclasses.replace(a, custom_recipient_write_scope="Scope-Everyone Sales")
        if a.name == "ApplicationImpersonation-CallPro Calendar Access"
        else a
        for a in compliant.role_assignments
    )
    found = by_id(evaluate(policy, dataclasses.replace(compliant, role_assignments=other), NOW))
    assert found["EXA012"].status is Status.FAIL
    assert found["EXA012"].severity is Severity.HIGH
    assert found["EXA040"].status is Status.FAIL  # the scope it names does not exist
    assert "does not exist" in found["EXA040"].message


def test_principal_not_found(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = by_id(evaluate(policy, dataclasses.replace(compliant, users=()), NOW))
    assert found["EXA001"].status is Status.FAIL
    assert found["EXA010"].status is Status.FAIL
    assert "svcServiceAccount@contoso.com" in found["EXA001"].message


# --- waivers and severity -------------------------------------------------------------------------------------


@pytest.fixture
def waived(tmp_path: Path) -> LoadedPolicy:
    return policy_with(
        tmp_path,
        "waivers: []\n",
        "waivers:\n  - {check: EXA031, reason: group must stay visible until migration week, expires: 2026-11-26}\n",
    )


def test_waiver_holds_through_its_last_day(waived: LoadedPolicy) -> None:
    snap = load(DATA / "group-visible.snapshot.json")[0]
    findings = evaluate(waived, snap, datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC))
    found = by_id(findings)
    assert [f.check_id for f in findings] == SERVICE_ACCOUNT_ORDER
    assert found["EXA031"].status is Status.SKIP
    assert found["EXA031"].waived_by == "group must stay visible until migration week"
    assert found["EXA031"].message.startswith("Waived until 2026-11-26: group must stay visible")
    assert "would have been FAIL" in found["EXA031"].message
    assert found["EXA031"].location is not None
    assert found["EXA031"].location.line > 80  # points at the waiver, not at group.hiddenFromAddressLists


def test_expired_waiver_is_evaluated_and_reported(waived: LoadedPolicy) -> None:
    snap = load(DATA / "group-visible.snapshot.json")[0]
    findings = evaluate(waived, snap, datetime(2026, 11, 27, 0, 0, tzinfo=UTC))
    assert statuses(findings) == {"EXA000": "FAIL", "EXA031": "FAIL"}
    expired = by_id(findings)["EXA000"]
    assert expired.title == "Waiver expired"
    assert "expired on 2026-11-26" in expired.message


def test_expired_waiver_of_a_passing_check_still_fails(waived: LoadedPolicy, compliant: Snapshot) -> None:
    findings = evaluate(waived, compliant, datetime(2027, 1, 1, tzinfo=UTC))
    assert statuses(findings) == {"EXA000": "FAIL"}


def test_severity_override(tmp_path: Path) -> None:
    loaded = policy_with(tmp_path, "severity: {}\n", "severity: {EXA031: critical, EXA012: low}\n")
    found = by_id(evaluate(loaded, load(DATA / "group-visible.snapshot.json")[0], NOW))
    assert found["EXA031"].severity is Severity.CRITICAL
    unscoped = by_id(evaluate(loaded, load(DATA / "unscoped-assignment.snapshot.json")[0], NOW))
    assert unscoped["EXA012"].severity is Severity.LOW  # the override wins over the check's own escalation


# --- filters --------------------------------------------------------------------------------------------------

OPATH_POLICY = """\
  recipientFilter:
    opath: "ExtensionCustomAttribute1 -eq 'CallPro'"
"""


def _opath_policy(tmp_path: Path, text: str) -> LoadedPolicy:
    body = CALLPRO.read_text(encoding="utf-8")
    start = body.index("  recipientFilter:\n    memberOfGroup")
    end = body.index("\n", body.index("memberOfGroup:", start)) + 1
    group_start = body.index("\ngroup:\n") + 1
    probes = body.index("\nprobes:\n") + 1
    body = body[:start] + text + body[end:group_start] + body[probes:]
    body = body.replace("allow: groupMembers", "allow: [ad.viseur@contoso.com]")
    path = tmp_path / "opath.yaml"
    path.write_text(body, encoding="utf-8")
    return load_policy(path)


def test_unknown_filter_property_is_error_never_pass(tmp_path: Path, compliant: Snapshot) -> None:
    loaded = _opath_policy(tmp_path, OPATH_POLICY)
    scopes = tuple(
        dataclasses.replace(s, recipient_filter="ExtensionCustomAttribute1 -eq 'CallPro'") for s in compliant.scopes
    )
    found = by_id(evaluate(loaded, dataclasses.replace(compliant, scopes=scopes), NOW))
    assert found["EXA020"].status is Status.PASS  # the filter means what the policy says ...
    assert found["EXA040"].status is Status.ERROR  # ... but exaudit cannot compute whom it selects
    assert "ExtensionCustomAttribute1" in found["EXA040"].message
    for check in ("EXA030", "EXA031", "EXA032", "EXA033", "EXA034", "EXA035"):
        assert found[check].status is Status.SKIP  # no group section
    assert found["EXA021"].status is Status.SKIP


def test_opath_scope_compared_by_meaning(tmp_path: Path, compliant: Snapshot) -> None:
    loaded = _opath_policy(tmp_path, "  recipientFilter:\n    opath: \"CustomAttribute1 -eq 'CallPro'\"\n")
    scopes = tuple(
        dataclasses.replace(s, recipient_filter="-not (CustomAttribute1 -ne 'callpro')") for s in compliant.scopes
    )
    recipients = tuple(
        dataclasses.replace(r, custom_attributes=("CallPro",)) if r.alias == "ad.viseur" else r
        for r in compliant.recipients
    )
    found = by_id(evaluate(loaded, dataclasses.replace(compliant, scopes=scopes, recipients=recipients), NOW))
    assert found["EXA020"].status is Status.PASS
    assert found["EXA040"].status is Status.PASS


def test_member_of_group_dn_compared_as_ad_does(policy: LoadedPolicy, compliant: Snapshot) -> None:
    scopes = tuple(
        dataclasses.replace(
            s,
            recipient_filter="MemberOfGroup -eq 'cn=SecurityGroup-CallPro Calendar Access, ou=Groups, "
            "dc=contoso, dc=com'",
        )
        for s in compliant.scopes
    )
    assert statuses(evaluate(policy, dataclasses.replace(compliant, scopes=scopes), NOW)) == {}


# --- probes ---------------------------------------------------------------------------------------------------


def test_probe_run_none_is_error(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = by_id(evaluate(policy, dataclasses.replace(compliant, probe_run=None), NOW))
    assert found["EXA050"].status is Status.ERROR
    assert found["EXA051"].status is Status.ERROR


def test_canary_allowed_wins_over_undecided(policy: LoadedPolicy, compliant: Snapshot) -> None:
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.ALLOWED)
        if p.mailbox == "ceo@contoso.com"
        else dataclasses.replace(p, outcome=ProbeOutcome.ERROR, detail="timeout")
        if p.mailbox == "hr-shared@contoso.com"
        else p
        for p in compliant.probes
    )
    found = by_id(evaluate(policy, dataclasses.replace(compliant, probes=probes), NOW))
    assert found["EXA051"].status is Status.FAIL
    assert found["EXA051"].severity is Severity.CRITICAL
    assert "Undecided" in found["EXA051"].message


def test_probes_of_another_account_are_not_evidence(policy: LoadedPolicy, compliant: Snapshot) -> None:
    target = dataclasses.replace(compliant.target, service_account="someone.else@contoso.com")
    found = by_id(evaluate(policy, dataclasses.replace(compliant, target=target), NOW))
    assert found["EXA050"].status is Status.ERROR
    assert "someone.else@contoso.com" in found["EXA050"].message


def test_retried_probe_last_record_wins(policy: LoadedPolicy, compliant: Snapshot) -> None:
    first = Probe("eva.expediteur@contoso.com", "allow", "groupMembers", "calendarRead", ProbeOutcome.ERROR, "500")
    probes = (first, *compliant.probes)
    assert statuses(evaluate(policy, dataclasses.replace(compliant, probes=probes), NOW)) == {}


# --- missing data ---------------------------------------------------------------------------------------------


def _without(snapshot: Snapshot, cmdlet: str, how: str) -> Snapshot:
    if how == "absent":
        calls = tuple(c for c in snapshot.calls if c.cmdlet != cmdlet)
    else:
        calls = tuple(
            dataclasses.replace(c, ok=False, error="Timeout after 60 s", error_kind="Timeout")
            if c.cmdlet == cmdlet
            else c
            for c in snapshot.calls
        )
    return dataclasses.replace(snapshot, calls=calls)


@pytest.mark.parametrize("how", ["absent", "failed"])
def test_no_check_passes_without_its_data(policy: LoadedPolicy, compliant: Snapshot, how: str) -> None:
    cmdlets = sorted({c.cmdlet for c in compliant.calls})
    assert len(cmdlets) >= 10
    for cmdlet in cmdlets:
        found = by_id(evaluate(policy, _without(compliant, cmdlet, how), NOW))
        for check_id, spec in CHECKS.items():
            if cmdlet in spec.needs and check_id in found:
                assert found[check_id].status is Status.ERROR, (cmdlet, check_id, found[check_id].message)
                assert cmdlet in found[check_id].message


def test_every_cmdlet_read_is_needed_by_some_check() -> None:
    needed = {c for spec in CHECKS.values() for c in spec.needs}
    assert {"Get-ManagementRoleAssignment", "Get-ManagementScope", "Get-RoleGroup", "Get-Group"} <= needed
    assert {"Get-DistributionGroup", "Get-Recipient", "Get-Mailbox", "Get-User", "Get-OrganizationConfig"} <= needed


# --- platform -------------------------------------------------------------------------------------------------


def test_exchange_online_severity_follows_now(policy: LoadedPolicy) -> None:
    snap = load(DATA / "exchange-online.snapshot.json")[0]
    before = by_id(evaluate(policy, snap, datetime(2026, 9, 30, tzinfo=UTC)))["EXA060"]
    after = by_id(evaluate(policy, snap, datetime(2026, 10, 1, tzinfo=UTC)))["EXA060"]
    assert before.status is after.status is Status.FAIL
    assert before.severity is Severity.HIGH
    assert after.severity is Severity.CRITICAL
    assert "1 April 2027" in after.message
    assert "New-ManagementRoleAssignment -App" in after.remediation


def test_on_premises_server_support_is_a_note(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = by_id(evaluate(policy, compliant, NOW))["EXA060"]
    assert found.status is Status.PASS
    assert "Exchange Server 2019, out of support since 14 October 2025" in found.message
    se = tuple(dataclasses.replace(s, admin_display_version="Version 15.2 (Build 2562.17)") for s in compliant.servers)
    found = by_id(evaluate(policy, dataclasses.replace(compliant, servers=se), NOW))["EXA060"]
    assert "out of support" not in found.message


# --- app principals (RBAC for Applications) -------------------------------------------------------------------

SP = "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91"


def _app_snapshot(compliant: Snapshot, role: str = "Application Calendars.ReadWrite") -> Snapshot:
    grant = assignment(
        f"{role}-{SP}",
        role,
        SP,
        role_assignee_name=SP,
        role_assignee_type="ServicePrincipal",
        recipient_write_scope="CustomRecipientScope",
        custom_resource_scope="Scope-CallPro Field Sales",
    )
    scope = dataclasses.replace(
        compliant.scopes[0],
        name="Scope-CallPro Field Sales",
        identity="Scope-CallPro Field Sales",
        recipient_filter="CustomAttribute1 -eq 'CallPro'",
    )
    recipients = tuple(
        dataclasses.replace(r, custom_attributes=("CallPro",)) if r.alias in ("ad.viseur", "bea.buiten") else r
        for r in compliant.recipients
    )
    outside: list[Recipient] = [
        r for r in compliant.recipients if r.alias in ("gijs.grond", "hanna.huis", "ivo.intern", "jet.janssen", "room1")
    ]
    samples = tuple(
        Probe(r.primary_smtp_address, "deny", "sample", "calendarRead", ProbeOutcome.DENIED, "ErrorAccessDenied")
        for r in outside
    )
    return dataclasses.replace(
        compliant,
        target=Target("exchange-online", "exo", "https://graph.microsoft.com", ""),
        organization=Organization("contoso.onmicrosoft.com", "contoso.onmicrosoft.com", True),
        role_assignments=(*compliant.role_assignments, grant),
        scopes=(scope,),
        recipients=recipients,
        probes=(*compliant.probes, *samples),
        calls=tuple(c for c in compliant.calls if c.cmdlet != "Get-User"),
    )


def test_app_principal(compliant: Snapshot, tmp_path: Path) -> None:
    loaded = load_policy(ROOT / "policies" / "exo-rbac-for-apps.yaml")
    found = evaluate(loaded, _app_snapshot(compliant), NOW)
    skipped = {"EXA014", "EXA021", "EXA030", "EXA031", "EXA032", "EXA033", "EXA034", "EXA035"}
    shared = {f.check_id: str(f.status) for f in found if f.check_id not in APP_CHECKS and f.status is not Status.PASS}
    assert shared == dict.fromkeys(skipped, "SKIP"), [f"{f.check_id} {f.message}" for f in found]
    # This snapshot holds no Entra or Test-ServicePrincipalAuthorization data: those checks cannot pass.
    app = {f.check_id: f.status for f in found if f.check_id in APP_CHECKS}
    assert set(app) == APP_CHECKS
    assert Status.PASS not in {app["EXA070"], app["EXA074"], app["EXA075"], app["EXA076"], app["EXA077"]}
    text = (ROOT / "policies" / "exo-rbac-for-apps.yaml").read_text(encoding="utf-8")
    (tmp_path / "ews.yaml").write_text(
        text.replace("role: Application Calendars.ReadWrite", "role: Application EWS.AccessAsApp")
    )
    ews_policy = load_policy(tmp_path / "ews.yaml")
    ews = by_id(evaluate(ews_policy, _app_snapshot(compliant, "Application EWS.AccessAsApp"), NOW))
    assert ews["EXA010"].status is Status.PASS
    assert ews["EXA060"].status is Status.FAIL


def test_app_principal_unscoped(compliant: Snapshot) -> None:
    loaded = load_policy(ROOT / "policies" / "exo-rbac-for-apps.yaml")
    snap = _app_snapshot(compliant)
    wide = tuple(
        dataclasses.replace(a, custom_resource_scope=None, recipient_write_scope="Organization")
        if a.role_assignee_type == "ServicePrincipal"
        else a
        for a in snap.role_assignments
    )
    found = by_id(evaluate(loaded, dataclasses.replace(snap, role_assignments=wide), NOW))
    assert found["EXA012"].status is Status.FAIL
    assert "-CustomResourceScope 'Scope-CallPro Field Sales'" in found["EXA012"].remediation
    assert found["EXA040"].status is Status.FAIL


def test_evaluate_all_shares_one_index(policy: LoadedPolicy, compliant: Snapshot) -> None:
    findings = evaluate_all([policy, policy], compliant, NOW)
    assert len(findings) == 2 * len(SERVICE_ACCOUNT_ORDER)


# --- identity forms and robustness ----------------------------------------------------------------------------


def _as_dns(snapshot: Snapshot) -> Snapshot:
    """Every member list and RoleAssignee written as DNs instead of canonical names (Exchange shows either)."""
    dn = {r.identity: r.distinguished_name for r in snapshot.recipients}
    dn |= {g.identity: g.distinguished_name for g in snapshot.groups}
    dn |= {rg.identity: rg.distinguished_name for rg in snapshot.role_groups}
    dn |= {u.identity: u.distinguished_name for u in snapshot.users}
    return dataclasses.replace(
        snapshot,
        groups=tuple(dataclasses.replace(g, members=tuple(dn.get(m, m) for m in g.members)) for g in snapshot.groups),
        role_groups=tuple(
            dataclasses.replace(rg, members=tuple(dn.get(m, m) for m in rg.members)) for rg in snapshot.role_groups
        ),
        role_assignments=tuple(
            dataclasses.replace(a, role_assignee=dn.get(a.role_assignee, a.role_assignee))
            for a in snapshot.role_assignments
        ),
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("compliant", {}),
        ("nested-group", {"EXA033": "FAIL", "EXA034": "FAIL", "EXA040": "FAIL", "EXA050": "FAIL"}),
        ("second-impersonation-path", {"EXA013": "FAIL", "EXA040": "FAIL", "EXA051": "FAIL"}),
    ],
)
def test_members_and_assignees_as_dns(policy: LoadedPolicy, case: str, expected: dict[str, str]) -> None:
    snapshot = _as_dns(load(DATA / f"{case}.snapshot.json")[0])
    assert statuses(evaluate(policy, snapshot, NOW)) == expected


@pytest.mark.parametrize(
    "collection",
    ["role_assignments", "scopes", "roles", "role_groups", "groups", "recipients", "mailboxes", "users", "probes"],
)
def test_empty_collections_never_pass_what_they_feed(
    policy: LoadedPolicy, compliant: Snapshot, collection: str
) -> None:
    found = evaluate(policy, dataclasses.replace(compliant, **{collection: ()}), NOW)
    assert [f.check_id for f in found] == SERVICE_ACCOUNT_ORDER
    assert all(f.message for f in found)
    if collection != "roles":  # nothing reads Get-ManagementRole's records
        assert statuses(found), f"emptying {collection} changed nothing"


def test_evaluate_is_pure(policy: LoadedPolicy, compliant: Snapshot) -> None:
    assert evaluate(policy, compliant, NOW) == evaluate(policy, compliant, NOW)


def test_exclusive_scope_satisfies_the_scope(policy: LoadedPolicy, compliant: Snapshot) -> None:
    exclusive = tuple(
        dataclasses.replace(a, recipient_write_scope="ExclusiveRecipientScope")
        if a.name == "ApplicationImpersonation-CallPro Calendar Access"
        else a
        for a in compliant.role_assignments
    )
    scopes = tuple(dataclasses.replace(s, exclusive=True) for s in compliant.scopes)
    snap = dataclasses.replace(compliant, role_assignments=exclusive, scopes=scopes)
    assert statuses(evaluate(policy, snap, NOW)) == {}


def test_samples_drawn_for_another_policy_are_not_this_policys_breach(
    policy: LoadedPolicy, compliant: Snapshot, tmp_path: Path
) -> None:
    # A mailbox this policy allows, sampled (and reached) for another policy of the same run.
    member = next(iter(sorted(policy.expected_members.required)))
    stray = Probe(member, "deny", "sample", "calendarRead", ProbeOutcome.ALLOWED, "NoError")
    snap = dataclasses.replace(compliant, probes=(*compliant.probes, stray))
    assert by_id(evaluate(policy, snap, NOW))["EXA051"].status is Status.PASS  # this policy asked for no sample
    sampling = policy_with(tmp_path, "sample: 0", "sample: 1")
    found = by_id(evaluate(sampling, snap, NOW))["EXA051"]
    assert found.status is Status.ERROR  # its own sample is missing: undecided, and the stray is no breach
    assert member not in found.message.split("Undecided")[0]
