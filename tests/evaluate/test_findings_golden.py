"""Every finding of every snapshot case, word for word, and its remediation plan: golden files.

tests/evaluate/test_cases.py pins which checks pass; this pins what each finding says (message, expected,
actual, evidence, remediation, severity, waiver): the text an admin acts on. A changed word shows as a reviewable
diff. Regenerate after an intended change with ``EXAUDIT_REGEN_GOLDEN=1 pytest tests/evaluate`` (refused in CI)
and review the diff.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from audit.evaluate import evaluate, remediation_plan
from audit.findings import Finding
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import load
from tests.gates import check_golden

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "snapshots"
GOLDEN = ROOT / "tests" / "data" / "evaluate"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CASES = sorted(YAML(typ="safe").load((DATA / "cases.yaml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(ROOT / "policies" / "callpro.yaml")


def _block(name: str, text: str) -> list[str]:
    if not text:
        return []
    lines = text.splitlines() or [""]
    return [f"  {name}: {lines[0]}", *(f"  {' ' * len(name)}  {line}" for line in lines[1:])]


def render(findings: tuple[Finding, ...]) -> str:
    out: list[str] = []
    for f in findings:
        where = f" @{f.location.line}:{f.location.column}" if f.location is not None else ""
        out.append(f"{f.check_id} {f.status} {f.severity} policy={f.policy}{where}")
        out += _block("message", f.message)
        out += _block("expected", f.expected)
        out += _block("actual", f.actual)
        out += [f"  evidence: {line}" for line in f.evidence]
        out += _block("remediation", f.remediation)
        if f.waived_by is not None:
            out.append(f"  waived by: {f.waived_by}")
    return "\n".join(out) + "\n"


HINT = "regenerate with EXAUDIT_REGEN_GOLDEN=1 (outside CI) and review the diff"


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_findings_match_golden(case: str, policy: LoadedPolicy) -> None:
    snapshot, _ = load(DATA / f"{case}.snapshot.json")
    check_golden(GOLDEN / "findings" / f"{case}.txt", render(evaluate(policy, snapshot, NOW)), HINT)


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_plan_matches_golden(case: str, policy: LoadedPolicy) -> None:
    snapshot, _ = load(DATA / f"{case}.snapshot.json")
    check_golden(GOLDEN / "plans" / f"{case}.ps1", remediation_plan(policy, snapshot, NOW), HINT)
