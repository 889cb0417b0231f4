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

from .secret_scan import files_under, find_secrets, secret_forms

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
    ca_bundle: bool = True,
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
    if ca_bundle and lab.ca_cert_path is not None and "--ca-bundle" not in extra:
        argv += ["--ca-bundle", str(lab.ca_cert_path)]
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
    run = CliRun(code, out.getvalue(), err.getvalue(), tmp)
    CLI_RUNS.append(run)
    return run


def assert_no_secret(run: CliRun, secrets: Sequence[str]) -> None:
    """No password in any file the run wrote, nor in anything it printed."""
    for secret in secrets:
        assert secret not in run.stdout
        assert secret not in run.stderr
        for path in run.written_files():
            assert secret.encode() not in path.read_bytes(), f"password found in {path}"


CLI_RUNS: list[CliRun] = []  # every run_cli of the session, for the secret scan


class _Sources:
    """The labs and passwords a test used: its lab fixtures, labs it started, passwords it set on the server."""

    def __init__(self) -> None:
        self.labs: list[LabServer] = []
        self.extra: set[tuple[str, str]] = set()

    def forms(self, item: pytest.Item) -> dict[bytes, str]:
        # funcargs is None once pytest has torn the item down (a session-scoped finalizer can run then).
        funcargs = getattr(item, "funcargs", None) or {}
        labs = [*self.labs, *(v for v in funcargs.values() if isinstance(v, LabServer))]
        creds: set[tuple[str, str]] = set(self.extra)
        for server in labs:
            if server.exo is None:
                c = server.credentials
                creds |= {(c.auditor_username, c.auditor_password), (c.service_username, c.service_password)}
            else:  # Exchange Online: no accounts; the apps' client secrets are the passwords (lab may be stopped)
                x = server.exo.credentials
                creds |= {
                    (x.auditor_client_id, x.auditor_client_secret),
                    (x.integration_client_id, x.integration_client_secret),
                    (x.admin_client_id, x.admin_client_secret),
                }
        return secret_forms(creds)


@pytest.fixture(autouse=True)
def secret_scan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any e2e test that leaves a password in use in a file it wrote or in a stream it produced.

    Observes only: labs started by the test and passwords it sets are recorded, nothing is changed. Streams
    captured by pytest are scanned by pytest_runtest_makereport below.
    """
    sources = _Sources()
    request.node.exaudit_secret_sources = sources
    enter, set_password = LabServer.__enter__, LabServer.set_password

    def recording_enter(self: LabServer) -> LabServer:
        server = enter(self)
        sources.labs.append(self)
        return server

    def recording_set_password(self: LabServer, user: str, password: str) -> Any:
        sources.extra.add((user, password))
        return set_password(self, user, password)

    monkeypatch.setattr(LabServer, "__enter__", recording_enter)
    monkeypatch.setattr(LabServer, "set_password", recording_set_password)
    first_run = len(CLI_RUNS)
    yield
    forms = sources.forms(request.node)
    streams: dict[str, str] = {}
    for n, run in enumerate(CLI_RUNS[first_run:]):
        streams[f"stdout of CLI run {n}"] = run.stdout
        streams[f"stderr of CLI run {n}"] = run.stderr
    tmp = request.node.funcargs.get("tmp_path")
    hits = find_secrets(forms, streams, files_under(tmp) if isinstance(tmp, Path) else [])
    if hits:
        pytest.fail("secret leaked: " + "; ".join(hits[:5]), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Scan what pytest captured of the test (stdout, stderr, log records) for the passwords in use."""
    report: pytest.TestReport = yield
    sources = getattr(item, "exaudit_secret_sources", None)
    if sources is not None and report.when == "call" and report.passed:
        streams = {
            "captured stdout": report.capstdout,
            "captured stderr": report.capstderr,
            "captured log": report.caplog,
        }
        hits = find_secrets(sources.forms(item), streams, [])
        if hits:
            report.outcome = "failed"
            report.longrepr = "secret leaked: " + "; ".join(hits[:5])
    return report


@pytest.fixture(scope="module")
def lab() -> Iterator[LabServer]:
    """One compliant lab per test module (faults are reset by each test)."""
    with LabServer("compliant") as server:
        yield server
