"""Two labs in one process, each with its own generated passwords, both accept NTLM with encryption."""

from __future__ import annotations

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from audit.lab.server import LabServer


def _org_name(lab: LabServer) -> str:
    creds = lab.credentials
    wsman = WSMan(
        "127.0.0.1",
        port=lab.port,
        path="PowerShell",
        ssl=False,
        auth="ntlm",
        username=creds.auditor_username,
        password=creds.auditor_password,
    )
    with RunspacePool(wsman, configuration_name="Microsoft.Exchange") as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-OrganizationConfig")
        output = ps.invoke()
        assert not ps.had_errors
        assert not ps.streams.error
    return str(output[0].adapted_properties["Name"])


def test_ntlm_logins_to_two_running_labs_each_use_their_own_accounts() -> None:
    with LabServer("compliant") as one, LabServer("unscoped") as two:
        assert one.credentials.auditor_password != two.credentials.auditor_password
        # Alternate, so that each handshake follows one against the other lab.
        for _ in range(2):
            assert _org_name(one)
            assert _org_name(two)
