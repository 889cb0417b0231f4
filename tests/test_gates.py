"""The gates cannot switch themselves off in CI: a missing tool fails, golden regeneration is refused.

Each case runs a real pytest in a subprocess with CI set or not and the tool hidden (pointed at a path that does
not exist, or shadowed by a package that refuses to import), and reads its outcome.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MISSING = "/nonexistent/exaudit-hidden-tool"


def _pytest(tmp_path: Path, *args: str, ci: bool, env: dict[str, str] | None = None) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"CI", "EXAUDIT_REGEN_GOLDEN", "PYTEST_ADDOPTS"}}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [env.pop("PYTHONPATH", "") if env else "", str(ROOT)]))
    if ci:
        environ["CI"] = "true"
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-o", "addopts=", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml"), "--import-mode=importlib", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "basetemp"), *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, check=False, timeout=240,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def _summary(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_missing_check_jsonschema_skips_outside_ci_and_fails_in_ci(tmp_path: Path) -> None:
    test = "tests/policy/test_schema.py::test_check_jsonschema_accepts_the_examples_and_refuses_an_unknown_key"
    hidden = {"EXAUDIT_TEST_CHECK_JSONSCHEMA": MISSING}
    code, out = _pytest(tmp_path, test, ci=False, env=dict(hidden))
    assert code == 0, out
    assert "1 skipped" in _summary(out), out
    code, out = _pytest(tmp_path, test, ci=True, env=dict(hidden))
    assert code == 1, out
    assert "1 failed" in _summary(out), out
    assert "CI=true, so a missing tool fails instead of skipping" in out


@pytest.mark.parametrize(
    "test",
    [
        "tests/report/test_browser.py::test_expand_and_collapse",
        "tests/report/test_browser_jenkins.py::test_styled_under_the_jenkins_csp",
    ],
)
def test_missing_chromium_skips_outside_ci_and_fails_in_ci(tmp_path: Path, test: str) -> None:
    hidden = {"EXAUDIT_TEST_CHROMIUM": MISSING}
    code, out = _pytest(tmp_path, test, ci=False, env=dict(hidden))
    assert code == 0, out
    assert "1 skipped" in _summary(out), out
    code, out = _pytest(tmp_path, test, ci=True, env=dict(hidden))
    assert code == 1, out
    assert "1 error" in _summary(out), out
    assert "needs Debian chromium" in out


def test_missing_playwright_skips_outside_ci_and_fails_in_ci(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "playwright"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("hidden by tests/test_gates.py")\n', encoding="utf-8")
    hidden = {"PYTHONPATH": str(shadow.parent)}
    code, out = _pytest(tmp_path, "tests/report/test_browser.py", ci=False, env=dict(hidden))
    # A module-level skip leaves no test collected: exit code 5, not a failure.
    assert code in (0, 5), out
    assert "skipped" in _summary(out), out
    assert "passed" not in _summary(out), out
    code, out = _pytest(tmp_path, "tests/report/test_browser.py", ci=True, env=dict(hidden))
    assert code != 0, out
    assert "error" in _summary(out), out
    assert "needs the playwright package" in out


def _golden_case(tmp_path: Path) -> tuple[Path, Path]:
    golden = tmp_path / "golden.txt"
    golden.write_text("old rendering\n", encoding="utf-8")
    test = tmp_path / "test_tiny_golden.py"
    test.write_text(
        "from pathlib import Path\nfrom tests.gates import check_golden\n\n"
        f"def test_render() -> None:\n    check_golden(Path({str(golden)!r}), 'new rendering\\n', 'regenerate')\n",
        encoding="utf-8",
    )
    return golden, test


def test_golden_mismatch_fails_without_regeneration(tmp_path: Path) -> None:
    golden, test = _golden_case(tmp_path)
    code, out = _pytest(tmp_path, str(test), ci=False)
    assert code == 1, out
    assert "1 failed" in _summary(out), out
    assert golden.read_text(encoding="utf-8") == "old rendering\n"


def test_regeneration_writes_then_fails_the_run_outside_ci(tmp_path: Path) -> None:
    golden, test = _golden_case(tmp_path)
    code, out = _pytest(tmp_path, str(test), ci=False, env={"EXAUDIT_REGEN_GOLDEN": "1"})
    assert code == 1, out
    assert "1 failed" in _summary(out), out
    assert "regenerated golden.txt" in out
    assert golden.read_text(encoding="utf-8") == "new rendering\n"


def test_regeneration_is_refused_in_ci_and_writes_nothing(tmp_path: Path) -> None:
    golden, test = _golden_case(tmp_path)
    code, out = _pytest(tmp_path, str(test), ci=True, env={"EXAUDIT_REGEN_GOLDEN": "1"})
    assert code == 1, out
    assert "1 failed" in _summary(out), out
    assert "refused under CI=true" in out
    assert golden.read_text(encoding="utf-8") == "old rendering\n"


@pytest.mark.parametrize(
    "test", ["tests/report/test_golden.py", "tests/policy/test_schema.py::test_shipped_schema_file_is_current"]
)
def test_the_real_golden_tests_refuse_regeneration_in_ci(tmp_path: Path, test: str) -> None:
    # Refused before anything is written, so running this against the checked-in goldens is safe.
    before = {p: p.read_bytes() for p in (ROOT / "tests" / "data" / "report" / "golden").iterdir()}
    code, out = _pytest(tmp_path, test, ci=True, env={"EXAUDIT_REGEN_GOLDEN": "1"})
    # tests/conftest.py refuses the whole session: pytest's usage-error exit code, nothing run.
    assert code == pytest.ExitCode.USAGE_ERROR, out
    assert "passed" not in out, out
    assert "refused under CI=true" in out
    assert {p: p.read_bytes() for p in before} == before
