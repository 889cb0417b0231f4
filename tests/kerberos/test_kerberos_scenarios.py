"""Shipped scenarios audited over Kerberos against a real MIT KDC: the same verdicts as over NTLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.lab.server import LabServer, list_scenarios, scenario_expectations
from tests.kerberos.conftest import SERVICE, Realm, logged_in, run_kerberos, service_keytab_env

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("scenario", list_scenarios("on-premises"))
def test_scenario_verdict_over_kerberos(scenario: str, realm: Realm, krb_env: dict[str, str], tmp_path: Path) -> None:
    expected = scenario_expectations(scenario)
    with LabServer(scenario, kerberos_keytab=realm.http_keytab) as lab:
        env = logged_in(realm, tmp_path / "auditor.ccache")
        service = lab.tenant.account(SERVICE)
        if service is not None and service.stale_credentials:
            # "The integration holds an old password": under Kerberos the KDC refuses it, once.
            env["EXAUDIT_SERVICE_PASSWORD"] = "the-password-before-the-change"
        else:
            env.update(service_keytab_env(realm))
        run = run_kerberos(lab, tmp_path, env=env)
        events = lab.http.logons.events()
    assert run.code == expected["exit_code"], run.stderr
    assert run.not_passing() == set(expected["failing"]), run.stderr
    # Every logon was Kerberos: the auditor on /PowerShell, the service account (and only it) on /EWS.
    assert events, "the lab recorded no logon"
    assert {e.mechanism for e in events} == {"kerberos"}
    powershell = {(e.principal, e.ok) for e in events if e.path.lower().startswith("/powershell")}
    ews = {e.principal for e in events if e.path.lower().startswith("/ews")}
    assert powershell == {(realm.auditor.full, True)}
    assert ews <= {realm.service.full}
