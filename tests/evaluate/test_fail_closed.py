"""Could not tell is ERROR, never PASS and never hidden: each test takes one observation from the compliant snapshot."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.findings import AuditResult, ExitCode, Finding, RunInfo, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import CollectionCall, Snapshot, load
from tests.evaluate.test_semantics import SVC, assignment, by_id, policy_with, role_group, usg

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "snapshots"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CALLPRO = ROOT / "policies" / "callpro.yaml"
IMPERSONATION = "ApplicationImpersonation"


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


def failed(snapshot: Snapshot, cmdlet: str, **empty: object) -> Snapshot:
    """The snapshot as the collector leaves it when ``cmdlet`` failed: the call not ok, its records empty."""
    calls = tuple(
        CollectionCall(c.cmdlet, c.parameters, False, 0, c.duration_ms, f"{cmdlet} timed out", "Timeout")
        if c.cmdlet == cmdlet
        else c
        for c in snapshot.calls
    )
    return dataclasses.replace(snapshot, calls=calls, **empty)  # type: ignore[arg-type]


def exit_code(findings: tuple[Finding, ...]) -> ExitCode:
    return AuditResult(RunInfo("t", "t", (), "t"), findings).exit_code


# --- waivers ----------------------------------------------------------------------------------------------------


def test_waiver_never_hides_an_error(tmp_path: Path, compliant: Snapshot) -> None:
    # A waiver accepts a known deviation; it cannot accept a state nobody observed.
    waived = policy_with(
        tmp_path,
        "waivers: []\n",
        "waivers:\n  - {check: EXA031, reason: visible until migration, expires: 2027-01-31}\n",
    )
    unread = failed(compliant, "Get-DistributionGroup")
    unread = dataclasses.replace(
        unread,
        groups=tuple(
            dataclasses.replace(g, hidden_from_address_lists_enabled=None, member_join_restriction=None)
            for g in unread.groups
        ),
    )
    found = by_id(evaluate(waived, unread, NOW))
    assert found["EXA031"].status is Status.ERROR
    assert found["EXA031"].waived_by is None  # not reported as waived
    assert "waivers[0] for EXA031 does not apply" in found["EXA031"].message
    assert exit_code(tuple(found.values())) is ExitCode.UNKNOWN_STATE
    # The waiver still holds for what it was written for.
    assert by_id(evaluate(waived, load(DATA / "group-visible.snapshot.json")[0], NOW))["EXA031"].status is Status.SKIP


# --- EXA040 reads the principal's paths: it needs the users and role groups that make them ---------------------


def test_effective_scope_unknown_when_role_groups_were_not_read(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # An unscoped assignment reaches svc through a role group; with Get-RoleGroup failed nobody sees that path, and
    # judging only the scope the policy names would PASS an organization-wide grant.
    legacy = role_group("Legacy", (SVC,), (IMPERSONATION,))
    snap = dataclasses.replace(
        compliant,
        role_assignments=(*compliant.role_assignments, assignment("AI-Legacy", IMPERSONATION, legacy.identity)),
    )
    assert (
        by_id(evaluate(policy, dataclasses.replace(snap, role_groups=(*snap.role_groups, legacy)), NOW))[
            "EXA040"
        ].status
        is Status.FAIL
    )
    found = by_id(evaluate(policy, failed(snap, "Get-RoleGroup", role_groups=()), NOW))
    assert found["EXA040"].status is Status.ERROR
    assert "Get-RoleGroup" in found["EXA040"].message


def test_effective_scope_unknown_when_the_principal_was_not_read(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = by_id(evaluate(policy, failed(compliant, "Get-User", users=()), NOW))
    assert found["EXA040"].status is Status.ERROR


def test_effective_scope_unknown_when_the_principal_is_ambiguous(policy: LoadedPolicy, compliant: Snapshot) -> None:
    (svc,) = compliant.users
    twin = dataclasses.replace(svc, identity="contoso.com/Users/svcTwin", distinguished_name="CN=svcTwin", name="twin")
    found = by_id(evaluate(policy, dataclasses.replace(compliant, users=(svc, twin)), NOW))
    assert found["EXA001"].status is Status.ERROR
    assert found["EXA040"].status is Status.ERROR


# --- an assignee exaudit cannot resolve may hold the principal ---------------------------------------------------


@pytest.mark.parametrize("kind", ["SecurityGroup", "RoleGroup"])
def test_unresolved_group_assignee_is_error_not_pass(policy: LoadedPolicy, compliant: Snapshot, kind: str) -> None:
    # The group is not among the groups read (another domain, outside the auditing account's view): whether svc is
    # a member is unknown, so whether this unscoped assignment reaches it is unknown.
    ghost = assignment("AI-Ghost", IMPERSONATION, "fabrikam.com/Groups/Ghost", role_assignee_type=kind)
    snap = dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, ghost))
    found = by_id(evaluate(policy, snap, NOW))
    for check in ("EXA013", "EXA040"):
        assert found[check].status is Status.ERROR, (check, found[check].message)
        assert "fabrikam.com/Groups/Ghost" in found[check].message
    assert found["EXA015"].status is Status.PASS  # ApplicationImpersonation is the allowed role
    # Resolved, the same group is decided (svc not a member: not a path).
    known = usg("Ghost", ("contoso.com/Users/someoneElse",))
    known = dataclasses.replace(known, identity="fabrikam.com/Groups/Ghost")
    found = by_id(evaluate(policy, dataclasses.replace(snap, groups=(*snap.groups, known)), NOW))
    assert {found[c].status for c in ("EXA013", "EXA015", "EXA040")} == {Status.PASS}


def test_unresolved_assignee_of_another_role_is_error_for_exa015(policy: LoadedPolicy, compliant: Snapshot) -> None:
    ghost = assignment("MR-Ghost", "Mail Recipients", "fabrikam.com/Groups/Ghost", role_assignee_type="SecurityGroup")
    found = by_id(
        evaluate(policy, dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, ghost)), NOW)
    )
    assert found["EXA015"].status is Status.ERROR
    assert found["EXA013"].status is Status.PASS
    assert found["EXA040"].status is Status.PASS
    disabled = dataclasses.replace(ghost, enabled=False)  # grants nothing, whoever its members are
    found = by_id(
        evaluate(policy, dataclasses.replace(compliant, role_assignments=(*compliant.role_assignments, disabled)), NOW)
    )
    assert found["EXA015"].status is Status.PASS


def test_assignment_to_another_user_is_not_a_path(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # Get-User reads only the principals: another user's assignment is unresolved by design and reaches no one else.
    other = assignment("AI-Bob", IMPERSONATION, "contoso.com/Users/bob", role_assignee_type="User")
    found = by_id(evaluate(policy, dataclasses.replace(compliant, role_assignments=(other,)), NOW))
    assert found["EXA013"].status is Status.PASS


# --- a principal the snapshot never asked about ------------------------------------------------------------------


def test_principal_never_read_is_error_not_absent(tmp_path: Path, compliant: Snapshot) -> None:
    # The snapshot was collected for svcServiceAccount (Get-User -Identity svcServiceAccount@contoso.com); evaluated
    # offline against a policy for another account, "no such user" is not an observation but a question never asked.
    other = policy_with(
        tmp_path, "serviceAccount: svcServiceAccount@contoso.com", "serviceAccount: other@contoso.com", "other.yaml"
    )
    found = by_id(evaluate(other, compliant, NOW))
    assert found["EXA001"].status is Status.ERROR
    assert "Get-User" in found["EXA001"].message
    assert found["EXA040"].status is Status.ERROR
    assert Status.PASS not in {found[c].status for c in ("EXA010", "EXA011", "EXA012", "EXA013", "EXA015")}


# --- probes prove only the operation they ran --------------------------------------------------------------------


def test_read_probes_do_not_prove_write_access(tmp_path: Path, compliant: Snapshot) -> None:
    # The compliant snapshot was probed with calendarRead; a policy that needs calendarWrite was never tested for it.
    write = policy_with(tmp_path, "operation: calendarRead", "operation: calendarWrite", "write.yaml")
    found = by_id(evaluate(write, compliant, NOW))
    assert found["EXA050"].status is Status.ERROR
    assert "calendarRead" in found["EXA050"].message
    assert found["EXA051"].status is Status.PASS  # a refused impersonation is refused for every operation
    # Write probes prove read access.
    written = dataclasses.replace(
        compliant, probes=tuple(dataclasses.replace(p, operation="calendarWrite") for p in compliant.probes)
    )
    assert by_id(evaluate(load_policy(CALLPRO), written, NOW))["EXA050"].status is Status.PASS


# --- the path through a security group needs Get-Group ---------------------------------------------------------


def test_security_group_path_unknown_without_get_group(tmp_path: Path, compliant: Snapshot) -> None:
    # With Get-Group failed "no security group is named X" is not an observation: EXA011 and EXA012 cannot tell.
    text = CALLPRO.read_text(encoding="utf-8")
    start = text.index("    roleGroup:\n")
    end = text.index("  # Without a scope")
    path = tmp_path / "usg.yaml"
    path.write_text(text[:start] + "    securityGroup: {name: CallPro Holders}\n" + text[end:], encoding="utf-8")
    usg_policy = load_policy(path)
    holders = usg("CallPro Holders", (SVC,))
    scoped = assignment(
        "AI-Holders",
        IMPERSONATION,
        holders.identity,
        role_assignee_type="SecurityGroup",
        recipient_write_scope="CustomRecipientScope",
        custom_recipient_write_scope="Scope-CallPro Calendar Access",
    )
    snap = dataclasses.replace(
        compliant,
        groups=(*compliant.groups, holders),
        role_assignments=(*compliant.role_assignments, scoped),
    )
    found = by_id(evaluate(usg_policy, snap, NOW))
    assert {found[c].status for c in ("EXA010", "EXA011", "EXA012")} == {Status.PASS}
    found = by_id(evaluate(usg_policy, failed(snap, "Get-Group", groups=()), NOW))
    for check in ("EXA010", "EXA011", "EXA012"):
        assert found[check].status is Status.ERROR, (check, found[check].message)
