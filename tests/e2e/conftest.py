"""End-to-end helpers: the real CLI, real pypsrp and exchangelib, the embedded lab on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from audit.cli import main
from audit.lab.server import LabServer

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "policies" / "callpro.yaml"


@dataclass
class CliRun:
    """What one `exaudit` invocation returned, printed and wrote."""

    code: int
    stdout: str
    stderr: str
    out_dir: Path

    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out_dir / "reports" / "report.json").read_text(encoding="utf-8"))
        return data

    def statuses(self) -> dict[str, str]:
        """check id -> status, from the JSON report."""
        findings = self.report()["findings"]
        return {f["checkId"]: f["status"].upper() for f in findings}

    def not_passing(self) -> set[str]:
        return {c for c, s in self.statuses().items() if s in {"FAIL", "ERROR"}}

    def written_files(self) -> list[Path]:
        return [p for p in self.out_dir.rglob("*") if p.is_file()]


def run_cli(
    lab: LabServer,
    tmp: Path,
    *extra: str,
    auth: str = "ntlm",
    policy: Path = POLICY,
    service_password: str | None = None,
    audit_password: str | None = None,
    command: str = "run",
    env: dict[str, str] | None = None,
) -> CliRun:
    """Run ``exaudit run`` against the lab with its generated credentials (passwords from the environment)."""
    creds = lab.credentials
    tmp.mkdir(parents=True, exist_ok=True)
    scheme = "https" if lab.ca_cert_path is not None else "http"
    argv: list[str] = [
        command,
        str(policy),
        "--server",
        "127.0.0.1",
        "--port",
        str(lab.port),
        "--scheme",
        scheme,
        "--auth",
        auth,
        "--audit-user",
        creds.auditor_username,
        "--service-user",
        creds.service_username,
        "--timeout",
        "5",
        "--deadline",
        "20",
    ]
    if command == "run":
        argv += ["--report-dir", str(tmp / "reports"), "--snapshot-out", str(tmp / "snapshot.json")]
    else:
        argv += ["--out", str(tmp / "snapshot.json")]
    argv += list(extra)
    saved = dict(os.environ)
    os.environ["EXAUDIT_AUDIT_PASSWORD"] = audit_password or creds.auditor_password
    os.environ["EXAUDIT_SERVICE_PASSWORD"] = service_password or creds.service_password
    os.environ.update(env or {})
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(argv, out, err)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return CliRun(code, out.getvalue(), err.getvalue(), tmp)


def assert_no_secret(run: CliRun, secrets: Sequence[str]) -> None:
    """No password in any file the run wrote, nor in anything it printed."""
    for secret in secrets:
        assert secret not in run.stdout
        assert secret not in run.stderr
        for path in run.written_files():
            assert secret.encode() not in path.read_bytes(), f"password found in {path}"


@pytest.fixture(scope="module")
def lab() -> Iterator[LabServer]:
    """One compliant lab per test module (faults are reset by each test)."""
    with LabServer("compliant") as server:
        yield server
