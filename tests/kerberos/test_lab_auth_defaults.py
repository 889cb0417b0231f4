"""The lab offers what Exchange offers out of the box: no Basic unless asked, Kerberos-only /PowerShell with a realm."""

from __future__ import annotations

import http.client
import io
import threading
import urllib.parse
from pathlib import Path

import pytest

from audit.cli import main
from audit.lab.server import LabServer, serve
from tests.kerberos.conftest import Realm


def _offered(url: str) -> list[str]:
    """The schemes a 401 offers, in order (one WWW-Authenticate header per scheme, as IIS sends them)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("POST", parts.path, body=b"<x/>")
        response = conn.getresponse()
        response.read()
        assert response.status == 401
        return [h.split(" ")[0] for h in response.headers.get_all("WWW-Authenticate") or []]
    finally:
        conn.close()


def test_no_realm_means_negotiate_and_ntlm_and_no_basic() -> None:
    with LabServer("compliant", kerberos_keytab="") as lab:
        assert _offered(lab.psrp_url) == ["Negotiate", "NTLM"]
        assert _offered(lab.ews_url) == ["Negotiate", "NTLM"]
        assert "no Kerberos realm configured" in lab.auth_description


def test_basic_only_when_asked(tmp_path: Path) -> None:
    with LabServer("compliant", kerberos_keytab="", basic=True) as lab:
        assert "Basic" in _offered(lab.ews_url)
    # A scenario turns it on with `auth: {basic: true}`.
    scenario = tmp_path / "basic-on.yaml"
    base = Path(__file__).resolve().parents[2] / "audit" / "lab" / "scenarios" / "compliant.yaml"
    scenario.write_text(f"extends: {base}\nauth: {{basic: true}}\n", encoding="utf-8")
    with LabServer(tenant_path=scenario, kerberos_keytab="") as lab:
        assert "Basic" in _offered(lab.psrp_url)


def test_realm_means_kerberos_only_powershell(realm: Realm, krb_env: dict[str, str]) -> None:
    with LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab:
        assert _offered(lab.psrp_url) == ["Negotiate"]
        assert _offered(lab.ews_url) == ["Negotiate", "NTLM"]
        assert lab.auth_description.startswith("PowerShell accepts Kerberos only")


def test_lab_serve_says_what_it_accepts_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXAUDIT_LAB_KEYTAB", raising=False)
    out = io.StringIO()
    stop = threading.Event()
    stop.set()
    assert serve("compliant", None, 0, False, 0, out, stop=stop) == 0
    lines = [line for line in out.getvalue().splitlines() if "auth" in line and "accepts" in line]
    assert len(lines) == 1
    assert "NTLM" in lines[0]
    assert "no Kerberos realm configured" in lines[0]


def test_demo_works_without_a_kdc_and_says_so_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A realm configured for `lab serve` (here: a keytab that does not even exist) is not used by the demo.
    monkeypatch.setenv("EXAUDIT_LAB_KEYTAB", str(tmp_path / "absent.keytab"))
    out, err = io.StringIO(), io.StringIO()
    code = main(["demo", "--out", str(tmp_path / "demo")], out, err)
    assert code == 0, err.getvalue()
    lines = [line for line in err.getvalue().splitlines() if "Kerberos realm" in line]
    assert len(lines) == 1
    assert "NTLM with WinRM message encryption" in lines[0]
