"""Every lab scenario, audited end to end with `exaudit run`: exactly its listed checks fail, with its exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.lab.server import LabServer, list_scenarios, scenario_expectations

from .conftest import assert_no_secret, run_cli

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("scenario", list_scenarios("on-premises"))
def test_scenario_gives_exactly_its_failing_checks(scenario: str, tmp_path: Path) -> None:
    expect = scenario_expectations(scenario)
    with LabServer(scenario) as lab:
        run = run_cli(lab, tmp_path)  # NTLM with WinRM message encryption on /PowerShell, NTLM on EWS
        creds = lab.credentials
        accepted = lab.tenant.account_with_role("service")
        secrets = [creds.auditor_password, creds.service_password]
        if accepted is not None and accepted.password:
            secrets.append(accepted.password)
        ews = lab.stats()["ews"]
        budget = lab.tenant.ews_max_concurrency(lab.tenant.account_user(accepted.username)) if accepted else None
    assert run.not_passing() == set(expect["failing"]), run.stderr
    assert run.code == expect["exit_code"], run.stderr
    # EXA050/EXA051 are never PASS without a probe having been observed
    statuses = run.statuses()
    assert statuses["EXA050"] in {"PASS", "FAIL", "ERROR"}
    assert_no_secret(run, secrets)
    if budget is not None:  # probes stayed within the service account's EWSMaxConcurrency
        assert max(ews["max_in_flight_by_account"].values() or [0]) <= budget
    assert (tmp_path / "snapshot.json").is_file()
