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
from tests.evaluate.test_semantics import SVC, assignment, by_id, policy_with, role_group

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
