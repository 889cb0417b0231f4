"""What every check reads (audit.evaluate.context): evidence lines, which assignments reach a service account, and
the ERROR that replaces a PASS when an assignee was never read.

Killed mutants of issue 14's mutation run: an evidence line quotes an app's CustomResourceScope and an empty
CustomRecipientWriteScope as ''; an assignment to a role assignment policy is never a path, whatever its name; a
direct assignment reaches the account when its assignee names it by any name (UPN) or by a DN another record
claims; the ERROR for unread assignees keeps the check's expectation and evidence, quotes each assignment, and
names at most ten, comma-separated; an app is reached only by a ServicePrincipal assignment naming it by any of
its ids (RoleAssignee or RoleAssigneeName).
"""

from __future__ import annotations

import dataclasses

import pytest

from audit.evaluate import evaluate
from audit.evaluate.context import Context, assignment_line, grants_access
from audit.evaluate.directory import Directory
from audit.findings import Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import RoleAssignment, Snapshot, load
from tests.evaluate.app_snapshot import APP_ID, ROLE, SP_ID, exo_policy, online_snapshot
from tests.evaluate.test_semantics import CALLPRO, DATA, NOW, assignment, by_id

SVC_DN = "CN=svcServiceAccount,CN=Users,DC=contoso,DC=com"
IMPERSONATION = "ApplicationImpersonation"


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


@pytest.fixture(scope="module")
def online() -> Snapshot:
    return online_snapshot()


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


def _context(policy: LoadedPolicy, snap: Snapshot) -> Context:
    return Context(policy=policy, snapshot=snap, directory=Directory(snap), now=NOW)


def test_an_evidence_line_quotes_the_assignment_as_exchange_shows_it() -> None:
    app = assignment(
        "Calendars-App",
        "Application Calendars.ReadWrite",
        "7c3b5a1e",
        role_assignee_type="ServicePrincipal",
        recipient_write_scope="CustomResourceScope",
        custom_resource_scope="Scope-CallPro",
    )
    assert assignment_line(app) == (
        "Identity='Calendars-App' Role='Application Calendars.ReadWrite' RoleAssignee='7c3b5a1e' "
        "RoleAssigneeType=ServicePrincipal RoleAssignmentDelegationType=Regular Enabled=True "
        "RecipientWriteScope=CustomResourceScope CustomRecipientWriteScope='' CustomResourceScope='Scope-CallPro'"
    )
    onprem = assignment("AI-x", IMPERSONATION, "g", custom_recipient_write_scope="Scope-A")
    assert assignment_line(onprem).endswith(" RecipientWriteScope=Organization CustomRecipientWriteScope='Scope-A'")


@pytest.mark.parametrize(
    ("enabled", "delegation", "grants"),
    [(True, "Regular", True), (True, "regular", True), (False, "Regular", False), (True, "DelegatingOrgWide", False)],
)
def test_only_an_enabled_regular_assignment_grants(enabled: bool, delegation: str, grants: bool) -> None:
    a = assignment("a", IMPERSONATION, "g", enabled=enabled, delegation_type=delegation)
    assert grants_access(a) is grants


