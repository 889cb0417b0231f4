"""EXA001 and EXA010-EXA015 word for word where tests/evaluate/test_branches.py and the golden files do not look.

Killed survivors of issue 14's mutation run of audit/evaluate/rbac.py: the fields of the findings a check returns
when it cannot follow the principal or the path (actual, evidence, expected), EXA001's fixes, and the remediation
texts of the rarer branches. Built on the compliant snapshot with one change each.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import RoleAssignment, Snapshot, load
from tests.evaluate.app_snapshot import (
    AU_ID,
    SP_ID,
    app_assignment,
    au_policy_in,
    au_snapshot,
    exo_policy,
    online_snapshot,
)
from tests.evaluate.app_snapshot import ROLE as APP_ROLE
from tests.evaluate.app_snapshot import SCOPE as APP_SCOPE
from tests.evaluate.test_semantics import RG, SVC, assignment, policy_with, role_group, usg

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "snapshots"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CALLPRO = ROOT / "policies" / "callpro.yaml"
RG_NAME = "CallPro Calendar Access"
SVC_UPN = "svcServiceAccount@contoso.com"
ON_PATH = "ApplicationImpersonation-CallPro Calendar Access"


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


def run(policy: LoadedPolicy, snapshot: Snapshot) -> dict[str, Finding]:
    return {f.check_id: f for f in evaluate(policy, snapshot, NOW)}


# --- the principal is not found ------------------------------------------------------------------------------------


def test_exa001_account_not_found_word_for_word(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # Get-User was asked for the account and returned nobody: it does not exist (FAIL, not "cannot tell").
    found = run(policy, dataclasses.replace(compliant, users=()))
    problem = f"no user has UPN or e-mail address {SVC_UPN}"
    exa001 = found["EXA001"]
    assert (exa001.status, exa001.message) == (Status.FAIL, f"The principal was not found: {problem}.")
    assert (exa001.expected, exa001.actual, exa001.evidence) == (f"{SVC_UPN} exists and is enabled", problem, ())
    assert (
        exa001.remediation == f"# Create the account, or correct principal.serviceAccount ({SVC_UPN}) in callpro.yaml"
    )
    for check in ("EXA010", "EXA011", "EXA012", "EXA013", "EXA015"):
        f = found[check]
        assert (f.status, f.message) == (Status.FAIL, f"Cannot follow assignments: {problem} (see EXA001)."), check
        assert (f.expected, f.actual, f.evidence, f.remediation) == ("", problem, (), ""), check


def test_exa001_app_not_found_word_for_word() -> None:
    online = online_snapshot()
    gone = dataclasses.replace(
        online,
        service_principals=(),
        role_assignments=tuple(a for a in online.role_assignments if a.role_assignee_type != "ServicePrincipal"),
    )
    found = run(exo_policy(), gone)
    problem = f"no role assignment names service principal CallPro CalendarSync (ObjectId {SP_ID})"
    exa001 = found["EXA001"]
    assert (exa001.status, exa001.message) == (Status.FAIL, f"The principal was not found: {problem}.")
    assert (exa001.expected, exa001.actual) == ("CallPro CalendarSync exists and is enabled", problem)
    assert exa001.remediation == (
        "# Create the service principal pointer: New-ServicePrincipal -AppId <appId> -ObjectId <objectId>"
    )
    assert (found["EXA010"].status, found["EXA010"].actual) == (Status.FAIL, problem)


# --- the path is not found or ambiguous ----------------------------------------------------------------------------


def test_a_missing_role_group_blocks_the_path_checks_word_for_word(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = dataclasses.replace(compliant, role_groups=tuple(rg for rg in compliant.role_groups if rg.name != RG_NAME))
    found = run(policy, snap)
    problem = f"no role group is named or displayed as '{RG_NAME}'"
    for check in ("EXA011", "EXA012", "EXA013", "EXA014"):
        f = found[check]
        assert (f.status, f.message) == (Status.FAIL, f"{problem} (see EXA010)."), check
        assert (f.expected, f.actual, f.evidence, f.remediation) == ("", problem, (), ""), check


def test_an_ambiguous_role_group_blocks_the_path_checks_word_for_word(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    (rg,) = (r for r in compliant.role_groups if r.name == RG_NAME)
    twin = dataclasses.replace(rg, identity=rg.identity + "2", distinguished_name="CN=twin", guid="g2", members=())
    found = run(policy, dataclasses.replace(compliant, role_groups=(*compliant.role_groups, twin)))
    problem = f"2 role groups are named or displayed as '{RG_NAME}'; rename so one is meant"
    evidence = tuple(
        f"RoleGroup Identity={r.identity!r} Name={r.name!r} DisplayName={r.display_name!r} Guid={r.guid}"
        for r in (rg, twin)
    )
    assert found["EXA010"].evidence == evidence
    for check in ("EXA011", "EXA012", "EXA013", "EXA014"):
        f = found[check]
        assert (f.status, f.actual, f.evidence) == (Status.ERROR, problem, evidence), check


# --- EXA001 -------------------------------------------------------------------------------------------------------


def test_exa001_app_pass_names_a_service_principal() -> None:
    found = run(exo_policy(), online_snapshot())["EXA001"]
    assert (found.status, found.message) == (
        Status.PASS,
        "The service principal CallPro CalendarSync exists and is enabled.",
    )
    assert (found.expected, found.actual) == ("CallPro CalendarSync exists and is enabled", "found, enabled")


@pytest.mark.parametrize(("sam", "shown"), [("svcSA", "svcSA"), ("", "svcServiceAccount")])
def test_exa001_a_disabled_account_is_enabled_by_its_sam_account_name(
    policy: LoadedPolicy, compliant: Snapshot, sam: str, shown: str
) -> None:
    user = dataclasses.replace(compliant.users[0], account_disabled=True, sam_account_name=sam)
    found = run(policy, dataclasses.replace(compliant, users=(user,)))["EXA001"]
    assert found.status is Status.FAIL
    assert found.remediation == f"Enable-ADAccount -Identity '{shown}'  # AD module"


# --- EXA011 -------------------------------------------------------------------------------------------------------


def test_exa011_without_an_assignment_word_for_word(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = dataclasses.replace(
        compliant, role_assignments=tuple(a for a in compliant.role_assignments if a.name != ON_PATH)
    )
    found = run(policy, snap)["EXA011"]
    assert (found.status, found.message) == (
        Status.FAIL,
        f"No assignment of ApplicationImpersonation to '{RG_NAME}' exists to judge (see EXA010).",
    )
    assert (found.expected, found.actual) == ("an enabled, Regular assignment", "no assignment")
    assert found.remediation == (
        f"New-ManagementRoleAssignment -Role 'ApplicationImpersonation' -SecurityGroup '{RG_NAME}' "
        "-CustomRecipientWriteScope 'Scope-CallPro Calendar Access'"
    )


def test_exa011_every_assignment_that_grants_nothing_is_named(policy: LoadedPolicy, compliant: Snapshot) -> None:
    (on_path,) = (a for a in compliant.role_assignments if a.name == ON_PATH)
    others = tuple(a for a in compliant.role_assignments if a.name != ON_PATH)
    disabled = dataclasses.replace(on_path, enabled=False)
    second = dataclasses.replace(on_path, name="AI-2", identity="AI-2", enabled=False)
    delegating = dataclasses.replace(on_path, name="AI-D", identity="AI-D", delegation_type="Delegating")
    snap = dataclasses.replace(compliant, role_assignments=(*others, disabled, second, delegating))
    found = run(policy, snap)["EXA011"]
    assert found.message == (
        f"No assignment of ApplicationImpersonation to '{RG_NAME}' grants anything: '{ON_PATH}' is disabled; 'AI-2' is "
        "disabled; 'AI-D' is Delegating: it only lets its holder assign the role to others and grants no "
        "impersonation."
    )
    assert found.actual == "Regular, Enabled=False; Regular, Enabled=False; Delegating, Enabled=True"
    assert found.remediation == (
        f"Set-ManagementRoleAssignment -Identity '{ON_PATH}' -Enabled $true\n"
        "Set-ManagementRoleAssignment -Identity 'AI-2' -Enabled $true"
    )


# --- EXA014 -------------------------------------------------------------------------------------------------------


def test_exa014_several_problems_word_for_word(tmp_path: Path, compliant: Snapshot) -> None:
    policy = policy_with(
        tmp_path, "exactRoles: [ApplicationImpersonation]", "exactRoles: [Mail Recipients, ApplicationImpersonation]"
    )
    groups = tuple(
        dataclasses.replace(r, roles=(*r.roles, "View-Only Configuration")) if r.name == RG_NAME else r
        for r in compliant.role_groups
    )
    view = assignment("View-Only Configuration-CallPro", "View-Only Configuration", RG + RG_NAME)
    snap = dataclasses.replace(compliant, role_groups=groups, role_assignments=(*compliant.role_assignments, view))
    found = run(policy, snap)["EXA014"]
    assert found.message == (
        f"Role group '{RG_NAME}': extra role 'View-Only Configuration'; missing role 'Mail Recipients'."
    )
    assert found.remediation == (
        "Remove-ManagementRoleAssignment -Identity 'View-Only Configuration-CallPro' -Confirm:$false\n"
        f"New-ManagementRoleAssignment -Role 'Mail Recipients' -SecurityGroup '{RG_NAME}'"
    )


def _renamed_account(compliant: Snapshot) -> Snapshot:
    """The service account's records with a different value in every name field, the identity unchanged."""
    user = dataclasses.replace(
        compliant.users[0],
        name="Service Account",
        sam_account_name="svcsa",
        user_principal_name="svc.upn@contoso.com",
        windows_email_address="svc.mail@contoso.com",
    )
    recipients = tuple(
        dataclasses.replace(r, name="svc recipient", alias="svcalias") if r.identity == SVC else r
        for r in compliant.recipients
    )
    return dataclasses.replace(compliant, users=(user,), recipients=recipients)


