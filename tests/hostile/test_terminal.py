"""Control characters from outside (names, file names, server texts) reach the terminal only as visible escapes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from audit.cli import main
from audit.console import PlainProgress, terminal_safe
from audit.evaluate.powershell import CONTROL
from tests.hostile.policies import CALLPRO, COMPLIANT, callpro_with_members_file

# Clear screen, an OSC 8 link, a C1 CSI, bidi override and isolate, a line break that would forge a second message.
NASTY = "\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x9b31m\u202eevil\u2066\nexaudit: COMPLIANT"


def _inert(text: str) -> None:
    assert CONTROL.search(text.replace("\n", "")) is None, repr(text)


@pytest.mark.parametrize("char", ["\x1b", "\x07", "\x9b", "\u202a", "\u202e", "\u2066", "\u2069", "\r", "\n", "\0"])
def test_terminal_safe_escapes_each_control_character(char: str) -> None:
    shown = terminal_safe(f"a{char}b")
    _inert(shown)
    assert "\n" not in shown
    expected = f"a\\x{ord(char):02x}b" if ord(char) < 0x100 else f"a\\u{ord(char):04x}b"
    assert shown == expected


def test_policy_error_message_is_inert(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(callpro_with_members_file(NASTY + ".txt"), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(policy)], stdout=out, stderr=err) == 2
    _inert(err.getvalue())
    assert err.getvalue().count("\n") == 1  # the forged "exaudit: COMPLIANT" line stays inside the one message
    assert "\\x1b[2J" in err.getvalue()


def test_summary_is_inert_with_hostile_policy_values(tmp_path: Path) -> None:
    text = CALLPRO.read_text(encoding="utf-8")
    quoted = '"' + NASTY.replace("\x1b", "\\e").replace("\x07", "\\a").replace("\n", "\\n") + '"'
    quoted = quoted.replace("\x9b", "\\x9b").replace("\u202e", "\\u202e").replace("\u2066", "\\u2066")
    policy = tmp_path / "policy.yaml"
    for key in ("name", "memberOfGroup"):
        text = text.replace(f"{key}: SecurityGroup-CallPro Calendar Access", f"{key}: {quoted}")
    policy.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["evaluate", str(policy), "--snapshot", str(COMPLIANT), "--markdown", "-"], stdout=out, stderr=err)
    assert code == 1, err.getvalue()
    _inert(err.getvalue())
    assert "exaudit: COMPLIANT" not in err.getvalue().splitlines()


def test_plain_progress_label_is_inert() -> None:
    stream = io.StringIO()
    progress = PlainProgress(stream)
    progress.start(2, f"probing {NASTY}")
    progress.advance(2)
    progress.finish()
    _inert(stream.getvalue())
    assert stream.getvalue().count("\n") == 2
