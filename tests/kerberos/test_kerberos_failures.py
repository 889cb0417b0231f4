"""What goes wrong with Kerberos in real life, against a real MIT KDC: each is exit 2 or 3 with what to do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.lab.server import LabServer
from tests.kerberos.conftest import AUDITOR, SERVICE, Realm, logged_in, run_kerberos, service_keytab_env
from tests.kerberos.realm import SERVICE_HOST, MitRealm, environment

pytestmark = pytest.mark.e2e


def test_auditor_from_a_client_keytab_and_service_from_its_password(
    realm: Realm, krb_env: dict[str, str], kerberos_lab: LabServer, tmp_path: Path
) -> None:
    # No kinit at all: MIT gets the auditor's ticket from KRB5_CLIENT_KTNAME; the service account's ticket comes
    # from its password into a private memory cache, while the runner's own cache stays empty.
    env = {"KRB5_CLIENT_KTNAME": str(realm.auditor.keytab), "EXAUDIT_SERVICE_PASSWORD": realm.service.password}
    kerberos_lab.http.logons.clear()
    run = run_kerberos(kerberos_lab, tmp_path, env=env)
    assert run.code == 0, run.stderr
    ews = [e for e in kerberos_lab.http.logons.events() if e.path.lower().startswith("/ews")]
    assert ews
    assert {(e.principal, e.ok) for e in ews} == {(realm.service.full, True)}
    assert realm.service.password not in run.stdout + run.stderr
    assert realm.service.password.encode() not in (tmp_path / "snapshot.json").read_bytes()
    # MIT keeps the auditor's keytab ticket in the default cache (its documented client-keytab behaviour); the
    # service account's tickets never go there.
    listing = realm.kdc.run_tool("/usr/bin/klist", "-c", krb_env["KRB5CCNAME"], check=False)
    assert SERVICE not in listing


def test_wrong_service_password_is_one_failed_logon_and_no_probe(
    realm: Realm, krb_env: dict[str, str], kerberos_lab: LabServer, tmp_path: Path
) -> None:
    before = realm.kdc.failed_preauth(SERVICE)
    env = {**logged_in(realm, tmp_path / "a.ccache"), "EXAUDIT_SERVICE_PASSWORD": "Not-the-password-42"}
    kerberos_lab.http.logons.clear()
    run = run_kerberos(kerberos_lab, tmp_path, env=env)
    assert run.code == 3, run.stderr
    assert realm.kdc.failed_preauth(SERVICE) - before == 1  # the KDC's own log: exactly one wrong-password AS-REQ
    assert not [e for e in kerberos_lab.http.logons.events() if e.path.lower().startswith("/ews")]
    assert "one attempt only" in run.stderr
    assert run.statuses()["EXA050"] == "ERROR"
    assert "Not-the-password-42" not in run.stdout + run.stderr


def test_wrong_spn_says_spn_host_and_spn_host_fixes_it(
    realm: Realm, krb_env: dict[str, str], kerberos_lab: LabServer, tmp_path: Path
) -> None:
    env = {**logged_in(realm, tmp_path / "a.ccache"), **service_keytab_env(realm)}
    # 127.0.0.1 is not the name the SPN is registered under (HTTP/localhost): the KDC has no HTTP/127.0.0.1.
    run = run_kerberos(kerberos_lab, tmp_path / "wrong", env=env, server="127.0.0.1")
    assert run.code == 3, run.stderr
    assert "--spn-host" in run.stderr
    fixed = run_kerberos(kerberos_lab, tmp_path / "fixed", "--spn-host", SERVICE_HOST, env=env, server="127.0.0.1")
    assert fixed.code == 0, fixed.stderr


def test_lab_keytab_with_an_old_key_version(realm: Realm, krb_env: dict[str, str], tmp_path: Path) -> None:
    # The server's keytab was exported before the key changed (a password reset of the computer/service account):
    # the KDC issues tickets the server cannot decrypt. The client only sees a refusal; the message says why.
    alias = "exch-rekeyed.contoso.com"
    old_keytab = realm.kdc.add_service(alias, keytab=tmp_path / "old.keytab")
    realm.kdc.rekey_service(alias)
    env = {**logged_in(realm, tmp_path / "a.ccache"), **service_keytab_env(realm)}
    with LabServer("compliant", kerberos_keytab=old_keytab) as lab:
        run = run_kerberos(lab, tmp_path, "--spn-host", alias, env=env)
        refused = [e for e in lab.http.logons.events() if not e.ok]
    assert run.code == 3, run.stderr
    assert "key version" in run.stderr
    assert refused


def test_missing_client_keytab_is_a_usage_error(realm: Realm, krb_env: dict[str, str], tmp_path: Path) -> None:
    with LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab:
        run = run_kerberos(lab, tmp_path, env={"KRB5_CLIENT_KTNAME": str(tmp_path / "gone.keytab")})
        assert lab.http.logons.events() == []
    assert run.code == 2
    assert "KRB5_CLIENT_KTNAME" in run.stderr
    assert "does not exist" in run.stderr


def test_missing_service_keytab_is_a_usage_error(realm: Realm, krb_env: dict[str, str], tmp_path: Path) -> None:
    env = {**logged_in(realm, tmp_path / "a.ccache"), "EXAUDIT_SERVICE_KEYTAB": str(tmp_path / "svc.keytab")}
    with LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab:
        run = run_kerberos(lab, tmp_path, env=env)
        assert lab.http.logons.events() == []
    assert run.code == 2
    assert "EXAUDIT_SERVICE_KEYTAB" in run.stderr


def test_no_service_credential_is_a_usage_error_never_the_runners_ticket(
    realm: Realm, krb_env: dict[str, str], tmp_path: Path
) -> None:
    with LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab:
        run = run_kerberos(lab, tmp_path, env=logged_in(realm, tmp_path / "a.ccache"))
        assert lab.http.logons.events() == []
    assert run.code == 2
    assert "EXAUDIT_SERVICE_KEYTAB" in run.stderr
    assert "EXAUDIT_SERVICE_PASSWORD" in run.stderr


def test_no_ticket_at_all_is_a_usage_error(realm: Realm, krb_env: dict[str, str], tmp_path: Path) -> None:
    with LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab:
        run = run_kerberos(lab, tmp_path, env=service_keytab_env(realm))
    assert run.code == 2
    assert "kinit" in run.stderr


def test_expired_ticket_is_a_usage_error(realm: Realm, krb_env: dict[str, str], tmp_path: Path) -> None:
    ccache = tmp_path / "short.ccache"
    realm.kdc.kinit(realm.auditor, ccache, lifetime="2s")
    time.sleep(3)
    with LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab:
        env = {"KRB5CCNAME": f"FILE:{ccache}", **service_keytab_env(realm)}
        run = run_kerberos(lab, tmp_path, env=env)
        assert lab.http.logons.events() == []
    assert run.code == 2, run.stderr
    assert "expired" in run.stderr
    assert "kinit" in run.stderr


def test_kdc_down(realm: Realm, krb_env: dict[str, str], tmp_path: Path) -> None:
    # The same realm, but krb5.conf names a port where no KDC listens.
    conf = tmp_path / "krb5.conf"
    text = realm.kdc.krb5_conf.read_text(encoding="utf-8")
    conf.write_text(text.replace(f"127.0.0.1:{realm.kdc.port}", "127.0.0.1:9"), encoding="utf-8")
    env = {
        "KRB5_CONFIG": str(conf),
        "KRB5_CLIENT_KTNAME": str(realm.auditor.keytab),
        "EXAUDIT_SERVICE_PASSWORD": realm.service.password,
    }
    with LabServer("compliant", kerberos_keytab=realm.http_keytab) as lab:
        run = run_kerberos(lab, tmp_path, env=env)
    assert run.code == 3, run.stderr
    assert "no KDC answered" in run.stderr
    assert run.statuses()["EXA010"] == "ERROR"


@pytest.fixture
def skewed_realm(tmp_path: Path) -> Iterator[Realm]:
    """A second realm whose KDC's clock is two hours ahead (libfaketime)."""
    kdc = MitRealm(tmp_path / "skewed", faketime="+2h")
    with kdc:
        auditor = kdc.add_user(AUDITOR)
        service = kdc.add_user(SERVICE)
        keytab = kdc.add_service(SERVICE_HOST)
        yield Realm(kdc, auditor, service, keytab)


def test_clock_skew(skewed_realm: Realm, tmp_path: Path) -> None:
    env: dict[str, str | None] = {
        **skewed_realm.kdc.env(ccache=tmp_path / "runner.ccache"),
        "KRB5_CLIENT_KTNAME": str(skewed_realm.auditor.keytab),
        "EXAUDIT_SERVICE_KEYTAB": str(skewed_realm.service.keytab),
        "EXAUDIT_AUDIT_PASSWORD": None,
        "EXAUDIT_SERVICE_PASSWORD": None,
    }
    with environment(env), LabServer("compliant", kerberos_keytab=skewed_realm.http_keytab) as lab:
        run = run_kerberos(lab, tmp_path)
    assert run.code == 3, run.stderr
    assert "clocks" in run.stderr
    assert "NTP" in run.stderr
