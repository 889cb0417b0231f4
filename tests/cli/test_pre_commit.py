"""The pre-commit hooks, run by pre-commit itself (`pre-commit try-repo`) on a repository with a good and a bad
policy, offline: the system hook installs nothing, so no network is needed."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
POLICY = (ROOT / "policies" / "callpro.yaml").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(),
    reason="pre-commit try-repo needs git and this checkout as a git repository",
)


def _pre_commit() -> list[str]:
    if subprocess.run([sys.executable, "-m", "pre_commit", "--version"], capture_output=True, check=False).returncode:
        pytest.skip("pre-commit is not installed (pip install -e '.[dev]' installs it)")
    return [sys.executable, "-m", "pre_commit"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An `exaudit` on PATH that runs this checkout's code, a private pre-commit cache, and no network to use."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "exaudit"
    tool.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m audit "$@"\n', encoding="utf-8")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "PIP_NO_INDEX": "1",  # any attempt to download would fail loudly
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def _repo(tmp_path: Path, policies: dict[str, str]) -> Path:
    repo = tmp_path / "policies-repo"
    (repo / "policies").mkdir(parents=True)
    for name, text in policies.items():
        (repo / "policies" / name).write_text(text, encoding="utf-8")
    (repo / "README.md").write_text("not a policy\n", encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    return repo


def _try_repo(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_pre_commit(), "try-repo", str(ROOT), "exaudit-validate-system", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_hook_passes_a_good_policy(tmp_path: Path, env: dict[str, str]) -> None:
    proc = _try_repo(_repo(tmp_path, {"callpro.yaml": POLICY}), env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "exaudit validate (exaudit from PATH)" in proc.stdout
    assert "Passed" in proc.stdout


def test_hook_fails_a_bad_policy_with_its_location(tmp_path: Path, env: dict[str, str]) -> None:
    bad = POLICY.replace("waivers: []", "waivers:\n  - check: EXA999\n    reason: typo\n    expires: 2030-01-01")
    assert bad != POLICY
    proc = _try_repo(
        _repo(tmp_path, {"good.yaml": POLICY.replace("callpro-calendar-access", "good"), "bad.yaml": bad}), env
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Failed" in proc.stdout
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if "EXA999" in text)
    assert f"policies/bad.yaml:{line}:5: error: waiver for EXA999" in proc.stdout
    assert "README.md" not in proc.stdout  # only policy files are passed to the hook


def test_both_hooks_run_exaudit_validate_on_policy_files() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert set(hooks) == {"exaudit-validate", "exaudit-validate-system"}
    assert hooks["exaudit-validate"]["language"] == "python"  # installed from this repository by pre-commit
    assert hooks["exaudit-validate-system"]["language"] == "system"
    for hook in hooks.values():
        assert hook["entry"] == "exaudit validate"
        assert hook["files"] == hooks["exaudit-validate"]["files"]
