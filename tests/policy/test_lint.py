"""`exaudit validate` catches what a reviewer would: each semantic rule, with the file:line:column at fault."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from audit.cli import main
from audit.evaluate import CHECKS
from audit.policy import load_policy
from audit.policy.lint import MAX_SAMPLE, Level, lint

POLICIES = Path(__file__).resolve().parents[2] / "policies"

BASE = """\
apiVersion: exaudit/v1
kind: MailboxAccessPolicy
metadata:
  name: lint-case
principal:
  serviceAccount: svc@contoso.com
grant:
  role: ApplicationImpersonation
  via:
    direct: {{}}
  scope: Scope-A
scope:
  name: Scope-A
  recipientFilter:
    memberOfGroup: Group-A
group:
  name: Group-A
  members:
{members}
probes:
{probes}
{tail}"""

MEMBERS_EXACTLY = "    exactly: [ad@contoso.com, bea@contoso.com]"
PROBES_OK = "  deny:\n    canaries: [ceo@contoso.com]"


def _policy(tmp_path: Path, members: str = MEMBERS_EXACTLY, probes: str = PROBES_OK, tail: str = "") -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(BASE.format(members=members, probes=probes, tail=tail), encoding="utf-8")
    return path


def _validate(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["validate", str(path)], out, err)
    return code, out.getvalue(), err.getvalue()


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_the_shipped_policies_are_clean() -> None:
    for path in sorted(POLICIES.glob("*.yaml")):
        assert lint(load_policy(path), CHECKS.keys()) == [], path


def test_clean_policy_passes(tmp_path: Path) -> None:
    code, out, err = _validate(_policy(tmp_path))
    assert (code, err) == (0, "")
    assert ": ok (lint-case)" in out


def test_waiver_for_a_check_that_does_not_exist(tmp_path: Path) -> None:
    path = _policy(
        tmp_path,
        tail="waivers:\n  - check: EXA031\n    reason: r\n    expires: 2030-01-01\n"
        "  - check: EXA099\n    reason: typo\n    expires: 2030-01-01\n",
    )
    code, out, err = _validate(path)
    assert code == 2
    assert out == ""
    line = _line_of(path, "check: EXA099")
    assert err.splitlines() == [
        f"exaudit: {path}:{line}:5: error: waiver for EXA099, which is not a check "
        "(EXA000-EXA078, see docs/checks.md): it would waive nothing [unknown-check]"
    ]


def test_severity_override_for_a_check_that_does_not_exist(tmp_path: Path) -> None:
    path = _policy(tmp_path, tail="severity:\n  EXA777: low\n")
    code, _, err = _validate(path)
    assert code == 2
    assert f"{path}:{_line_of(path, 'EXA777')}:3: error: severity override for EXA777" in err


def test_a_canary_that_is_an_expected_member(tmp_path: Path) -> None:
    path = _policy(tmp_path, probes="  deny:\n    canaries:\n      - ceo@contoso.com\n      - BEA@contoso.com")
    code, _, err = _validate(path)
    assert code == 2
    assert f"{path}:{_line_of(path, 'BEA@')}:9: error: BEA@contoso.com is a canary" in err
    assert "[canary-is-member]" in err


def test_a_canary_that_is_in_the_members_file(tmp_path: Path) -> None:
    (tmp_path / "members.txt").write_text("ad@contoso.com\n# staff\nceo@contoso.com\n", encoding="utf-8")
    path = _policy(tmp_path, members="    file: members.txt")
    code, _, err = _validate(path)
    assert code == 2
    assert "(members file" in err
    assert "members.txt" in err
    assert f"{path}:{_line_of(path, 'canaries')}:" in err


def test_a_canary_that_at_most_allows_is_a_warning(tmp_path: Path) -> None:
    path = _policy(tmp_path, members="    atMost: [ad@contoso.com, ceo@contoso.com]")
    code, out, err = _validate(path)
    assert code == 0  # a warning informs; it does not fail the lint step
    assert ": ok (lint-case)" in out
    assert "warning: ceo@contoso.com is a canary but atMost lets it be a group member" in err


def test_allow_list_overlapping_the_deny_list(tmp_path: Path) -> None:
    probes = "  allow: [ad@contoso.com, x@contoso.com]\n  deny:\n    canaries: [y@contoso.com, X@contoso.com]"
    path = _policy(tmp_path, probes=probes)
    code, _, err = _validate(path)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1
    assert "X@contoso.com is in probes.allow (must be reachable) and in probes.deny.canaries" in lines[0]
    assert f"{path}:{_line_of(path, 'canaries')}:" in lines[0]
    assert lines[0].endswith("[allow-deny-overlap]")


@pytest.mark.parametrize(("sample", "warned"), [(MAX_SAMPLE, False), (MAX_SAMPLE + 1, True)])
def test_a_sample_larger_than_the_bound(tmp_path: Path, sample: int, warned: bool) -> None:
    path = _policy(tmp_path, probes=f"  deny:\n    canaries: [ceo@contoso.com]\n    sample: {sample}")
    code, _, err = _validate(path)
    assert code == 0
    if warned:
        assert f"{path}:{_line_of(path, 'sample:')}:5: warning: probes.deny.sample is 10,001" in err
    else:
        assert err == ""


def test_findings_come_in_file_order_and_every_rule_is_reported(tmp_path: Path) -> None:
    probes = "  allow: [ceo@contoso.com]\n  deny:\n    canaries: [ceo@contoso.com, ad@contoso.com]\n    sample: 20000"
    path = _policy(
        tmp_path, probes=probes, tail="waivers:\n  - check: EXA123\n    reason: r\n    expires: 2030-01-01\n"
    )
    found = lint(load_policy(path), CHECKS.keys())
    assert [f.rule for f in found] == ["allow-deny-overlap", "canary-is-member", "sample-too-large", "unknown-check"]
    assert [f.level for f in found] == [Level.ERROR, Level.ERROR, Level.WARNING, Level.ERROR]
    lines = [f.location.line for f in found]
    assert lines == sorted(lines)
