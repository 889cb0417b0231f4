"""PowerShellMaxConcurrency: the lab refuses one session more than the account's policy allows, as Exchange does,
and the auditor's runner works on with the sessions it was given."""

from __future__ import annotations

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import RunspacePool

from audit.collect.collector import collect_state
from audit.collect.psrp import PsrpEndpoint, PsrpRunner
from audit.lab.wsman import POWERSHELL_MAX_CONCURRENCY

from .conftest import PSLab


def test_default_limit_is_exchanges_default_policy() -> None:
    assert POWERSHELL_MAX_CONCURRENCY == 18


def test_one_session_over_the_limit_is_refused_with_the_quota_fault(lab: PSLab) -> None:
    lab.endpoint.max_shells_per_user = 2
    pools = [RunspacePool(lab.wsman(), configuration_name="Microsoft.Exchange") for _ in range(3)]
    pools[0].open()
    pools[1].open()
    with pytest.raises(WSManFaultError) as info:
        pools[2].open()
    assert info.value.code == 2150859173
    assert "maximum of 2 concurrent shells" in str(info.value.reason)
    # Another account has its own budget; closing a session frees one.
    pools[0].close()
    pools[2] = RunspacePool(lab.wsman(), configuration_name="Microsoft.Exchange")
    pools[2].open()
    for pool in pools[1:]:
        pool.close()
    assert lab.endpoint.shell_count() == 0


def test_runner_works_on_with_the_sessions_the_server_allows(lab: PSLab) -> None:
    lab.endpoint.max_shells_per_user = 2
    endpoint = PsrpEndpoint("127.0.0.1", lab.port, auth="ntlm", username=lab.reader, password=lab.password(lab.reader))
    runner = PsrpRunner(endpoint, pools=3)
    try:
        state = collect_state(runner, [lab.service], timeout=30)
    finally:
        runner.close()
    assert all(c.ok for c in state.calls), [c.error for c in state.calls if not c.ok]
    assert lab.endpoint.shell_count() == 0


def test_pool_count_is_bounded() -> None:
    with pytest.raises(ValueError, match="between 1 and 8"):
        PsrpRunner(PsrpEndpoint("127.0.0.1", 1, auth="basic"), pools=9)