def test_an_assignment_policy_is_no_path_even_named_like_the_accounts_role_group(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    ctx = _context(policy, compliant)
    rg = "contoso.com/Microsoft Exchange Security Groups/CallPro Calendar Access"
    as_group = assignment("MyBase-rg", "MyBaseOptions", rg)
    assert ctx.reaches(as_group) == "svcServiceAccount -> role group 'CallPro Calendar Access'"
    assert ctx.reaches(dataclasses.replace(as_group, role_assignee_type="RoleAssignmentPolicy")) is None


def test_a_direct_assignment_naming_the_account_by_its_upn_reaches_it(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    ctx = _context(policy, compliant)
    by_upn = assignment("AI-upn", IMPERSONATION, "svcServiceAccount@contoso.com", role_assignee_type="User")
    assert ctx.reaches(by_upn) == "direct to svcServiceAccount"
    other = assignment("AI-bob", IMPERSONATION, "bob@contoso.com", role_assignee_type="User")
    assert ctx.reaches(other) is None


def test_a_direct_assignment_naming_the_accounts_dn_reaches_it(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # The account's recipient record is shown under another identity than its user record (Get-Recipient and
    # Get-User disagree on the form): the DN resolves to the recipient, and still names the account.
    recipients = tuple(
        dataclasses.replace(r, identity="contoso.com/Users/svc mailbox") if r.distinguished_name == SVC_DN else r
        for r in compliant.recipients
    )
    ctx = _context(policy, dataclasses.replace(compliant, recipients=recipients))
    by_dn = assignment("AI-dn", IMPERSONATION, SVC_DN, role_assignee_type="User")
    assert ctx.reaches(by_dn) == "direct to svcServiceAccount"


def test_only_a_service_principal_assignment_naming_the_app_reaches_it(online: Snapshot) -> None:
    ctx = _context(exo_policy(), online)
    by_id_ = assignment("A-1", ROLE, SP_ID, role_assignee_name="x", role_assignee_type="ServicePrincipal")
    assert ctx.reaches(by_id_) == "direct to service principal CallPro CalendarSync"
    by_name = dataclasses.replace(by_id_, role_assignee="x", role_assignee_name=APP_ID)
    assert ctx.reaches(by_name) == "direct to service principal CallPro CalendarSync"
    assert ctx.reaches(dataclasses.replace(by_id_, role_assignee_type="User")) is None
    other = dataclasses.replace(by_id_, role_assignee="00000000-0000-0000-0000-00000000beef")
    assert ctx.reaches(other) is None


def _ghosts(n: int) -> tuple[RoleAssignment, ...]:
    return tuple(
        assignment(
            f"AI-Ghost{i:02}", IMPERSONATION, f"fabrikam.com/Groups/Ghost{i:02}", role_assignee_type="SecurityGroup"
        )
        for i in range(n)
    )


def test_an_unread_assignee_turns_the_pass_into_an_error_that_says_why(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    (ghost,) = _ghosts(1)
    snap = dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, ghost))
    found = by_id(evaluate(policy, snap, NOW))["EXA013"]
    assert found.status is Status.ERROR
    assert found.message == (
        "Cannot tell whether 1 assignment(s) reach svcServiceAccount: their assignee is no group or role group that "
        "was read: 'fabrikam.com/Groups/Ghost00' (SecurityGroup, role ApplicationImpersonation). Whether "
        "svcServiceAccount is a member is unknown."
    )
    assert found.expected == "only the assignment to 'CallPro Calendar Access'"
    assert found.actual == "assignee not read"
    assert found.evidence == (assignment_line(ghost),)


def test_the_error_keeps_the_checks_evidence_and_names_ten_assignees(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # A disabled second assignment is evidence of EXA013's PASS ("ignored"); eleven unread assignees follow it.
    disabled = assignment(
        "AI-Disabled", IMPERSONATION, "contoso.com/Users/svcServiceAccount", role_assignee_type="User", enabled=False
    )
    ghosts = _ghosts(11)
    snap = dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, disabled, *ghosts))
    found = by_id(evaluate(policy, snap, NOW))["EXA013"]
    assert found.status is Status.ERROR
    assert found.message.startswith("Cannot tell whether 11 assignment(s) reach svcServiceAccount: ")
    assert (
        ": 'fabrikam.com/Groups/Ghost00' (SecurityGroup, role ApplicationImpersonation), 'fabrikam.com/Groups/Ghost01' "
        "(SecurityGroup, role ApplicationImpersonation), " in found.message
    )
    assert found.message.endswith(
        "'fabrikam.com/Groups/Ghost09' (SecurityGroup, role ApplicationImpersonation). Whether svcServiceAccount is a "
        "member is unknown."
    )
    assert "Ghost10" not in found.message
    assert found.evidence == (
        "ignored (Regular, Enabled=False, grants nothing): 'AI-Disabled' via direct to svcServiceAccount",
        *(assignment_line(g) for g in ghosts),
    )
