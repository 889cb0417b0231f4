"""The release artifacts: an sdist and a wheel that pass `twine check`, carry everything a user needs, and run.

The package is installed editable for development, which would hide a file missing from the wheel. So these tests
build the sdist and the wheel (from the sdist, as a release does), unpack the wheel into a temporary folder and run
the demo there with the editable finder removed.
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import audit
from audit.policy import SCHEMA_ID
from tests.cli.packaging import ROOT, build, tracked_copy

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
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    src = tracked_copy(tmp_path_factory.mktemp("src"))
    return build(src, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def wheel_site(artifacts: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(artifacts[1]) as zf:
        zf.extractall(site)
    return site


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(name).decode("utf-8"))


def test_twine_check_passes(artifacts: tuple[Path, Path]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, artifacts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_metadata_license_urls_classifiers_and_one_version(artifacts: tuple[Path, Path]) -> None:
    sdist, wheel = artifacts
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "MIT"
    assert meta["License"] is None  # the deprecated free-text field is gone
    assert "LICENSE" in (meta.get_all("License-File") or [])
    # The version is written once (audit/__init__.py) and reaches both artifacts' names and the metadata.
    assert meta["Version"] == audit.__version__
    assert wheel.name.startswith(f"exaudit-{audit.__version__}-")
    assert sdist.name == f"exaudit-{audit.__version__}.tar.gz"
    classifiers = meta.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: the expression replaces them
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues"} <= urls.keys()
    # The schema's $id is served from the project's own home, not from a domain that is not ours.
    assert SCHEMA_ID.startswith(urls["Source"].replace("https://github.com/", "https://raw.githubusercontent.com/"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project
    assert project["dynamic"] == ["version"]


def test_sdist_carries_the_sources_license_and_policies(artifacts: tuple[Path, Path]) -> None:
    with tarfile.open(artifacts[0]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
        assert not [m.name for m in tf.getmembers() if m.issym() or m.islnk()]
    assert {"LICENSE", "README.md", "pyproject.toml", "setup.py", "policies/callpro.yaml"} <= names
    assert "audit/templates/report.html.j2" in names


def test_wheel_ships_templates_policies_and_scenarios(wheel_site: Path) -> None:
    files = {p.relative_to(wheel_site).as_posix() for p in wheel_site.rglob("*") if p.is_file()}
    for name in ("report.html.j2", "report.css", "report.js"):
        assert f"audit/templates/{name}" in files
    assert any(f.startswith("audit/lab/scenarios/") for f in files)
    # The top-level policies/ folder is mapped into the package by the build (no symlink in git).
    for path in sorted((ROOT / "policies").iterdir()):
        assert f"audit/policies/{path.name}" in files
        assert (wheel_site / "audit" / "policies" / path.name).read_bytes() == path.read_bytes()
    assert any(f.endswith(".dist-info/licenses/LICENSE") for f in files)
    assert "audit/py.typed" in files


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
    # The demo's policy came from the wheel, not from a checkout beside it.
    assert str(wheel_site / "audit" / "policies" / "callpro.yaml") in (out / "report.json").read_text()
