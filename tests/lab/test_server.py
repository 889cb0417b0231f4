"""LabServer composition: endpoints, credentials, TLS, PowerShell next to EWS, serve(), the generator."""

from __future__ import annotations

import http.client
import io
import ssl
import threading
import time

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from audit.lab.generate import generate, generated_address
from audit.lab.server import LabServer, scenario_path, serve
from audit.lab.tenant import load_tenant
from tests.lab.ews_wire import response_code, sample


def test_endpoints_and_credentials(compliant_lab: LabServer) -> None:
    assert compliant_lab.ews_url == f"http://127.0.0.1:{compliant_lab.port}/EWS/Exchange.asmx"
    assert compliant_lab.psrp_url.endswith("/PowerShell")
    creds = compliant_lab.credentials
    assert creds.service_username == "svcServiceAccount@contoso.com"
    assert creds.auditor_username == "exaudit-reader@contoso.com"
    assert len(creds.service_password) >= 16
    assert creds.service_password not in repr(creds)
    assert compliant_lab.ca_cert_path is None


def test_passwords_are_generated_per_run() -> None:
    with LabServer("compliant", basic=True) as one, LabServer("compliant", basic=True) as two:
        assert one.credentials.service_password != two.credentials.service_password
        assert one.port != two.port


def test_tls_with_generated_ca() -> None:
    with LabServer("compliant", tls=True, basic=True) as lab:
        assert lab.ews_url.startswith("https://127.0.0.1:")
        assert lab.ca_cert_path is not None
        context = ssl.create_default_context(cafile=str(lab.ca_cert_path))
        conn = http.client.HTTPSConnection("127.0.0.1", lab.port, context=context, timeout=10)
        import base64

        creds = lab.credentials
        token = base64.b64encode(f"{creds.service_username}:{creds.service_password}".encode()).decode()
        conn.request(
            "POST",
            "/EWS/Exchange.asmx",
            body=sample("getfolder-request-calendar.xml"),
            headers={"Authorization": f"Basic {token}", "Content-Type": "text/xml"},
        )
        response = conn.getresponse()
        assert response.status == 200
        assert response_code(response.read()) == "NoError"
        conn.close()


def test_powershell_and_ews_share_the_tenant_and_count_cmdlets(compliant_lab: LabServer) -> None:
    creds = compliant_lab.credentials
    wsman = WSMan(
        "127.0.0.1",
        port=compliant_lab.port,
        path="PowerShell",
        ssl=False,
        auth="basic",
        username=creds.auditor_username,
        password=creds.auditor_password,
        encryption="never",
    )
    with RunspacePool(wsman, configuration_name="Microsoft.Exchange") as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-ManagementScope")
        out = ps.invoke()
    assert [o.adapted_properties["Name"] for o in out] == ["Scope-CallPro Calendar Access"]
    stats = compliant_lab.stats()
    assert stats["cmdlets"] == {"Get-ManagementScope": 1}
    assert stats["cmdlets_by_account"] == {"exaudit-reader": 1}


def test_serve_prints_endpoints_and_stops() -> None:
    out = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(serve("group-visible", 20, 0, False, 0, out, stop=stop)))
    thread.start()
    for _ in range(200):
        if "Ctrl-C" in out.getvalue():
            break
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    text = out.getvalue()
    assert result == [0]
    assert "scenario 'group-visible', 35 mailboxes" in text
    assert "/EWS/Exchange.asmx" in text
    assert "/PowerShell" in text
    assert "svcServiceAccount@contoso.com" in text
    assert text.rstrip().endswith("exaudit lab: stopped")


def test_generator_builds_100k_mailboxes() -> None:
    base = load_tenant(scenario_path("compliant"))
    tenant = generate(base, 100_000, group_members=2_000)
    assert sum(1 for _ in tenant.mailboxes()) == 100_000 + 15
    group = tenant.group("SecurityGroup-CallPro Calendar Access")
    assert group is not None
    assert len(group.members) == 6 + 2_000
    last = tenant.mailbox(generated_address(99_999))
    assert last is not None
    assert tenant.resolve(last.sid) == last
    assert len(base.recipients) == 16  # the base tenant is left unchanged
