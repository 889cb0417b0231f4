"""Helpers for the Exchange Online end-to-end tests: the real CLI, real msal and requests over HTTPS, the lab.

Every token the run was handed is recorded by wrapping audit.target.tokens.TokenSource.token (our own class; msal
itself and every HTTP exchange stay real), so the tests can grep every output for the tokens and the secrets.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from audit.cli import main
from audit.lab.server import LabServer, scenarios_dir
from audit.target import tokens as token_module

from .conftest import CliRun

REPO = Path(__file__).resolve().parents[2]
EXO_POLICY = REPO / "policies" / "callpro-exo.yaml"


@contextmanager
def recording_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record every access token TokenSource hands out during the block."""
    seen: list[str] = []
    original = token_module.TokenSource.token

    def token(self: token_module.TokenSource, resource: str, error: Any) -> str:
        value = original(self, resource, error)
        seen.append(value)
        return value

    monkeypatch.setattr(token_module.TokenSource, "token", token)
    yield seen


def exo_argv(lab: LabServer, *, certificate: bool = False) -> list[str]:
    creds = lab.exo_credentials
    argv = [
        "--tenant", lab.tenant_id,
        "--client-id", creds.auditor_client_id,
        "--probe-client-id", creds.integration_client_id,
        "--authority-url", lab.authority_url,
        "--adminapi-url", lab.adminapi_url,
        "--graph-url", lab.graph_url,
        "--ca-bundle", str(lab.ca_cert_path),
        "--timeout", "10",
        "--deadline", "30",
    ]  # fmt: skip
    if certificate:
        argv += ["--client-cert", str(creds.auditor_cert_path), "--client-key", str(creds.auditor_key_path)]
    return argv


def run_exo(
    lab: LabServer,
    tmp: Path,
    *extra: str,
    command: str = "run",
    policy: Path = EXO_POLICY,
    env: dict[str, str] | None = None,
    certificate: bool = False,
    argv: Sequence[str] | None = None,
) -> CliRun:
    """``exaudit run|collect policies/callpro-exo.yaml`` against the lab; the secrets come from the environment."""
    creds = lab.exo_credentials
    tmp.mkdir(parents=True, exist_ok=True)
    args = [command, str(policy), *(argv if argv is not None else exo_argv(lab, certificate=certificate))]
    if command == "run":
        args += ["--report-dir", str(tmp / "reports"), "--snapshot-out", str(tmp / "snapshot.json")]
    else:
        args += ["--out", str(tmp / "snapshot.json")]
    args += list(extra)
    saved = dict(os.environ)
    if not certificate:
        os.environ["EXAUDIT_CLIENT_SECRET"] = creds.auditor_client_secret
    os.environ["EXAUDIT_PROBE_CLIENT_SECRET"] = creds.integration_client_secret
    os.environ.update(env or {})
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(args, out, err)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return CliRun(code, out.getvalue(), err.getvalue(), tmp)


def secrets_of(lab: LabServer) -> list[str]:
    creds = lab.exo_credentials
    key = Path(creds.auditor_key_path).read_text(encoding="ascii")
    body = "".join(line for line in key.splitlines() if "-----" not in line)
    return [creds.auditor_client_secret, creds.integration_client_secret, creds.admin_client_secret, body[:64]]


def assert_nothing_leaked(run: CliRun, secrets: Sequence[str]) -> None:
    """No secret and no token in stdout, stderr or any file the run wrote."""
    for secret in secrets:
        assert secret
        assert secret not in run.stdout
        assert secret not in run.stderr
        for path in run.written_files():
            assert secret.encode() not in path.read_bytes(), f"a secret or token found in {path}"


def scenario_file(tmp: Path, name: str, body: str) -> Path:
    """A scenario extending a shipped one (absolute ``extends``), for faults no shipped scenario has."""
    path = tmp / f"{name}.yaml"
    path.write_text(body.replace("{dir}", str(scenarios_dir())), encoding="utf-8")
    return path
