"""The built wheel carries everything a user needs: `exaudit demo` runs from the wheel alone.

The package is installed editable for development, which would hide a file missing from the wheel. So this test
builds the wheel, unpacks it into a temporary folder and runs the demo there with the editable finder removed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]

RUN_FROM_WHEEL = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "") + repr(f)]
sys.path_importer_cache.clear()
sys.path.insert(0, sys.argv[1])
for name in [m for m in sys.modules if m == "audit" or m.startswith("audit.")]:
    del sys.modules[name]
import audit
assert audit.__file__.startswith(sys.argv[1]), audit.__file__
from audit.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy so the shared checkout gets no build/ or egg-info litter.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # symlinks=True keeps audit/policies -> ../policies a link, as in the checkout
    shutil.copytree(ROOT / "audit", src / "audit", ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    shutil.copytree(ROOT / "policies", src / "policies")
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [*PIP_WHEEL, "-w", str(dist), str(src)],
        check=True,
        capture_output=True,
    )
    wheels = list(dist.glob("exaudit-*.whl"))
    assert len(wheels) == 1
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheels[0]) as zf:
        zf.extractall(site)
    return site


def test_wheel_ships_templates_policies_and_scenarios(wheel_site: Path) -> None:
    files = {p.relative_to(wheel_site).as_posix() for p in wheel_site.rglob("*") if p.is_file()}
    assert any(f.startswith("audit/templates/") and f.endswith(".j2") for f in files), files
    assert any(f.startswith("audit/lab/scenarios/") for f in files)
    assert any(f.endswith("callpro.yaml") for f in files)


@pytest.mark.e2e
def test_demo_runs_from_the_wheel(wheel_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-c", RUN_FROM_WHEEL, str(wheel_site), "demo", "--out", str(out), "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,  # not the checkout: nothing may be found relative to it
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("report.html", "junit.xml", "report.json", "report.sarif", "summary.md", "snapshot.json"):
        assert (out / name).is_file(), name
    assert "verdict: COMPLIANT" in proc.stdout
