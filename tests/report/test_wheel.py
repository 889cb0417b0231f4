"""The HTML template reaches the installed wheel, not only the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy so the build never writes build/ or egg-info into the shared work tree.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "audit", src / "audit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    # No isolation and no index: the build uses the venv's setuptools and wheel (pyproject's build-system) offline.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"building the wheel failed (is 'wheel' installed?):\n{proc.stderr[-2000:]}"
    wheels = list(out.glob("exaudit-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_the_wheel_carries_the_report_template(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in ("report.html.j2", "report.css", "report.js"):
            assert f"audit/templates/{name}" in names
            packaged = archive.read(f"audit/templates/{name}").decode("utf-8")
            assert packaged == (ROOT / "audit" / "templates" / name).read_text(encoding="utf-8")
        assert "audit/report/html.py" in names


def test_the_wheel_renders_html_when_installed(wheel: Path, tmp_path: Path) -> None:
    # Unpacking the wheel is what installing does to its files; render from there with the checkout out of the path.
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import audit.report as r, audit.findings as f;"
        "assert r.__file__.startswith(sys.argv[1]), r.__file__;"
        "info = f.RunInfo(tool_version='0', generated_at='now', policies=(), target='t');"
        "print(r.render(r.Format.HTML, f.AuditResult(info=info, findings=())))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(site)], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert "Content-Security-Policy" in result.stdout
    assert "Nothing was evaluated." in result.stdout
