"""The HTML template reaches the installed wheel, not only the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.cli.packaging import ROOT, build, tracked_copy


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built as a release builds it (sdist, then the wheel from the sdist), from a copy of the tracked files.
    src = tracked_copy(tmp_path_factory.mktemp("src"))
    return build(src, tmp_path_factory.mktemp("dist"))[1]


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