@pytest.mark.parametrize(
    "token",
    [
        "svcServiceAccount",  # the last part of the member's identity
        "Service Account",  # the user's Name
        "svcsa",  # SamAccountName
        "svc.upn@contoso.com",  # UserPrincipalName
        "svc.mail@contoso.com",  # WindowsEmailAddress
        "svc recipient",  # the recipient's Name
        "svcalias",  # Alias
        "CallPro Service Account",  # DisplayName
        "svcServiceAccount@contoso.com",  # an SMTP address
    ],
)
def test_exa014_a_member_is_known_by_each_of_its_names(tmp_path: Path, compliant: Snapshot, token: str) -> None:
    policy = policy_with(tmp_path, "exactMembers: [svcServiceAccount]", f"exactMembers: ['{token}']")
    found = run(policy, _renamed_account(compliant))["EXA014"]
    assert found.status is Status.PASS, found.message


@pytest.mark.parametrize("token", ["Holders Name", "Holders Display"])
def test_exa014_a_group_member_is_known_by_its_name_and_display_name(
    tmp_path: Path, compliant: Snapshot, token: str
) -> None:
    holders = dataclasses.replace(usg("Holders", ()), name="Holders Name", display_name="Holders Display")
    groups = tuple(
        dataclasses.replace(r, members=(holders.identity,)) if r.name == RG_NAME else r for r in compliant.role_groups
    )
    snap = dataclasses.replace(compliant, groups=(*compliant.groups, holders), role_groups=groups)
    policy = policy_with(tmp_path, "exactMembers: [svcServiceAccount]", f"exactMembers: ['{token}']")
    found = run(policy, snap)["EXA014"]
    assert found.status is Status.PASS, found.message


