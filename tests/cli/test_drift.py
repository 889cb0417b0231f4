"""Drift between runs: `exaudit diff`, `--baseline` and `--fail-on new` on the shipped snapshot cases, every format.

The snapshots are the hand-written cases of tests/data/snapshots (cases.yaml lists what each must fail), so the
expected new/fixed/still-failing checks follow from them, not from the code under test.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml

from audit import cli
from audit.drift import BaselineState, FailOn, compare, findings_from_report, gate
from audit.findings import ExitCode, Finding, Severity, Status
from audit.report.json import REPORT_JSON_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "callpro.yaml"
SNAPSHOTS = ROOT / "tests" / "data" / "snapshots"
NOW = "2026-11-26T12:00:00+00:00"
CASES = yaml.safe_load((SNAPSHOTS / "cases.yaml").read_text())


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def snap(name: str) -> Path:
    return SNAPSHOTS / f"{name}.snapshot.json"


def report_of(name: str, tmp: Path) -> Path:
    out = tmp / name
    run("evaluate", str(POLICY), "--snapshot", str(snap(name)), "--now", NOW, "--report-dir", str(out), "-q")
    return out / "report.json"


def failing(name: str) -> set[str]:
    return set(CASES[name] or {})


def _finding(check: str, status: Status, evidence: tuple[str, ...] = (), message: str = "m") -> Finding:
    return Finding(check, "t", status, Severity.HIGH, message, "p", evidence=evidence)


def test_compare_classifies_new_fixed_unchanged_and_updated() -> None:
    old = [
        _finding("EXA001", Status.FAIL),
        _finding("EXA002", Status.FAIL, ("a", "b")),
        _finding("EXA003", Status.PASS),
        _finding("EXA004", Status.ERROR),
    ]
    new = [
        _finding("EXA001", Status.FAIL),
        _finding("EXA002", Status.FAIL, ("b", "c")),
        _finding("EXA003", Status.FAIL),
        _finding("EXA004", Status.PASS),
    ]
    drift = compare(old, new, "base")
    assert drift.states[("p", "EXA001")] is BaselineState.UNCHANGED
    states = {c.finding.check_id: c.state for c in drift.changes}
    assert states == {
        "EXA001": BaselineState.UNCHANGED,
        "EXA002": BaselineState.UPDATED,
        "EXA003": BaselineState.NEW,
        "EXA004": BaselineState.ABSENT,
    }
    updated = drift.of(BaselineState.UPDATED)[0]
    assert (updated.added, updated.removed) == (("c",), ("a",))
    assert drift.changes[0].state is BaselineState.NEW  # new failures first


def test_an_error_is_never_a_fix_and_never_forgiven() -> None:
    drift = compare([_finding("EXA001", Status.FAIL)], [_finding("EXA001", Status.ERROR)], "base")
    assert drift.changes[0].state is BaselineState.UPDATED
    assert gate(ExitCode.UNKNOWN_STATE, drift, FailOn.NEW) is ExitCode.UNKNOWN_STATE
    unchanged = compare([_finding("EXA001", Status.FAIL)], [_finding("EXA001", Status.FAIL)], "base")
    assert gate(ExitCode.NON_COMPLIANT, unchanged, FailOn.NEW) is ExitCode.COMPLIANT
    assert gate(ExitCode.NON_COMPLIANT, unchanged, FailOn.ANY) is ExitCode.NON_COMPLIANT


@pytest.mark.parametrize(("old", "new"), [("compliant", "extra-member"), ("extra-member", "nested-group")])
def test_diff_of_two_reports_follows_the_cases(old: str, new: str, tmp_path: Path) -> None:
    code, out, err = run("diff", str(report_of(old, tmp_path)), str(report_of(new, tmp_path)))
    assert code == 1, err
    newly = failing(new) - failing(old)
    fixed = failing(old) - failing(new)
    still = failing(old) & failing(new)
    assert f"{len(newly)} new, {len(fixed)} fixed, {len(still)} still failing" in out
    for check in newly | fixed:
        assert check in out


def test_diff_of_the_same_report_is_exit_0(tmp_path: Path) -> None:
    report = report_of("extra-member", tmp_path)
    code, out, _ = run("diff", str(report), str(report))
    assert code == 0
    assert "0 new, 0 fixed, 3 still failing" in out


def test_diff_of_two_snapshots_names_the_changes_in_exchange(tmp_path: Path) -> None:
    code, out, _ = run("diff", str(snap("compliant")), str(snap("canary-allowed")))
    assert code == 1
    assert "BECAME REACHABLE" in out
    code, out, _ = run("diff", str(snap("compliant")), str(snap("extra-member")), "--policy", str(POLICY), "--now", NOW)
    assert code == 1
    assert "member added" in out
    assert "EXA033" in out
    code, _, err = run("diff", str(snap("compliant")), str(report_of("compliant", tmp_path)))
    assert code == 2
    assert "like with like" in err


def test_diff_fail_on_new_ignores_what_was_already_failing(tmp_path: Path) -> None:
    # nested-group fails a superset of missing-member's checks (cases.yaml).
    assert failing("missing-member") < failing("nested-group")
    small, large = report_of("missing-member", tmp_path), report_of("nested-group", tmp_path)
    assert run("diff", str(large), str(small), "--fail-on", "new")[0] == 0  # only fixes
    assert run("diff", str(large), str(small))[0] == 1  # but drift all the same
    assert run("diff", str(small), str(large), "--fail-on", "new")[0] == 1


def test_evaluate_with_a_baseline_writes_drift_in_every_format(tmp_path: Path) -> None:
    baseline = report_of("extra-member", tmp_path)
    out = tmp_path / "now"
    code, _, err = run(
        "evaluate", str(POLICY), "--snapshot", str(snap("nested-group")), "--now", NOW,
        "--report-dir", str(out), "--baseline", str(baseline),
    )  # fmt: skip
    assert code == 1, err
    assert "since report.json" in err
    newly = failing("nested-group") - failing("extra-member")
    fixed = failing("extra-member") - failing("nested-group")
    doc = json.loads((out / "report.json").read_text())
    jsonschema.validate(doc, REPORT_JSON_SCHEMA)
    states = {c["checkId"]: c["state"] for c in doc["drift"]["changes"]}
    assert {k for k, v in states.items() if v == "new"} == newly
    assert {k for k, v in states.items() if v == "absent"} == fixed
    sarif = json.loads((out / "report.sarif").read_text())
    by_state: dict[str, set[str]] = {}
    for result in sarif["runs"][0]["results"]:
        by_state.setdefault(result["baselineState"], set()).add(result["ruleId"])
    assert by_state.get("new", set()) == newly
    assert by_state.get("absent", set()) == fixed
    assert set(by_state) <= {"new", "unchanged", "updated", "absent"}
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["exaudit.drift.new"] == str(len(newly))
    assert props["exaudit.drift.absent"] == str(len(fixed))
    assert all(props[f"exaudit.baselineState.{c}"] == "new" for c in newly)
    md = (out / "summary.md").read_text()
    assert "### Since last run" in md
    html = (out / "report.html").read_text()
    assert "Since last run" in html
    for check in newly:
        assert check in md


def test_fail_on_new_exits_0_when_nothing_new_fails(tmp_path: Path) -> None:
    baseline = report_of("extra-member", tmp_path)
    base = ["evaluate", str(POLICY), "--snapshot", str(snap("extra-member")), "--now", NOW, "-q"]
    assert run(*base)[0] == 1
    assert run(*base, "--baseline", str(baseline), "--fail-on", "new")[0] == 0
    assert run(*base, "--baseline", str(snap("compliant")), "--fail-on", "new")[0] == 1  # a snapshot baseline
    code, _, err = run(*base, "--fail-on", "new")
    assert code == 2
    assert "needs --baseline" in err


def test_a_bad_baseline_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "exaudit/report", "schemaVersion": 1, "findings": [{"status": "maybe"}]}')
    base = ["evaluate", str(POLICY), "--snapshot", str(snap("compliant")), "--now", NOW, "-q"]
    code, _, err = run(*base, "--baseline", str(bad))
    assert code == 2
    assert err.count("\n") == 1
    assert "bad.json" in err
    code, _, err = run(*base, "--baseline", str(tmp_path / "missing.json"))
    assert code == 2


def test_findings_from_report_round_trips(tmp_path: Path) -> None:
    findings, generated = findings_from_report(json.loads(report_of("extra-member", tmp_path).read_text()))
    assert {f.check_id for f in findings if f.status is Status.FAIL} == failing("extra-member")
    assert generated


def test_a_compact_report_is_still_a_report(tmp_path: Path) -> None:
    report = report_of("extra-member", tmp_path)
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(json.loads(report.read_text()), separators=(",", ":")))
    code, out, err = run("diff", str(compact), str(report))
    assert code == 0, err
    assert "0 new, 0 fixed, 3 still failing" in out


def test_a_failure_waived_since_the_baseline_is_one_updated_sarif_result() -> None:
    from audit.findings import AuditResult, RunInfo
    from audit.report import Format, render

    before = [_finding("EXA031", Status.FAIL)]
    waived = Finding("EXA031", "t", Status.SKIP, Severity.LOW, "waived", "p", waived_by="until migration")
    result = AuditResult(RunInfo("0", "now", ("p.yaml",), "lab"), (waived,), drift=compare(before, [waived], "b"))
    results = json.loads(render(Format.SARIF, result))["runs"][0]["results"]
    assert [(r["ruleId"], r["baselineState"]) for r in results] == [("EXA031", "updated")]
