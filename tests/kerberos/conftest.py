"""A real MIT KDC for the session, and `exaudit` run over Kerberos against the lab (real pypsrp, exchangelib)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from audit.cli import main
from audit.lab.server import LabServer
from tests.kerberos.realm import SERVICE_HOST, MitRealm, Principal, environment, tools_missing

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "policies" / "callpro.yaml"
AUDITOR = "exaudit-reader"
SERVICE = "svcServiceAccount"


@dataclass
class Realm:
    """The running realm with its principals."""

    kdc: MitRealm
    auditor: Principal
    service: Principal
    http_keytab: Path


@pytest.fixture(scope="session")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    """CONTOSO.COM on a free loopback port: the auditing account, the service account, HTTP/localhost."""
    missing = tools_missing()
    if missing:
        pytest.fail(f"MIT Kerberos is not installed ({', '.join(missing)}): run scripts/check, which installs it")
    kdc = MitRealm(tmp_path_factory.mktemp("realm"))
    with kdc:
        auditor = kdc.add_user(AUDITOR)
        service = kdc.add_user(SERVICE)
        keytab = kdc.add_service(SERVICE_HOST)
        yield Realm(kdc, auditor, service, keytab)


@pytest.fixture
def krb_env(realm: Realm, tmp_path: Path) -> Iterator[dict[str, str]]:
    """This test's Kerberos environment: the realm's krb5.conf, an empty private ticket cache, no default keytab."""
    env = realm.kdc.env(ccache=tmp_path / "runner.ccache")
    unset: dict[str, str | None] = dict.fromkeys(
        ("KRB5_CLIENT_KTNAME", "EXAUDIT_AUDIT_PASSWORD", "EXAUDIT_SERVICE_PASSWORD", "EXAUDIT_SERVICE_KEYTAB")
    )
    with environment({**env, **unset}):
        yield env


@dataclass
class CliRun:
    """What one `exaudit` invocation returned and printed."""

    code: int
    stdout: str
    stderr: str
    out_dir: Path

    def statuses(self) -> dict[str, str]:
        import json

        report = json.loads((self.out_dir / "reports" / "report.json").read_text(encoding="utf-8"))
        return {f["checkId"]: f["status"].upper() for f in report["findings"]}

    def not_passing(self) -> set[str]:
        return {c for c, s in self.statuses().items() if s in {"FAIL", "ERROR"}}


def run_kerberos(
    lab: LabServer,
    tmp: Path,
    *extra: str,
    env: dict[str, str | None] | None = None,
    server: str = SERVICE_HOST,
    command: str = "run",
    argv_tail: list[str] | None = None,
) -> CliRun:
    """`exaudit run --auth kerberos` against the lab; secrets only through the environment given."""
    tmp.mkdir(parents=True, exist_ok=True)
    argv: list[str] = [
        command,
        str(POLICY),
        "--server",
        server,
        "--port",
        str(lab.port),
        "--scheme",
        "http",
        "--auth",
        "kerberos",
        "--service-user",
        lab.credentials.service_username,
        "--timeout",
        "10",
        "--deadline",
        "30",
    ]
    if command == "run":
        argv += ["--report-dir", str(tmp / "reports"), "--snapshot-out", str(tmp / "snapshot.json")]
    else:
        argv += ["--out", str(tmp / "snapshot.json")]
    argv += list(extra) + list(argv_tail or [])
    out, err = io.StringIO(), io.StringIO()
    with environment(env or {}):
        code = main(argv, out, err)
    return CliRun(code, out.getvalue(), err.getvalue(), tmp)


def service_keytab_env(realm: Realm) -> dict[str, str | None]:
    """The service account's own keytab for the EWS probes."""
    return {"EXAUDIT_SERVICE_KEYTAB": str(realm.service.keytab)}


@pytest.fixture
def kerberos_lab(realm: Realm) -> Iterator[LabServer]:
    """The compliant lab accepting Kerberos with HTTP/localhost's keytab (Kerberos only on /PowerShell)."""
    with LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab:
        yield lab


def logged_in(realm: Realm, ccache: Path) -> dict[str, Any]:
    """The auditing account's ticket in ``ccache`` (kinit from its keytab), as the runner's default cache."""
    realm.kdc.kinit(realm.auditor, ccache)
    return {"KRB5CCNAME": f"FILE:{ccache}"}