# --- EXA015 -------------------------------------------------------------------------------------------------------


def test_exa015_several_extra_roles_word_for_word(tmp_path: Path, compliant: Snapshot) -> None:
    policy = policy_with(
        tmp_path, "otherRolesAllowed: []", "otherRolesAllowed: [Mail Recipients, View-Only Configuration]"
    )
    found = run(policy, compliant)["EXA015"]
    assert found.expected == "roles: ApplicationImpersonation, Mail Recipients, View-Only Configuration"
    grants = (
        assignment("Mailbox Search-svc", "Mailbox Search", SVC, role_assignee_type="User"),
        assignment("Address Lists-svc", "Address Lists", SVC, role_assignee_type="User"),
    )
    exa015 = run(
        load_policy(CALLPRO), dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, *grants))
    )["EXA015"]
    assert exa015.status is Status.FAIL
    assert exa015.message == (
        "svcServiceAccount holds 2 role(s) beyond the allowed ones: 'Mailbox Search' via direct to svcServiceAccount; "
        "'Address Lists' via direct to svcServiceAccount."
    )
    assert exa015.actual == "extra roles: Address Lists, Mailbox Search"
    assert exa015.remediation == (
        "Remove-ManagementRoleAssignment -Identity 'Mailbox Search-svc' -Confirm:$false\n"
        "Remove-ManagementRoleAssignment -Identity 'Address Lists-svc' -Confirm:$false"
    )


# --- EXA010 -------------------------------------------------------------------------------------------------------

EXPECTED_010 = f"ApplicationImpersonation assigned to roleGroup '{RG_NAME}', reaching svcServiceAccount"


