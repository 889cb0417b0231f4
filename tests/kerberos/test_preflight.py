"""No credential put at risk: what must be refused before the first connection (the lab proves nothing was sent)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypsrp.exceptions import AuthenticationError
from pypsrp.powershell import RunspacePool
from pypsrp.wsman import WSMan

from audit import kerberos
from audit.cli import main
from audit.lab.server import LabServer
from audit.preflight import redact_unrecognized, unexpanded_variable
from tests.kerberos.conftest import POLICY, Realm
from tests.kerberos.realm import environment

SECRET = "Winter-2026-pw!"


@pytest.fixture(scope="module")
def ntlm_lab() -> Iterator[LabServer]:
    with LabServer("compliant") as lab:
        yield lab


def _run(lab: LabServer, *extra: str, env: dict[str, str | None], auth: str = "ntlm") -> tuple[int, str]:
    creds = lab.credentials
    argv = [
        "collect",
        str(POLICY),
        "--server",
        "127.0.0.1",
        "--port",
        str(lab.port),
        "--scheme",
        "http",
        "--auth",
        auth,
        "--audit-user",
        creds.auditor_username,
        "--service-user",
        creds.service_username,
        "--out",
        "/nonexistent-dir/never-written.json",
        *extra,
    ]
    out, err = io.StringIO(), io.StringIO()
    base: dict[str, str | None] = {
        "EXAUDIT_AUDIT_PASSWORD": creds.auditor_password,
        "EXAUDIT_SERVICE_PASSWORD": creds.service_password,
    }
    with environment({**base, **env}):
        code = main(argv, out, err)
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("$(SVC_PASSWORD)", "SVC_PASSWORD"),
        ("${SVC_PASSWORD}", "SVC_PASSWORD"),
        ("$SVC_PASSWORD", "SVC_PASSWORD"),
        ("${{ secrets.SVC }}", "secrets.SVC"),
        ("$ummer2024", None),
        ("pa$$word", None),
        ("", None),
    ],
)
def test_unexpanded_variable_forms(value: str, name: str | None) -> None:
    assert unexpanded_variable(value) == name


@pytest.mark.parametrize("variable", ["EXAUDIT_SERVICE_PASSWORD", "EXAUDIT_AUDIT_PASSWORD"])
def test_unexpanded_ci_variable_is_refused_before_any_logon(ntlm_lab: LabServer, variable: str) -> None:
    ntlm_lab.http.logons.clear()
    code, text = _run(ntlm_lab, env={variable: "$(SVC_PASSWORD)"})
    assert code == 2
    assert "SVC_PASSWORD" in text
    assert variable in text
    assert ntlm_lab.http.logons.events() == []  # not one (failed) logon reached the server


def test_missing_service_password_names_the_variable(ntlm_lab: LabServer) -> None:
    ntlm_lab.http.logons.clear()
    code, text = _run(ntlm_lab, env={"EXAUDIT_SERVICE_PASSWORD": None})
    assert code == 2
    assert "EXAUDIT_SERVICE_PASSWORD" in text
    assert ntlm_lab.http.logons.events() == []


@pytest.mark.parametrize(
    "argv_tail", [["--password", SECRET], [f"--password={SECRET}"], ["--service-password", SECRET], ["-p", SECRET]]
)
def test_a_mistyped_password_option_never_echoes_its_value(ntlm_lab: LabServer, argv_tail: list[str]) -> None:
    code, text = _run(ntlm_lab, *argv_tail, env={})
    assert code == 2
    assert SECRET not in text


def test_redaction_keeps_option_names() -> None:
    message = redact_unrecognized(f"unrecognized arguments: --password {SECRET} --verbose")
    assert SECRET not in message
    assert "--password" in message
    assert "EXAUDIT_SERVICE_PASSWORD" in message


def test_unresolvable_host_is_one_message_naming_it(ntlm_lab: LabServer) -> None:
    ntlm_lab.http.logons.clear()
    code, text = _run(ntlm_lab, "--ews-url", "http://exch-typo.invalid/EWS/Exchange.asmx", env={})
    assert code == 3
    assert text.count("exch-typo.invalid") == 1
    assert "cannot resolve" in text
    assert ntlm_lab.http.logons.events() == []


def test_missing_kerberos_extra_is_said_once_before_any_connection(
    ntlm_lab: LabServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the installed-or-not lookup is replaced (as on a machine without the extra); nothing else is mocked.
    monkeypatch.setattr(kerberos, "missing_modules", lambda: ["gssapi", "krb5", "requests_gssapi"])
    ntlm_lab.http.logons.clear()
    code, text = _run(ntlm_lab, env={}, auth="kerberos")
    assert code == 2
    assert text.count("pip install 'exaudit[kerberos]'") == 1
    assert len(text.strip().splitlines()) == 1
    assert ntlm_lab.http.logons.events() == []


def test_unencrypted_winrm_payload_after_ntlm_logon_is_refused(ntlm_lab: LabServer) -> None:
    # WinRM's AllowUnencrypted=false: a client that logs on with NTLM over http but sends plain text is refused.
    creds = ntlm_lab.credentials
    wsman = WSMan(
        "127.0.0.1",
        port=ntlm_lab.port,
        path="PowerShell",
        ssl=False,
        auth="ntlm",
        encryption="never",
        username=creds.auditor_username,
        password=creds.auditor_password,
    )
    with pytest.raises(AuthenticationError), RunspacePool(wsman, configuration_name="Microsoft.Exchange"):
        pass
    wsman.close()


def test_kerberos_only_powershell_refuses_ntlm(realm: Realm, krb_env: dict[str, str], tmp_path: Path) -> None:
    with LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab:
        creds = lab.credentials
        wsman = WSMan(
            "localhost",
            port=lab.port,
            path="PowerShell",
            ssl=False,
            auth="ntlm",
            username=creds.auditor_username,
            password=creds.auditor_password,
        )
        with pytest.raises(AuthenticationError), RunspacePool(wsman, configuration_name="Microsoft.Exchange"):
            pass
        wsman.close()
        refused = lab.http.logons.failures()
        assert "Kerberos only" in lab.auth_description
    assert refused
    assert {e.reason for e in refused} == {"Kerberos only"}
    assert {e.mechanism for e in refused} == {"ntlm"}


def test_unencrypted_winrm_payload_after_kerberos_logon_is_refused(
    realm: Realm, krb_env: dict[str, str], tmp_path: Path
) -> None:
    realm.kdc.kinit(realm.auditor, tmp_path / "a.ccache")
    with (
        environment({"KRB5CCNAME": f"FILE:{tmp_path / 'a.ccache'}"}),
        LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab,
    ):
        wsman = WSMan(
            "localhost",
            port=lab.port,
            path="PowerShell",
            ssl=False,
            auth="kerberos",
            encryption="never",
            negotiate_service="HTTP",
        )
        with pytest.raises(AuthenticationError), RunspacePool(wsman, configuration_name="Microsoft.Exchange"):
            pass
        wsman.close()
        logons = lab.http.logons.successes(realm.auditor.full)
    assert logons  # the logon itself succeeded: it is the plain-text payload that was refused
