"""`exaudit evaluate` and `plan` through main(): every exit code, every report written, bad snapshots refused."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from audit import cli
from audit.findings import ExitCode

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "callpro.yaml"
SNAPSHOTS = ROOT / "tests" / "data" / "snapshots"
NOW = "2026-11-26T12:00:00+00:00"


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def evaluate(snapshot: Path, *extra: str) -> tuple[int, str, str]:
    return run(["evaluate", str(POLICY), "--snapshot", str(snapshot), "--now", NOW, *extra])


def test_compliant_snapshot_exits_0_and_writes_every_report(tmp_path: Path) -> None:
    code, _, err = evaluate(SNAPSHOTS / "compliant.snapshot.json", "--report-dir", str(tmp_path / "r"))
    assert code == ExitCode.COMPLIANT, err
    names = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert names == ["junit.xml", "report.html", "report.json", "report.sarif", "summary.md"]
    assert "COMPLIANT" in err
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["exitCode"] == 0


@pytest.mark.parametrize(
    ("snapshot", "code"),
    [
        ("unscoped-assignment", ExitCode.NON_COMPLIANT),
        ("canary-allowed", ExitCode.NON_COMPLIANT),
        ("probe-errored", ExitCode.UNKNOWN_STATE),
        ("cmdlet-failed", ExitCode.UNKNOWN_STATE),
        ("probes-not-run", ExitCode.UNKNOWN_STATE),
    ],
)
def test_exit_code_follows_the_findings(snapshot: str, code: ExitCode) -> None:
    assert evaluate(SNAPSHOTS / f"{snapshot}.snapshot.json", "-q")[0] == code


def test_single_format_to_stdout() -> None:
    code, out, _ = evaluate(SNAPSHOTS / "unscoped-assignment.snapshot.json", "--sarif", "-", "-q")
    assert code == ExitCode.NON_COMPLIANT
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    assert any(r["ruleId"] == "EXA012" for r in sarif["runs"][0]["results"])


@pytest.mark.parametrize(
    ("mangle", "needle"),
    [
        (lambda t: t.replace("svcServiceAccount", "svcServiceAccounx", 1), "SHA-256 mismatch"),
        (lambda t: t[: len(t) // 3], "not valid JSON"),
        (lambda t: t.replace('"schema_version": 1', '"schema_version": 99', 1), "Upgrade exaudit"),
    ],
    ids=["tampered", "truncated", "newer"],
)
def test_bad_snapshots_exit_3_with_one_clear_line(tmp_path: Path, mangle: object, needle: str) -> None:
    text = (SNAPSHOTS / "compliant.snapshot.json").read_text()
    bad = tmp_path / "bad.json"
    changed = mangle(text)  # type: ignore[operator]
    assert changed != text
    if needle == "Upgrade exaudit":  # a newer snapshot is sealed properly by the newer tool
        from audit.snapshot import content_hash

        doc = json.loads(changed)
        doc["sha256"] = content_hash(doc)
        changed = json.dumps(doc)
    bad.write_text(changed)
    code, _, err = evaluate(bad, "--report-dir", str(tmp_path / "r"))
    assert code == ExitCode.UNKNOWN_STATE
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # nothing was evaluated, so no report claims anything


def test_missing_snapshot_exits_3() -> None:
    code, _, err = evaluate(SNAPSHOTS / "does-not-exist.json")
    assert code == ExitCode.UNKNOWN_STATE
    assert "no such snapshot file" in err


def test_invalid_policy_wins_over_everything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY.read_text().replace("hiddenFromAddressLists:", "hiddenFromAdressLists:"))
    code, _, err = evaluate(SNAPSHOTS / "probe-errored.snapshot.json")
    assert code == ExitCode.UNKNOWN_STATE
    code, _, err = run(["evaluate", str(bad), "--snapshot", str(SNAPSHOTS / "probe-errored.snapshot.json")])
    assert code == ExitCode.USAGE
    assert f"{bad}:" in err
    assert "did you mean" in err.lower()


def test_bad_now_is_a_usage_error() -> None:
    assert evaluate(SNAPSHOTS / "compliant.snapshot.json", "--now", "yesterday")[0] == ExitCode.USAGE


def test_plan_prints_powershell_for_the_drift() -> None:
    code, out, _ = run(["plan", str(POLICY), "--snapshot", str(SNAPSHOTS / "unscoped-assignment.snapshot.json")])
    assert code == 0
    assert "Set-ManagementRoleAssignment" in out
    assert "CustomRecipientWriteScope" in out


def test_validate_and_schema() -> None:
    code, out, _ = run(["validate", str(POLICY)])
    assert code == 0
    assert "ok" in out
    code, out, _ = run(["schema"])
    assert code == 0
    assert json.loads(out)["$schema"].startswith("https://json-schema.org/")


def test_lab_with_an_unknown_scenario_is_a_usage_error() -> None:
    for argv in (["lab", "serve", "--scenario", "nope"], ["demo", "--scenario", "nope"]):
        code, _, err = run(argv)
        assert code == ExitCode.USAGE
        assert "compliant" in err  # lists what exists


def test_lab_scenarios_lists_each_with_its_expectation() -> None:
    code, out, _ = run(["lab", "scenarios"])
    assert code == 0
    assert "unscoped" in out
    assert "EXA012" in out