def test_exa010_failures_say_what_was_expected(policy: LoadedPolicy, compliant: Snapshot) -> None:
    missing = dataclasses.replace(
        compliant, role_assignments=tuple(a for a in compliant.role_assignments if a.name != ON_PATH)
    )
    assert (run(policy, missing)["EXA010"].status, run(policy, missing)["EXA010"].expected) == (
        Status.FAIL,
        EXPECTED_010,
    )
    groups = tuple(
        dataclasses.replace(rg, members=tuple(m for m in rg.members if m != SVC)) if rg.name == RG_NAME else rg
        for rg in compliant.role_groups
    )
    outside = run(policy, dataclasses.replace(compliant, role_groups=groups))["EXA010"]
    assert (outside.status, outside.expected) == (Status.FAIL, EXPECTED_010)


# --- EXA012 for an app: CustomResourceScope, or a CustomRecipientScope naming the scope ---------------------------


@pytest.mark.parametrize(
    ("write_scope", "status"), [("CustomRecipientScope", Status.PASS), ("Organization", Status.FAIL)]
)
def test_exa012_app_scoped_by_a_custom_recipient_write_scope(write_scope: str, status: Status) -> None:
    online = online_snapshot()
    scoped = app_assignment(
        custom_resource_scope=None, recipient_write_scope=write_scope, custom_recipient_write_scope=APP_SCOPE
    )
    assignments = (*(a for a in online.role_assignments if a.role != APP_ROLE), scoped)
    found = run(exo_policy(), dataclasses.replace(online, role_assignments=assignments))["EXA012"]
    assert found.status is status, found.message


def test_exa012_administrative_unit_expects_the_unit_alone(tmp_path: Path) -> None:
    snap = au_snapshot(online_snapshot(), ("ad.viseur@contoso.com", "bea.buiten@contoso.com"))
    found = run(au_policy_in(tmp_path), snap)["EXA012"]
    assert found.status is Status.PASS
    assert found.message == f"{APP_ROLE} to '{SP_ID}' is limited by '{AU_ID}'."
    assert (found.expected, found.actual) == (
        f"RecipientAdministrativeUnitScope '{AU_ID}'",
        f"RecipientAdministrativeUnitScope '{AU_ID}'",
    )


def test_exa012_every_wrong_scope_is_named_word_for_word(policy: LoadedPolicy, compliant: Snapshot) -> None:
    (on_path,) = (a for a in compliant.role_assignments if a.name == ON_PATH)
    others = tuple(a for a in compliant.role_assignments if a.name != ON_PATH)

    def variant(name: str, write_scope: str, **scopes: str) -> RoleAssignment:
        fields: dict[str, str | None] = {
            "custom_recipient_write_scope": None,
            "custom_resource_scope": None,
            "recipient_administrative_unit_scope": None,
            "recipient_ou_scope": None,
        }
        fields.update(scopes)
        return dataclasses.replace(
            on_path,
            name=name,
            identity=name,
            recipient_write_scope=write_scope,
            **fields,  # type: ignore[arg-type]
        )

    wrong = (
        variant("A1", "CustomRecipientScope", custom_recipient_write_scope="Other Scope", recipient_ou_scope="x/y"),
        variant("A2", "OU", recipient_ou_scope="contoso.com/Sales"),
        variant("A3", "CustomRecipientScope", custom_resource_scope="Resource Scope"),
        variant("A4", "CustomRecipientScope", recipient_administrative_unit_scope="Unit 1"),
        variant("A5", "MyGAL"),
    )
    found = run(policy, dataclasses.replace(compliant, role_assignments=(*others, *wrong)))["EXA012"]
    want = "not 'Scope-CallPro Calendar Access'"
    assert (found.status, found.severity) == (Status.FAIL, Severity.HIGH)
    assert found.message == (
        f"'A1' has RecipientWriteScope CustomRecipientScope 'Other Scope', {want}; 'A2' has RecipientWriteScope OU "
        f"'contoso.com/Sales', {want}; 'A3' has RecipientWriteScope CustomRecipientScope 'Resource Scope', {want}; "
        f"'A4' has RecipientWriteScope CustomRecipientScope 'Unit 1', {want}; 'A5' has RecipientWriteScope MyGAL, "
        f"{want}."
    )
    assert found.actual == (
        "CustomRecipientScope Other Scope; OU; CustomRecipientScope Resource Scope; CustomRecipientScope; MyGAL"
    )
    assert found.remediation == "\n".join(
        f"Set-ManagementRoleAssignment -Identity 'A{i}' -CustomRecipientWriteScope 'Scope-CallPro Calendar Access'"
        for i in range(1, 6)
    )
    # One unscoped among them makes the finding critical and says so.
    unscoped = variant("A6", "Organization")
    found = run(policy, dataclasses.replace(compliant, role_assignments=(*others, wrong[0], unscoped)))["EXA012"]
    assert found.severity is Severity.CRITICAL
    assert found.message.endswith(
        "; 'A6' is unscoped (RecipientWriteScope Organization): it reaches every mailbox in the organization."
    )
    assert found.actual == "CustomRecipientScope Other Scope; Organization"


