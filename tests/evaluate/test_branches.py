"""EXA010's failure branches and the fail-closed branches of the scope evaluation, one observation each.

Built on the compliant snapshot with one change per test. The messages and remediations are asserted whole: they
are what an admin acts on, and a check that says the right status for the wrong reason is a broken check.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import ManagementScope, Snapshot, load
from tests.evaluate.test_semantics import SVC, assignment, by_id, role_group, usg

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "snapshots"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CALLPRO = ROOT / "policies" / "callpro.yaml"
AI = "ApplicationImpersonation"
RG_NAME = "CallPro Calendar Access"
ON_PATH = "ApplicationImpersonation-CallPro Calendar Access"
SCOPE = "Scope-CallPro Calendar Access"
GROUP = "SecurityGroup-CallPro Calendar Access"
SVC_UPN = "svcServiceAccount@contoso.com"
RBAC_CHECKS = ("EXA010", "EXA011", "EXA012", "EXA013", "EXA014", "EXA015")


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


def run(policy: LoadedPolicy, snapshot: Snapshot) -> dict[str, Finding]:
    return by_id(evaluate(policy, snapshot, NOW))


def via_policy(tmp_path: Path, via: str) -> LoadedPolicy:
    """callpro.yaml with grant.via replaced (``via`` is the YAML under ``via:``, indented four spaces)."""
    text = CALLPRO.read_text(encoding="utf-8")
    start = text.index("    roleGroup:\n")
    end = text.index("  # Without a scope")
    path = tmp_path / "via.yaml"
    path.write_text(text[:start] + via + text[end:], encoding="utf-8")
    return load_policy(path)


def without_svc(snapshot: Snapshot) -> Snapshot:
    groups = tuple(
        dataclasses.replace(rg, members=tuple(m for m in rg.members if m != SVC)) if rg.name == RG_NAME else rg
        for rg in snapshot.role_groups
    )
    return dataclasses.replace(snapshot, role_groups=groups)


def replace_assignment(snapshot: Snapshot, name: str, **changes: object) -> Snapshot:
    assignments = tuple(
        dataclasses.replace(a, **changes) if a.name == name else a  # type: ignore[arg-type]
        for a in snapshot.role_assignments
    )
    return dataclasses.replace(snapshot, role_assignments=assignments)


def replace_scope(snapshot: Snapshot, **changes: object) -> Snapshot:
    scopes = tuple(
        dataclasses.replace(s, **changes) if s.name == SCOPE else s  # type: ignore[arg-type]
        for s in snapshot.scopes
    )
    return dataclasses.replace(snapshot, scopes=scopes)


def the_scope(snapshot: Snapshot) -> ManagementScope:
    (scope,) = (s for s in snapshot.scopes if s.name == SCOPE)
    return scope


# --- EXA010: the principal holds the role through the path the policy names ----------------------------------


def test_exa010_passes_on_the_named_path(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = run(policy, compliant)["EXA010"]
    assert found.status is Status.PASS
    assert found.actual == f"svcServiceAccount -> role group '{RG_NAME}'"
    assert (
        found.message
        == f"{AI} reaches svcServiceAccount as the policy says: svcServiceAccount -> role group '{RG_NAME}'."
    )
    assert found.expected == f"{AI} assigned to roleGroup '{RG_NAME}', reaching svcServiceAccount"
    assert any(line.startswith("RoleGroup Identity='contoso.com/Microsoft") for line in found.evidence)
    assert any(ON_PATH in line for line in found.evidence)


def test_exa010_fails_when_the_account_is_outside_the_role_group(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = run(policy, without_svc(compliant))
    exa010 = found["EXA010"]
    assert exa010.status is Status.FAIL
    assert exa010.message == (
        f"svcServiceAccount is not a member of roleGroup '{RG_NAME}' (directly or through nested groups), "
        "so the assignment does not reach it."
    )
    assert exa010.actual == f"svcServiceAccount not a member of '{RG_NAME}'"
    assert exa010.remediation == f"Add-RoleGroupMember -Identity '{RG_NAME}' -Member '{SVC_UPN}'"
    assert any(ON_PATH in line for line in exa010.evidence)  # the assignment exists; the membership is missing


def test_exa010_fails_when_the_role_group_lacks_the_assignment(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = dataclasses.replace(
        compliant, role_assignments=tuple(a for a in compliant.role_assignments if a.name != ON_PATH)
    )
    exa010 = run(policy, snap)["EXA010"]
    assert exa010.status is Status.FAIL
    assert exa010.message == f"No assignment of {AI} to roleGroup '{RG_NAME}' exists."
    assert exa010.actual == "no such assignment"
    assert exa010.remediation == (
        f"New-ManagementRoleAssignment -Role '{AI}' -SecurityGroup '{RG_NAME}' -CustomRecipientWriteScope '{SCOPE}'"
    )


def test_exa010_names_the_other_paths_when_the_role_arrives_another_way(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    legacy = role_group("Legacy", (SVC,), (AI,))
    snap = dataclasses.replace(
        compliant,
        role_groups=(*compliant.role_groups, legacy),
        role_assignments=(
            *(a for a in compliant.role_assignments if a.name != ON_PATH),
            assignment("AI-Legacy", AI, legacy.identity),
            assignment("Mail Recipients-Legacy", "Mail Recipients", legacy.identity),
        ),
    )
    exa010 = run(policy, snap)["EXA010"]
    assert exa010.status is Status.FAIL
    assert exa010.message == (
        f"No assignment of {AI} to roleGroup '{RG_NAME}' exists; the principal gets it only through other paths (1)."
    )
    assert any(line.endswith("via svcServiceAccount -> role group 'Legacy'") for line in exa010.evidence)
    assert not any("Mail Recipients-Legacy" in line for line in exa010.evidence)  # another role is no path


def test_exa010_fails_when_the_role_group_does_not_exist(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = dataclasses.replace(compliant, role_groups=tuple(rg for rg in compliant.role_groups if rg.name != RG_NAME))
    found = run(policy, snap)
    exa010 = found["EXA010"]
    assert exa010.status is Status.FAIL
    problem = f"no role group is named or displayed as '{RG_NAME}'"
    assert exa010.message == f"The path the policy names does not exist: {problem}."
    assert exa010.actual == problem
    assert exa010.remediation == (
        f"# create the roleGroup '{RG_NAME}' first, then:\n"
        f"New-ManagementRoleAssignment -Role '{AI}' -SecurityGroup '{RG_NAME}' -CustomRecipientWriteScope '{SCOPE}'"
    )
    # The checks that follow the path cannot judge it: FAIL (it is missing), never PASS.
    for check in ("EXA011", "EXA012"):
        assert found[check].status is Status.FAIL
        assert found[check].message == f"{problem} (see EXA010)."


def test_exa010_ambiguous_role_group_asks_for_a_rename(policy: LoadedPolicy, compliant: Snapshot) -> None:
    (rg,) = (r for r in compliant.role_groups if r.name == RG_NAME)
    twin = dataclasses.replace(rg, identity=rg.identity + "2", distinguished_name="CN=twin", guid="g2", members=())
    found = run(policy, dataclasses.replace(compliant, role_groups=(*compliant.role_groups, twin)))
    exa010 = found["EXA010"]
    assert exa010.status is Status.FAIL
    problem = f"2 role groups are named or displayed as '{RG_NAME}'; rename so one is meant"
    assert exa010.message == f"The path the policy names is ambiguous: {problem}."
    assert exa010.remediation == (
        "# Give each a distinct DisplayName (or remove the stray one):\n"
        f"Set-RoleGroup -Identity '{rg.identity}' -DisplayName '<distinct name>'\n"
        f"Set-RoleGroup -Identity '{rg.identity}2' -DisplayName '<distinct name>'"
    )
    for check in ("EXA011", "EXA012", "EXA013", "EXA014"):
        assert found[check].status is Status.ERROR, check
        assert found[check].message == f"Cannot tell which assignee the policy means: {problem} (see EXA010)."


def test_exa010_through_a_security_group_the_account_is_not_in(tmp_path: Path, compliant: Snapshot) -> None:
    usg_policy = via_policy(tmp_path, "    securityGroup: {name: CallPro Holders}\n")
    holders = usg("CallPro Holders", ())
    scoped = assignment(
        "AI-Holders",
        AI,
        holders.identity,
        role_assignee_type="SecurityGroup",
        recipient_write_scope="CustomRecipientScope",
        custom_recipient_write_scope=SCOPE,
    )
    snap = dataclasses.replace(
        compliant, groups=(*compliant.groups, holders), role_assignments=(*compliant.role_assignments, scoped)
    )
    exa010 = run(usg_policy, snap)["EXA010"]
    assert exa010.status is Status.FAIL
    assert exa010.remediation == (
        f"Add-DistributionGroupMember -Identity 'CallPro Holders' -Member '{SVC_UPN}' -BypassSecurityGroupManagerCheck"
    )
    no_group = run(usg_policy, dataclasses.replace(snap, groups=compliant.groups))["EXA010"]
    assert no_group.status is Status.FAIL
    assert no_group.actual == "no security group is named 'CallPro Holders'"
    assert no_group.remediation == (
        "# create the securityGroup 'CallPro Holders' first, then:\n"
        f"New-ManagementRoleAssignment -Role '{AI}' -SecurityGroup 'CallPro Holders' -CustomRecipientWriteScope "
        f"'{SCOPE}'"
    )
    twin = dataclasses.replace(holders, identity="contoso.com/Groups/Twin", guid="t")
    ambiguous = run(usg_policy, dataclasses.replace(snap, groups=(*snap.groups, twin)))["EXA010"]
    assert ambiguous.status is Status.FAIL
    assert ambiguous.actual == "2 groups are named 'CallPro Holders'"
    assert ambiguous.remediation.splitlines()[1:] == [
        f"Set-Group -Identity '{holders.identity}' -DisplayName '<distinct name>'",
        "Set-Group -Identity 'contoso.com/Groups/Twin' -DisplayName '<distinct name>'",
    ]


def test_exa010_direct_assignment(tmp_path: Path, compliant: Snapshot) -> None:
    direct = via_policy(tmp_path, "    direct: {}\n")
    missing = run(direct, compliant)["EXA010"]
    assert missing.status is Status.FAIL
    # The role group's assignment still reaches the account: it is named as the other path.
    assert missing.message == (
        f"No assignment of {AI} to direct 'svcServiceAccount' exists; the principal gets it only through other "
        "paths (1)."
    )
    assert missing.remediation == (
        f"New-ManagementRoleAssignment -Role '{AI}' -User '{SVC_UPN}' -CustomRecipientWriteScope '{SCOPE}'"
    )
    (svc,) = compliant.users
    mine = assignment(
        "AI-svc",
        AI,
        svc.identity,
        role_assignee_type="User",
        recipient_write_scope="CustomRecipientScope",
        custom_recipient_write_scope=SCOPE,
    )
    held = run(direct, dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, mine)))["EXA010"]
    assert held.status is Status.PASS
    assert held.actual == "direct to svcServiceAccount"


def test_rbac_checks_are_error_when_the_principal_is_ambiguous(policy: LoadedPolicy, compliant: Snapshot) -> None:
    (svc,) = compliant.users
    twin = dataclasses.replace(svc, identity="contoso.com/Users/svcTwin", distinguished_name="CN=svcTwin", name="t")
    found = run(policy, dataclasses.replace(compliant, users=(svc, twin)))
    problem = (
        f"{SVC_UPN} matches 2 users ('{svc.identity}', 'contoso.com/Users/svcTwin'); "
        "cannot tell which one the integration uses"
    )
    assert found["EXA001"].status is Status.ERROR
    assert found["EXA001"].actual == problem
    for check in RBAC_CHECKS:
        if check != "EXA014":  # EXA014 judges the role group's own roles and members, not whom they reach
            assert found[check].status is Status.ERROR, check
    assert found["EXA010"].message == f"Cannot follow assignments: {problem} (see EXA001)."
    assert found["EXA040"].status is Status.ERROR
    assert found["EXA040"].message == f"Cannot tell whose access to evaluate: {problem}."


# --- the scope: ambiguous, unreadable, not computable -> ERROR, never PASS ----------------------------------------


def test_ambiguous_scope_is_error(policy: LoadedPolicy, compliant: Snapshot) -> None:
    scope = the_scope(compliant)
    twin = dataclasses.replace(scope, identity="Scope twin", recipient_filter="Department -eq 'Sales'")
    found = run(policy, dataclasses.replace(compliant, scopes=(*compliant.scopes, twin)))
    assert found["EXA020"].status is Status.ERROR
    assert found["EXA020"].message == f"2 scopes answer to '{SCOPE}'; cannot tell which one is meant."
    assert len(found["EXA020"].evidence) == 2
    assert found["EXA021"].status is Status.ERROR
    assert found["EXA021"].message == f"The scope '{SCOPE}' is ambiguous, so no filter names '{GROUP}' (see EXA020)."
    assert found["EXA021"].remediation == ""
    assert found["EXA040"].status is Status.ERROR
    assert found["EXA040"].message == f"The scope '{SCOPE}' is ambiguous; nothing to evaluate (see EXA020)."


@pytest.mark.parametrize("stored", ["MemberOfGroup -eq 'CN=unterminated", "(MemberOfGroup -eq 'x'", "-eq 'x'"])
def test_unparseable_stored_filter_is_error(policy: LoadedPolicy, compliant: Snapshot, stored: str) -> None:
    found = run(policy, replace_scope(compliant, recipient_filter=stored))
    for check in ("EXA020", "EXA021", "EXA040"):
        assert found[check].status is Status.ERROR, check
    assert found["EXA020"].message.startswith(f"Cannot read the stored filter of '{SCOPE}': ")
    assert found["EXA020"].actual == stored
    assert found["EXA021"].message.startswith(f"Cannot read the stored filter of '{SCOPE}': ")
    assert found["EXA040"].message.startswith(f"Cannot evaluate the filter of '{SCOPE}': ")


@pytest.mark.parametrize("write_scope", ["MyGAL", "Self", "MyDistributionGroups", "OU"])
def test_write_scope_exaudit_cannot_compute_is_error(
    policy: LoadedPolicy, compliant: Snapshot, write_scope: str
) -> None:
    # "OU" without RecipientOrganizationalUnitScope names no OU: as unknown as a scope type exaudit does not know.
    snap = replace_assignment(
        compliant,
        ON_PATH,
        recipient_write_scope=write_scope,
        custom_recipient_write_scope=None,
        recipient_ou_scope=None,
    )
    exa040 = run(policy, snap)["EXA040"]
    assert exa040.status is Status.ERROR
    assert exa040.message == (
        f"Cannot evaluate '{ON_PATH}': RecipientWriteScope {write_scope} is not a scope exaudit can compute."
    )
    assert any(line.startswith("RoleAssignment") or ON_PATH in line for line in exa040.evidence)


def test_ou_write_scope_is_computed(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = replace_assignment(
        compliant, ON_PATH, recipient_write_scope="OU", custom_recipient_write_scope=None,
        recipient_ou_scope="contoso.com/Nowhere",
    )  # fmt: skip
    exa040 = run(policy, snap)["EXA040"]
    assert exa040.status is Status.FAIL  # an OU with no mailbox selects nobody: the expected member is missing
    assert f"'{ON_PATH}' (OU contoso.com/Nowhere)" in exa040.actual
    assert exa040.message.startswith("6 expected mailbox(es) out of scope: ad.viseur@contoso.com, ")


def test_ambiguous_expected_group_is_error(policy: LoadedPolicy, compliant: Snapshot) -> None:
    (group,) = (g for g in compliant.groups if g.name == GROUP)
    twin = dataclasses.replace(
        group, identity="contoso.com/Other/" + GROUP, distinguished_name=f"CN={GROUP},OU=Other,DC=contoso,DC=com"
    )
    exa020 = run(policy, dataclasses.replace(compliant, groups=(*compliant.groups, twin)))["EXA020"]
    assert exa020.status is Status.ERROR
    assert f"2 groups are named '{GROUP}'" in exa020.message
    assert "cannot tell which DN is meant" in exa020.message
    assert exa020.remediation == ""


def test_missing_expected_group_fails_with_the_fix(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = dataclasses.replace(compliant, groups=tuple(g for g in compliant.groups if g.name != GROUP))
    exa020 = run(policy, snap)["EXA020"]
    assert exa020.status is Status.FAIL
    assert exa020.message.startswith(
        f"Cannot build the expected filter: the group '{GROUP}' the filter should name does not exist; "
    )
    assert exa020.remediation == (
        f"$group = Get-DistributionGroup -Identity '{GROUP}'\n"
        f"Set-ManagementScope -Identity '{SCOPE}' "
        "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\""
    )


def test_scope_that_restricts_nothing_fails(policy: LoadedPolicy, compliant: Snapshot) -> None:
    empty = run(policy, replace_scope(compliant, recipient_filter="  "))
    assert empty["EXA020"].status is Status.FAIL
    assert empty["EXA020"].message == f"'{SCOPE}' has no recipient filter: it does not restrict anything by recipient."
    assert empty["EXA021"].status is Status.FAIL
    assert empty["EXA021"].actual == "scope has no filter"
    assert empty["EXA040"].status is Status.FAIL
    assert empty["EXA040"].message == f"The scope '{SCOPE}' has no recipient filter (see EXA020)."
    config = run(policy, replace_scope(compliant, scope_restriction_type="ServerScope"))["EXA020"]
    assert config.status is Status.FAIL
    assert config.message == f"'{SCOPE}' is a ServerScope, not a recipient scope."
    gone = run(policy, dataclasses.replace(compliant, scopes=()))
    assert gone["EXA020"].status is Status.FAIL
    assert gone["EXA040"].status is Status.FAIL
    assert gone["EXA040"].message == f"The scope '{SCOPE}' does not exist; nothing to evaluate (see EXA020)."


def test_filter_naming_an_unknown_dn_suggests_the_typo(policy: LoadedPolicy, compliant: Snapshot) -> None:
    typo = f"MemberOfGroup -eq 'CN={GROUP.replace('Calendar', 'Calender')},OU=Groups,DC=contoso,DC=com'"
    exa021 = run(policy, replace_scope(compliant, recipient_filter=typo))["EXA021"]
    assert exa021.status is Status.FAIL
    assert f"matches no group (a typo of '{GROUP}'?)" in exa021.message


# --- what the effective scope computes: OU roots, recipient roots, several paths ---------------------------------

PATH_LINE = "via svcServiceAccount -> role group 'CallPro Calendar Access'"


@pytest.mark.parametrize("ou", ["contoso.com/Users", "contoso.com/Users/", "CONTOSO.COM/users"])
def test_ou_write_scope_selects_every_mailbox_below_the_ou(policy: LoadedPolicy, compliant: Snapshot, ou: str) -> None:
    snap = replace_assignment(
        compliant, ON_PATH, recipient_write_scope="OU", custom_recipient_write_scope=None, recipient_ou_scope=ou
    )
    exa040 = run(policy, snap)["EXA040"]
    assert exa040.status is Status.FAIL
    assert exa040.severity.value == "critical"  # mailboxes in scope that the policy does not allow
    assert exa040.actual == f"14 of 14 mailboxes selected by '{ON_PATH}' (OU {ou})"
    assert exa040.message.startswith("8 mailbox(es) in scope that the policy does not allow: ceo@contoso.com, ")
    assert exa040.evidence[0].endswith(PATH_LINE)
    assert "in scope, not allowed: ceo@contoso.com" in exa040.evidence


def test_ou_root_is_a_whole_path_segment(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # "contoso.com/Use" is not an ancestor of contoso.com/Users/...: the OU must match whole segments.
    snap = replace_assignment(
        compliant, ON_PATH, recipient_write_scope="OU", custom_recipient_write_scope=None,
        recipient_ou_scope="contoso.com/Use",
    )  # fmt: skip
    exa040 = run(policy, snap)["EXA040"]
    assert exa040.actual == f"0 of 14 mailboxes selected by '{ON_PATH}' (OU contoso.com/Use)"


@pytest.mark.parametrize(
    ("root", "selected"), [("contoso.com/Users", 6), ("contoso.com/Users/", 6), ("contoso.com/Groups", 0)]
)
def test_recipient_root_limits_the_scope(policy: LoadedPolicy, compliant: Snapshot, root: str, selected: int) -> None:
    exa040 = run(policy, replace_scope(compliant, recipient_root=root))["EXA040"]
    assert exa040.actual == f"{selected} of 14 mailboxes selected by scope '{SCOPE}' under {root}"
    assert exa040.status is (Status.PASS if selected == 6 else Status.FAIL)
    assert exa040.evidence[0].endswith(PATH_LINE)
    assert exa040.evidence[1].startswith(f"ManagementScope Name='{SCOPE}' ScopeRestrictionType=RecipientScope")
    assert f"RecipientRoot='{root}'" in exa040.evidence[1]


def test_every_path_of_the_principal_adds_to_the_scope(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # A second, OU-scoped path: the effective scope is the union of both (any path opens a mailbox).
    legacy = role_group("Legacy", (SVC,), (AI,))
    ou = assignment(
        "AI-Legacy", AI, legacy.identity, recipient_write_scope="OU", recipient_ou_scope="contoso.com/Users"
    )
    snap = dataclasses.replace(
        compliant, role_groups=(*compliant.role_groups, legacy), role_assignments=(*compliant.role_assignments, ou)
    )
    exa040 = run(policy, snap)["EXA040"]
    assert exa040.status is Status.FAIL
    assert exa040.message.startswith("8 mailbox(es) in scope that the policy does not allow: ceo@contoso.com, ")
    assert exa040.actual == f"14 of 14 mailboxes selected by 'AI-Legacy' (OU contoso.com/Users); scope '{SCOPE}'"


def test_error_verdicts_carry_the_path_as_evidence(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = replace_assignment(compliant, ON_PATH, recipient_write_scope="Self", custom_recipient_write_scope=None)
    (line,) = run(policy, snap)["EXA040"].evidence
    assert line.startswith(f"Identity='{ON_PATH}' Role='{AI}'")
    assert line.endswith(PATH_LINE)
    scope = the_scope(compliant)
    twin = dataclasses.replace(scope, identity="Scope twin")
    ambiguous = run(policy, dataclasses.replace(compliant, scopes=(*compliant.scopes, twin)))["EXA040"]
    assert len(ambiguous.evidence) == 1
    assert ambiguous.evidence[0].endswith(PATH_LINE)
    unreadable = run(policy, replace_scope(compliant, recipient_filter="-eq"))["EXA040"]
    assert len(unreadable.evidence) == 2
    assert unreadable.evidence[1] == (
        f"ManagementScope Name='{SCOPE}' ScopeRestrictionType=RecipientScope Exclusive=False RecipientRoot='' "
        "RecipientFilter='-eq'"
    )
    empty = run(policy, replace_scope(compliant, recipient_filter=""))["EXA040"]
    assert len(empty.evidence) == 2


def test_nothing_granting_judges_the_scope_the_policy_names(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = replace_assignment(compliant, ON_PATH, enabled=False)
    exa040 = run(policy, snap)["EXA040"]
    assert exa040.status is Status.PASS  # the scope itself is right; EXA011 reports the disabled assignment
    assert exa040.evidence[0] == (
        f"no enabled Regular {AI} assignment reaches the principal; judging scope '{SCOPE}' as named by the policy"
    )


# --- the fixes and texts built for the other principal and filter forms --------------------------------------------

APPS = ROOT / "policies" / "exo-rbac-for-apps.yaml"
APP_SCOPE = "Scope-CallPro Field Sales"
APP_ROLE = "Application Calendars.ReadWrite"
APP_FILTER = "CustomAttribute1 -eq 'CallPro'"


@pytest.fixture(scope="module")
def app_snapshot(compliant: Snapshot) -> Snapshot:
    from tests.evaluate.test_semantics import _app_snapshot

    return _app_snapshot(compliant)


def test_app_without_its_assignment_gets_the_app_command(app_snapshot: Snapshot) -> None:
    apps = load_policy(APPS)
    kept = tuple(a for a in app_snapshot.role_assignments if a.role != APP_ROLE)
    # Keep one unrelated assignment naming the app, so the principal is still known.
    other = next(a for a in app_snapshot.role_assignments if a.role == APP_ROLE)
    other = dataclasses.replace(other, role="Application Mail.Read", identity="mail", name="mail")
    exa010 = run(apps, dataclasses.replace(app_snapshot, role_assignments=(*kept, other)))["EXA010"]
    assert exa010.status is Status.FAIL
    assert exa010.remediation == (
        f"New-ManagementRoleAssignment -App '7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91' -Role '{APP_ROLE}' "
        f"-CustomResourceScope '{APP_SCOPE}'"
    )


def test_opath_scope_fixes_quote_the_filter(app_snapshot: Snapshot) -> None:
    # The filter is one single-quoted PowerShell string (quotes inside doubled), never a double-quoted one.
    quoted = "'" + APP_FILTER.replace("'", "''") + "'"
    apps = load_policy(APPS)
    missing = run(apps, dataclasses.replace(app_snapshot, scopes=()))["EXA020"]
    assert missing.remediation == (f"New-ManagementScope -Name '{APP_SCOPE}' -RecipientRestrictionFilter {quoted}")
    wrong = tuple(dataclasses.replace(s, recipient_filter="CustomAttribute1 -eq 'Other'") for s in app_snapshot.scopes)
    drifted = run(apps, dataclasses.replace(app_snapshot, scopes=wrong))["EXA020"]
    assert drifted.status is Status.FAIL
    assert drifted.remediation == (f"Set-ManagementScope -Identity '{APP_SCOPE}' -RecipientRestrictionFilter {quoted}")


def test_a_direct_second_path_is_cut_by_removing_the_assignment(policy: LoadedPolicy, compliant: Snapshot) -> None:
    (svc,) = compliant.users
    mine = assignment("AI-svc", AI, svc.identity, role_assignee_type="User")
    exa013 = run(policy, dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, mine)))["EXA013"]
    assert exa013.status is Status.FAIL
    assert "Remove-ManagementRoleAssignment -Identity 'AI-svc' -Confirm:$false" in exa013.remediation.splitlines()


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({}, "unscoped: whole organization"),
        ({"custom_resource_scope": "R"}, "Organization 'R'"),
        ({"recipient_write_scope": "CustomRecipientScope", "custom_recipient_write_scope": "S"},
         "CustomRecipientScope 'S'"),
        ({"recipient_write_scope": "CustomRecipientScope", "custom_resource_scope": "R"}, "CustomRecipientScope 'R'"),
        ({"recipient_write_scope": "OU", "recipient_ou_scope": "contoso.com/Users"}, "OU 'contoso.com/Users'"),
        ({"recipient_write_scope": "Self"}, "Self"),
    ],
)  # fmt: skip
def test_scope_text(changes: dict[str, str], text: str) -> None:
    from audit.evaluate.rbac import scope_text

    assert scope_text(assignment("a", AI, "x", **changes)) == text


@pytest.mark.parametrize("count", [0, 1, 25, 26, 30])
def test_listing_is_bounded(count: int) -> None:
    from audit.evaluate.scope import LISTED, listing

    items = [f"m{i}" for i in range(count)]
    text = listing(items)
    assert text.startswith(", ".join(items[:LISTED]))
    assert text.endswith(f" and {count - LISTED} more" if count > LISTED else ", ".join(items[:LISTED]))


@pytest.mark.parametrize(
    "member",
    ["svcServiceAccount", "svcserviceaccount@contoso.com", "SVCSERVICEACCOUNT", "contoso.com/Users/svcServiceAccount"],
)
def test_role_group_members_match_by_any_name_of_the_account(tmp_path: Path, compliant: Snapshot, member: str) -> None:
    text = CALLPRO.read_text(encoding="utf-8").replace(
        "exactMembers: [svcServiceAccount]", f"exactMembers: ['{member}']"
    )
    path = tmp_path / "members.yaml"
    path.write_text(text, encoding="utf-8")
    assert run(load_policy(path), compliant)["EXA014"].status is Status.PASS
    other = text.replace(f"exactMembers: ['{member}']", "exactMembers: ['someone-else']")
    path.write_text(other, encoding="utf-8")
    assert run(load_policy(path), compliant)["EXA014"].status is Status.FAIL


# --- EXA014: every name a role group member answers to, each from its own record ------------------------------


def _members_policy(tmp_path: Path, members: str, roles: str = "[ApplicationImpersonation]") -> LoadedPolicy:
    text = CALLPRO.read_text(encoding="utf-8")
    text = text.replace("exactMembers: [svcServiceAccount]", f"exactMembers: {members}")
    text = text.replace("exactRoles: [ApplicationImpersonation]", f"exactRoles: {roles}")
    path = tmp_path / "members.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def _only_member(snapshot: Snapshot, member: str, **keep: bool) -> Snapshot:
    groups = tuple(
        dataclasses.replace(rg, members=(member,)) if rg.name == RG_NAME else rg for rg in snapshot.role_groups
    )
    recipients = snapshot.recipients if keep.get("recipient", True) else ()
    users = snapshot.users if keep.get("user", True) else ()
    return dataclasses.replace(snapshot, role_groups=groups, recipients=recipients, users=users)


@pytest.mark.parametrize(
    "name",
    ["svcServiceAccount", "svcserviceaccount@contoso.com", "SVCSERVICEACCOUNT", "contoso.com/Users/svcServiceAccount"],
)
def test_member_known_only_from_get_user(tmp_path: Path, compliant: Snapshot, name: str) -> None:
    snap = _only_member(compliant, SVC, recipient=False)
    assert run(_members_policy(tmp_path, f"['{name}']"), snap)["EXA014"].status is Status.PASS


@pytest.mark.parametrize("name", ["ad.viseur", "Ad Viseur", "ad.viseur@contoso.com", "AD VISEUR"])
def test_member_known_only_from_get_recipient(tmp_path: Path, compliant: Snapshot, name: str) -> None:
    snap = _only_member(compliant, "contoso.com/Users/Ad Viseur", user=False)
    assert run(_members_policy(tmp_path, f"['{name}']"), snap)["EXA014"].status is Status.PASS
    assert run(_members_policy(tmp_path, "['Viseur']"), snap)["EXA014"].status is Status.FAIL


@pytest.mark.parametrize("name", ["CallPro Holders", "Holders Display", "contoso.com/Groups/CallPro Holders"])
def test_member_group_by_name_or_display_name(tmp_path: Path, compliant: Snapshot, name: str) -> None:
    holders = dataclasses.replace(usg("CallPro Holders", (SVC,)), display_name="Holders Display")
    snap = _only_member(dataclasses.replace(compliant, groups=(*compliant.groups, holders)), holders.identity)
    snap = dataclasses.replace(snap, recipients=(), users=())
    assert run(_members_policy(tmp_path, f"['{name}']"), snap)["EXA014"].status is Status.PASS
    assert run(_members_policy(tmp_path, "['Groups/CallPro Holders']"), snap)["EXA014"].status is Status.FAIL


def test_missing_role_is_named_with_its_fix(tmp_path: Path, compliant: Snapshot) -> None:
    exa014 = run(
        _members_policy(tmp_path, "[svcServiceAccount]", "[ApplicationImpersonation, Mail Recipients]"), compliant
    )
    found = exa014["EXA014"]
    assert found.status is Status.FAIL
    assert found.message == f"Role group '{RG_NAME}': missing role 'Mail Recipients'."
    assert found.remediation == f"New-ManagementRoleAssignment -Role 'Mail Recipients' -SecurityGroup '{RG_NAME}'"


def test_exa014_skips_only_when_the_policy_sets_neither(tmp_path: Path, compliant: Snapshot) -> None:
    text = CALLPRO.read_text(encoding="utf-8")
    for drop, status in (
        (["exactRoles", "exactMembers"], Status.SKIP),
        (["exactRoles"], Status.PASS),
        (["exactMembers"], Status.PASS),
    ):
        lines = [line for line in text.splitlines() if not any(f"{d}:" in line for d in drop)]
        path = tmp_path / "neither.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        found = run(load_policy(path), compliant)["EXA014"]
        assert found.status is status, drop
        if status is Status.SKIP:
            assert found.message == "The policy sets neither exactRoles nor exactMembers for the role group."


def test_extra_role_without_any_assignment_record(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # Get-RoleGroup lists a role no Get-ManagementRoleAssignment record carries: named, with nothing to remove.
    groups = tuple(
        dataclasses.replace(rg, roles=(*rg.roles, "Orphan Role")) if rg.name == RG_NAME else rg
        for rg in compliant.role_groups
    )
    found = run(policy, dataclasses.replace(compliant, role_groups=groups))["EXA014"]
    assert found.status is Status.FAIL
    assert found.message == f"Role group '{RG_NAME}': extra role 'Orphan Role'."


def test_exa021_with_an_opath_policy(app_snapshot: Snapshot) -> None:
    apps = load_policy(APPS)
    plain = run(apps, app_snapshot)["EXA021"]
    assert plain.status is Status.SKIP
    assert plain.message == "Neither the policy nor the stored filter uses MemberOfGroup."
    assert plain.evidence[0].startswith(f"ManagementScope Name='{APP_SCOPE}'")
    gone = run(apps, dataclasses.replace(app_snapshot, scopes=()))["EXA021"]
    assert gone.status is Status.SKIP
    assert gone.message == "The policy's filter names no group and there is no stored filter to read."
    dn = f"CN={GROUP},OU=Groups,DC=contoso,DC=com"
    two = f"(MemberOfGroup -eq '{dn}') -or (MemberOfGroup -eq 'CN=Sales Office,OU=Groups,DC=contoso,DC=com')"
    named = tuple(dataclasses.replace(s, recipient_filter=two) for s in app_snapshot.scopes)
    both = run(apps, dataclasses.replace(app_snapshot, scopes=named))["EXA021"]
    assert both.status is Status.PASS
    assert both.expected == "every MemberOfGroup DN names an existing group"
    assert both.actual == f"{GROUP}, Sales Office"
    assert both.message == f"The filter of '{APP_SCOPE}' names the group(s) '{GROUP}', 'Sales Office'."
