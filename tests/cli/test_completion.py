"""`exaudit completion bash|zsh|fish`: generated from the parser, and each script works in its real shell."""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from audit.cli import build_parser, main


def _subcommands() -> set[str]:
    """Every subcommand the parser knows: the completion must offer each one, whatever is added later."""
    actions = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(actions[0].choices)


SUBCOMMANDS = _subcommands()
assert {"validate", "run", "demo", "lab", "completion", "keygen", "verify", "diff", "migrate"} <= SUBCOMMANDS


def _script(shell: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert main(["completion", shell], out, err) == 0, err.getvalue()
    return out.getvalue()


def _bash_complete(script: Path, *words: str, cwd: Path | None = None) -> list[str]:
    """Complete the last of ``words`` in a real bash, as bash does on <Tab>."""
    quoted = " ".join("'" + w + "'" for w in ("exaudit", *words))
    program = (
        f'source "{script}"; COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; _exaudit; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    proc = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, check=True, cwd=cwd)
    assert proc.stderr == ""
    return [line for line in proc.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "exaudit.bash"
    path.write_text(_script("bash"), encoding="utf-8")
    return path


def test_bash_completes_subcommands(bash_script: Path) -> None:
    assert set(_bash_complete(bash_script, "")) == SUBCOMMANDS
    assert _bash_complete(bash_script, "va") == ["validate"]
    assert set(_bash_complete(bash_script, "lab", "")) == {"serve", "scenarios"}


def test_bash_completes_options_and_their_choices(bash_script: Path) -> None:
    assert set(_bash_complete(bash_script, "run", "--auth", "")) == {
        "kerberos",
        "negotiate",
        "ntlm",
        "basic",
        "certificate",
    }
    assert _bash_complete(bash_script, "run", "--auth", "ke") == ["kerberos"]
    assert "--snapshot-out" in _bash_complete(bash_script, "run", "--sn")
    assert _bash_complete(bash_script, "lab", "serve", "--sc") == ["--scenario"]
    assert set(_bash_complete(bash_script, "completion", "")) == {"bash", "zsh", "fish"}
    assert _bash_complete(bash_script, "run", "--server", "") == []  # free text: nothing invented


def test_bash_completes_policy_files(bash_script: Path, tmp_path: Path) -> None:
    (tmp_path / "callpro.yaml").write_text("x", encoding="utf-8")
    (tmp_path / "other.txt").write_text("x", encoding="utf-8")
    assert _bash_complete(bash_script, "validate", "call", cwd=tmp_path) == ["callpro.yaml"]
    assert _bash_complete(bash_script, "run", "--report-dir", "", cwd=tmp_path) == []  # folders only; none here


def test_every_option_of_the_parser_is_offered(bash_script: Path) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        # Hidden options (help=SUPPRESS: --client-secret exists only to be refused) are never offered.
        flags = {f for a in command._actions if a.help != argparse.SUPPRESS for f in a.option_strings}
        offered = set(_bash_complete(bash_script, name, "-"))
        assert flags <= offered, (name, flags - offered)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_the_script(tmp_path: Path) -> None:
    path = tmp_path / "_exaudit"
    path.write_text(_script("zsh"), encoding="utf-8")
    proc = subprocess.run(
        ["zsh", "-f", "-c", f'source "{path}" && whence -w _exaudit && complete -p exaudit'],
        capture_output=True,
        text=True,
        check=False,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "_exaudit: function" in proc.stdout


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes(tmp_path: Path) -> None:
    path = tmp_path / "exaudit.fish"
    path.write_text(_script("fish"), encoding="utf-8")

    def complete(line: str) -> set[str]:
        proc = subprocess.run(
            ["fish", "--no-config", "-c", f"source {path}; complete -C '{line}'"],
            capture_output=True,
            text=True,
            check=True,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
        )
        return {row.split("\t", 1)[0] for row in proc.stdout.splitlines()}

    assert complete("exaudit ") == SUBCOMMANDS
    assert complete("exaudit run --auth ") == {"kerberos", "negotiate", "ntlm", "basic", "certificate"}
    assert complete("exaudit lab ") == {"serve", "scenarios"}
    assert "--report-dir" in complete("exaudit evaluate --")