# --- EXA013 -------------------------------------------------------------------------------------------------------

AI = "ApplicationImpersonation"


def test_exa013_several_scoped_paths_word_for_word(policy: LoadedPolicy, compliant: Snapshot) -> None:
    legacy = role_group("Legacy", (SVC,), (AI,))
    direct = assignment(
        "AI-svc",
        AI,
        SVC,
        role_assignee_type="User",
        recipient_write_scope="CustomRecipientScope",
        custom_recipient_write_scope="Other",
    )
    nested = assignment(
        "AI-Legacy", AI, RG + "Legacy", recipient_write_scope="OU", recipient_ou_scope="contoso.com/Sales"
    )
    snap = dataclasses.replace(
        compliant,
        role_groups=(*compliant.role_groups, legacy),
        role_assignments=(*compliant.role_assignments, direct, nested),
    )
    found = run(policy, snap)["EXA013"]
    lines = (
        "'AI-svc' (CustomRecipientScope 'Other') via direct to svcServiceAccount; 'AI-Legacy' (OU 'contoso.com/Sales') "
        "via svcServiceAccount -> role group 'Legacy'"
    )
    assert (found.status, found.severity) == (Status.FAIL, Severity.HIGH)  # scoped: they reach less than everyone
    assert found.message == f"2 other {AI} assignment(s) reach svcServiceAccount: {lines}."
    assert found.actual == lines
    assert found.remediation == (
        "Remove-ManagementRoleAssignment -Identity 'AI-svc' -Confirm:$false\n"
        f"Remove-RoleGroupMember -Identity 'Legacy' -Member '{SVC_UPN}' -Confirm:$false\n"
        f"# or, if nobody else in 'Legacy' needs '{AI}':\n"
        "# Remove-ManagementRoleAssignment -Identity 'AI-Legacy' -Confirm:$false"
    )


def test_exa013_an_assignment_without_a_write_scope_is_unscoped(policy: LoadedPolicy, compliant: Snapshot) -> None:
    blank = assignment("AI-blank", AI, SVC, role_assignee_type="User", recipient_write_scope="")
    found = run(policy, dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, blank)))["EXA013"]
    assert (found.status, found.severity) == (Status.FAIL, Severity.CRITICAL)
    assert found.actual == "'AI-blank' (unscoped: whole organization) via direct to svcServiceAccount"


def test_exa015_an_allowed_other_role_is_no_finding(tmp_path: Path, compliant: Snapshot) -> None:
    policy = policy_with(tmp_path, "otherRolesAllowed: []", "otherRolesAllowed: [mail recipients]")
    grants = (
        assignment("Mail Recipients-svc", "Mail Recipients", SVC, role_assignee_type="User"),
        assignment("Mailbox Search-svc", "Mailbox Search", SVC, role_assignee_type="User"),
    )
    snap = dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, *grants))
    found = run(policy, snap)["EXA015"]
    assert found.actual == "extra roles: Mailbox Search"
    only_allowed = dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, grants[0]))
    assert run(policy, only_allowed)["EXA015"].status is Status.PASS


def test_exa010_an_on_path_assignment_that_reaches_nobody_is_error_not_pass(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    # RoleAssignee names the policy's role group but RoleAssigneeType says RoleAssignmentPolicy (Exchange writes no
    # such record; a hostile or broken reply can): it reaches the account by no path, so EXA010 cannot vouch for one.
    ours = [a for a in compliant.role_assignments if a.role == "ApplicationImpersonation"]
    assert ours
    broken = tuple(
        dataclasses.replace(a, role_assignee_type="RoleAssignmentPolicy") if a in ours else a
        for a in compliant.role_assignments
    )
    found = run(policy, dataclasses.replace(compliant, role_assignments=broken))["EXA010"]
    assert found.status is Status.ERROR
    assert found.message == (
        "The assignment(s) of ApplicationImpersonation to roleGroup 'CallPro Calendar Access' reach svcServiceAccount "
        "by no path exaudit can follow (their RoleAssigneeType contradicts the assignee): re-collect, or check them "
        "in Exchange with Get-ManagementRoleAssignment."
    )
    assert found.actual == "assignment(s) on the path that reach nothing"
    assert found.expected == (
        "ApplicationImpersonation assigned to roleGroup 'CallPro Calendar Access', reaching svcServiceAccount"
    )
    assert found.evidence
    assert any("RoleAssigneeType=RoleAssignmentPolicy" in line for line in found.evidence)
