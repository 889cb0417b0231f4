"""ps() quotes any value as one PowerShell string that reads back exactly, and nothing after it is code."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.cli import main
from audit.evaluate import evaluate, remediation_plan
from audit.evaluate.powershell import CONTROL, ps
from audit.findings import Status
from audit.policy import load_policy
from audit.snapshot import load
from tests.evaluate.powershell_model import DOUBLE_QUOTES, SINGLE_QUOTES, TokenError, read_lines, read_string

ROOT = Path(__file__).resolve().parents[2]
COMPLIANT = ROOT / "tests" / "data" / "snapshots" / "compliant.snapshot.json"
CALLPRO = ROOT / "policies" / "callpro.yaml"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

# Everything that has ever broken a quote: the five single quotes, the four double quotes, what expands in a
# double-quoted string, line breaks, terminal escapes and bidi overrides.
HOSTILE = SINGLE_QUOTES + DOUBLE_QUOTES + "`$(){};#&|\n\r\t\0\x1b\x9b\u2028\u202e\u2066"
HOSTILE_NAME = (
    "Field ' \u2018 \u2019 \u201a \u201b \" \u201c $(Remove-Mailbox ceo)\n; Remove-Mailbox -Identity ceo #\x1b[2J"
)

values = st.text(alphabet=st.one_of(st.sampled_from(HOSTILE), st.characters()), max_size=40)


@given(values)
@settings(max_examples=600, deadline=None)
def test_quoted_value_reads_back_exactly_and_ends_where_it_should(value: str) -> None:
    quoted = ps(value)
    token = read_string(quoted + " -Confirm:$false", 0)
    assert token.value == value
    assert token.end == len(quoted)  # the string ends where ps() says: what follows is exaudit's, not the value's
    assert all(e.startswith("[char]0x") for e in token.expansions)  # only constants run, never a name's text


@given(values)
@settings(max_examples=300, deadline=None)
def test_quoted_value_is_one_printable_line(value: str) -> None:
    quoted = ps(value)
    assert CONTROL.search(quoted) is None  # no line break, no ESC, no bidi override reaches a terminal or a script
    (line,) = read_lines(f"Set-Thing -Identity {quoted} -Confirm:$false")
    assert line.words == ("Set-Thing", "-Identity", "-Confirm:$false")
    assert [s.value for s in line.strings] == [value]


@pytest.mark.parametrize("quote", list(SINGLE_QUOTES))
def test_every_single_quote_is_doubled(quote: str) -> None:
    assert ps(f"a{quote}b") == f"'a{quote}{quote}b'"


def test_control_characters_switch_to_an_escaped_double_quoted_string() -> None:
    assert ps("a\nb") == '"a`nb"'
    assert ps("$x`\u201c\x1b") == '"`$x```\u201c$([char]0x001B)"'


def test_the_old_quoting_is_what_the_model_catches() -> None:
    # Doubling ASCII ' only, as exaudit did: U+2019 ends the string and the rest of the name is code.
    old = "'" + "O\u2019; Remove-Mailbox ceo #".replace("'", "''") + "'"
    (line,) = read_lines(f"Set-Thing -Identity {old}")
    assert "Remove-Mailbox" in line.words
    with pytest.raises(TokenError):
        read_lines('Set-Thing -Identity "$env:EXAUDIT_AUDIT_PASSWORD"')


def _hostile_policy(tmp_path: Path) -> Path:
    """callpro.yaml with the group, scope and role group renamed to HOSTILE_NAME: none exists, so their fixes print."""
    text = CALLPRO.read_text(encoding="utf-8")
    escaped = HOSTILE_NAME.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\x1b", "\\e")
    quoted = f'"{escaped}"'
    for old in ("CallPro Calendar Access", "SecurityGroup-CallPro Calendar Access", "Scope-CallPro Calendar Access"):
        for key in ("name", "memberOfGroup", "scope"):
            text = text.replace(f"{key}: {old}", f"{key}: {quoted}")
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _assert_inert(script: str) -> list[str]:
    """Every line is a comment or a command whose only code is exaudit's; returns the strings' values."""
    assert CONTROL.sub("", script.replace("\n", "")) == script.replace("\n", "")
    found: list[str] = []
    for line in read_lines(script):
        assert "Remove-Mailbox" not in line.words, line
        assert not any(w.startswith(";") for w in line.words), line
        for token in line.strings:
            assert all(e.startswith("[char]0x") or e == "$group.DistinguishedName" for e in token.expansions), token
            found.append(token.value)
    return found


def test_plan_quotes_hostile_names(tmp_path: Path) -> None:
    policy = _hostile_policy(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["plan", str(policy), "--snapshot", str(COMPLIANT)], stdout=out, stderr=err) == 0, err.getvalue()
    values = _assert_inert(out.getvalue())
    assert values.count(HOSTILE_NAME) >= 2  # the group and the scope, read back intact


def test_every_remediation_quotes_hostile_names(tmp_path: Path) -> None:
    policy = load_policy(_hostile_policy(tmp_path))
    snapshot = load(COMPLIANT)[0]
    failed = [f for f in evaluate(policy, snapshot, NOW) if f.status is Status.FAIL and f.remediation]
    assert len(failed) >= 3
    found: list[str] = []
    for finding in failed:
        found += _assert_inert(finding.remediation)
    assert HOSTILE_NAME in found
    plan = remediation_plan(policy, snapshot, NOW)
    assert HOSTILE_NAME in _assert_inert(plan)
