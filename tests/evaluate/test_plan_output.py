"""`exaudit plan` output for every shipped case: each command once, each member removed once, non-Exchange steps
marked, and when to re-check said (Exchange caches permissions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from audit.evaluate import remediation_plan
from audit.evaluate.plan import NON_EXCHANGE_NOTE
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import load

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "snapshots"
CASES = yaml.safe_load((DATA / "cases.yaml").read_text())
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
FAILING = sorted(name for name, checks in CASES.items() if checks and "FAIL" in checks.values())


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(ROOT / "policies" / "callpro.yaml")


@pytest.mark.parametrize("case", FAILING)
def test_every_failing_case_has_an_ordered_deduplicated_plan(case: str, policy: LoadedPolicy) -> None:
    snapshot, _ = load(DATA / f"{case}.snapshot.json")
    plan = remediation_plan(policy, snapshot, NOW)
    commands = [line for line in plan.splitlines() if line and not line.startswith("#")]
    assert len(commands) == len(set(commands)), "a command is printed once"
    assert "Then re-check:" in plan
    assert "caches permissions" in plan
    for n, line in enumerate(plan.splitlines()):
        if line.startswith(("Enable-ADAccount", "Set-ADUser")):
            assert plan.splitlines()[n - 1] == NON_EXCHANGE_NOTE


def test_the_nested_group_is_removed_once_after_its_members_are_added(policy: LoadedPolicy) -> None:
    snapshot, _ = load(DATA / "nested-group.snapshot.json")
    plan = remediation_plan(policy, snapshot, NOW)
    removals = re.findall(r"^Remove-DistributionGroupMember .*-Member '([^']*)'", plan, re.MULTILINE)
    assert removals == ["Field Sales North"]  # not also as FieldSalesNorth@contoso.com
    assert plan.index("Add-DistributionGroupMember") < plan.index("Remove-DistributionGroupMember")


def test_enabling_an_ad_account_is_marked_as_not_exchange(policy: LoadedPolicy) -> None:
    snapshot, _ = load(DATA / "service-account-disabled.snapshot.json")
    plan = remediation_plan(policy, snapshot, NOW)
    lines = plan.splitlines()
    enable = next(n for n, line in enumerate(lines) if line.startswith("Enable-ADAccount"))
    assert lines[enable - 1] == NON_EXCHANGE_NOTE
