"""YAML cases: each hand-written, sealed snapshot gives exactly its listed non-PASS checks (sqlfluff-style)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from audit.evaluate import CHECKS, ORDER, evaluate, remediation_plan
from audit.evaluate.checks import APP_CHECKS
from audit.findings import Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import load

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "snapshots"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CASES: dict[str, dict[str, str]] = dict(YAML(typ="safe").load((DATA / "cases.yaml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(ROOT / "policies" / "callpro.yaml")


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_case(case: str, policy: LoadedPolicy) -> None:
    snapshot, _ = load(DATA / f"{case}.snapshot.json")
    findings = evaluate(policy, snapshot, NOW)
    # The Exchange Online app checks are not evaluated for a service account (tests/evaluate/test_apps.py has them).
    assert [f.check_id for f in findings] == [c for c in ORDER if c not in APP_CHECKS], "one per check, in order"
    got = {f.check_id: str(f.status) for f in findings if f.status is not Status.PASS}
    assert got == CASES[case], "\n".join(f"{f.check_id} {f.status}: {f.message}" for f in findings)
    for f in findings:
        assert f.message
        assert f.location is not None
        assert f.location.line >= 1
        assert f.title == CHECKS[f.check_id].title
        if f.status is Status.FAIL:
            assert f.remediation, f"{f.check_id} FAIL without remediation"
            assert f.evidence or f.actual, f"{f.check_id} FAIL without evidence"
        else:
            assert not f.remediation


def test_every_case_file_is_listed_and_sealed() -> None:
    content = {p.stem for p in (DATA / "content").glob("*.json")}
    assert content == set(CASES)
    import importlib.util

    spec = importlib.util.spec_from_file_location("seal", DATA / "seal.py")
    assert spec is not None
    assert spec.loader is not None
    seal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seal)
    assert seal.main(["--check"]) == 0, "run tests/data/snapshots/seal.py: a sealed snapshot is stale"


def test_every_check_fails_somewhere() -> None:
    failing = {check for expected in CASES.values() for check in expected}
    assert set(ORDER) - APP_CHECKS <= failing, f"no case makes {sorted(set(ORDER) - APP_CHECKS - failing)} fail"


@pytest.mark.parametrize("case", ["unscoped-assignment", "nested-group", "compliant"])
def test_plan(case: str, policy: LoadedPolicy) -> None:
    snapshot, _ = load(DATA / f"{case}.snapshot.json")
    plan = remediation_plan(policy, snapshot, NOW)
    assert plan.startswith("# exaudit plan for policy 'callpro-calendar-access'")
    if case == "compliant":
        assert "Nothing to change" in plan
    if case == "unscoped-assignment":
        assert (
            "Set-ManagementRoleAssignment -Identity 'ApplicationImpersonation-CallPro Calendar Access' "
            "-CustomRecipientWriteScope 'Scope-CallPro Calendar Access'" in plan
        )
    if case == "nested-group":
        group = "-Identity 'SecurityGroup-CallPro Calendar Access'"
        add = plan.index(f"Add-DistributionGroupMember {group} -Member 'fien.field@contoso.com'")
        remove = plan.index(f"Remove-DistributionGroupMember {group} -Member 'Field Sales North'")
        assert add < remove, "flatten: add the nested member before removing the nested group"


def test_plan_creates_what_narrowing_needs_first(policy: LoadedPolicy) -> None:
    snapshot, _ = load(DATA / "scope-missing.snapshot.json")
    plan = remediation_plan(policy, snapshot, NOW)
    commands = [line for line in plan.splitlines() if line and not line.startswith("#")]
    assert len(commands) == len(set(commands)), "a shared command is printed once"
    create_group = plan.index("New-DistributionGroup -Name 'SecurityGroup-CallPro Calendar Access'")
    create_scope = plan.index("New-ManagementScope -Name 'Scope-CallPro Calendar Access'")
    narrow = plan.index("Set-ManagementRoleAssignment -Identity 'ApplicationImpersonation-CallPro Calendar Access'")
    assert create_group < create_scope < narrow
    assert (
        "Add-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' -Member 'ad.viseur@contoso.com'"
        in plan
    )
