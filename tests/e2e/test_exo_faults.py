"""Exchange Online faults end to end (real msal, real requests, HTTPS lab): each a clear line, the right exit code,
fail closed, and no secret or token anywhere."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from audit.demo import exo_lab_target
from audit.lab.server import LabServer
from audit.probe.interface import ProbeSettings, ProbeTarget
from audit.snapshot import ProbeOutcome

from .exo_support import assert_nothing_leaked, exo_argv, recording_tokens, run_exo, scenario_file, secrets_of

pytestmark = pytest.mark.e2e

AUTH_KINDS = {"Authentication", "TLS", "Connection"}


def snapshot_calls(run_dir: Path) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = json.loads((run_dir / "snapshot.json").read_text(encoding="utf-8"))["calls"]
    return calls


def test_certificate_credential_reads_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LabServer("exo-compliant") as lab, recording_tokens(monkeypatch) as tokens:
        run = run_exo(lab, tmp_path, certificate=True)
        secrets = secrets_of(lab)
    calls = snapshot_calls(tmp_path)
    assert not [c for c in calls if c["error_kind"] in AUTH_KINDS], run.stderr
    assert {c["cmdlet"] for c in calls if c["ok"]} >= {"Get-ServicePrincipal", "Graph:servicePrincipal"}
    assert run.statuses()["EXA050"] == "PASS"
    assert run.statuses()["EXA051"] == "PASS"
    assert_nothing_leaked(run, [*secrets, *tokens])


def test_wrong_client_secret_is_one_line_and_exit_3(tmp_path: Path) -> None:
    with LabServer("exo-compliant") as lab:
        run = run_exo(lab, tmp_path, env={"EXAUDIT_CLIENT_SECRET": "not-the-secret-123"})
        secrets = secrets_of(lab)
    assert run.code == 3
    assert "refused the client secret from EXAUDIT_CLIENT_SECRET" in run.stderr
    assert "Traceback" not in run.stderr
    calls = snapshot_calls(tmp_path)
    assert all(not c["ok"] for c in calls if str(c["cmdlet"]).startswith(("Get-", "Test-")))
    assert_nothing_leaked(run, [*secrets, "not-the-secret-123"])


def test_wrong_tenant_says_so(tmp_path: Path) -> None:
    with LabServer("exo-compliant") as lab:
        argv = exo_argv(lab)
        wrong = "11111111-2222-3333-4444-555555555555"
        argv[argv.index(lab.tenant_id)] = wrong
        authority = lab.authority_url.rsplit("/", 1)[0]
        argv[argv.index(lab.authority_url)] = authority
        run = run_exo(lab, tmp_path, argv=argv)
    assert run.code == 3
    assert "tenant" in run.stderr
    assert "Traceback" not in run.stderr


def _certificate(tmp: Path, *, expired: bool) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exaudit test")])
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=30), now - dt.timedelta(days=1)) if expired else (now, now + dt.timedelta(days=1))
    )
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_expired_certificate_is_refused_before_any_request(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, expired=True)
    with LabServer("exo-compliant") as lab:
        run = run_exo(lab, tmp_path / "run", "--client-cert", str(cert), "--client-key", str(key))
        token_requests = lab.stats()["token_requests"]
    assert run.code == 2
    assert "expired" in run.stderr
    assert run.stderr.count("\n") == 1
    assert not token_requests


def test_a_certificate_not_registered_for_the_app_is_refused_by_the_token_service(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, expired=False)
    with LabServer("exo-compliant") as lab:
        run = run_exo(lab, tmp_path / "run", "--client-cert", str(cert), "--client-key", str(key))
    assert run.code == 3
    assert "refused the certificate" in run.stderr


def test_mismatched_key_is_a_usage_error(tmp_path: Path) -> None:
    cert, _ = _certificate(tmp_path, expired=False)
    (tmp_path / "other").mkdir()
    _, other_key = _certificate(tmp_path / "other", expired=False)
    with LabServer("exo-compliant") as lab:
        run = run_exo(lab, tmp_path / "run", "--client-cert", str(cert), "--client-key", str(other_key))
    assert run.code == 2
    assert "does not belong" in run.stderr


@pytest.mark.parametrize("flag", ["--client-secret", "--probe-client-secret"])
def test_a_secret_on_the_command_line_is_refused(tmp_path: Path, flag: str) -> None:
    with LabServer("exo-compliant") as lab:
        run = run_exo(lab, tmp_path, flag, "s3cr3t-on-argv")
        requests = lab.stats()["token_requests"]
    assert run.code == 2
    assert flag in run.stderr
    assert "s3cr3t-on-argv" not in run.stderr
    assert not requests


def test_missing_exchange_role_names_the_role_group(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        "no-role",
        "extends: {dir}/exo-compliant.yaml\n"
        "exchange_online:\n  apps:\n    - name: exaudit Reader\n      role_groups: []\n",
    )
    with LabServer(tenant_path=path) as lab:
        run = run_exo(lab, tmp_path / "run")
    assert run.code == 3
    assert "View-Only Organization Management" in run.stderr
    assert "Traceback" not in run.stderr


def test_missing_manage_as_app_says_which_entra_role(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        "no-manage-as-app",
        "extends: {dir}/exo-compliant.yaml\n"
        "exchange_online:\n  apps:\n    - name: exaudit Reader\n      entra_roles: [graph:Application.Read.All]\n",
    )
    with LabServer(tenant_path=path) as lab:
        run = run_exo(lab, tmp_path / "run")
    assert run.code == 3
    assert "Exchange.ManageAsApp" in run.stderr


def test_graph_403_on_service_principals_errors_the_entra_checks(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        "no-graph-read",
        "extends: {dir}/exo-compliant.yaml\n"
        "exchange_online:\n  apps:\n    - name: exaudit Reader\n      entra_roles: [exchange:Exchange.ManageAsApp]\n",
    )
    with LabServer(tenant_path=path) as lab:
        run = run_exo(lab, tmp_path / "run")
    assert run.code == 3
    assert "Application.Read.All" in run.stderr
    calls = {c["cmdlet"]: c for c in snapshot_calls(tmp_path / "run")}
    assert calls["Graph:servicePrincipal"]["ok"] is False
    assert calls["Get-ServicePrincipal"]["ok"] is True  # the Exchange side is still read


def test_graph_429_on_the_entra_reads_is_waited_out(tmp_path: Path) -> None:
    with LabServer("exo-compliant") as lab:
        lab.faults.set_429("graph", next_requests=2, retry_after=1)
        run = run_exo(lab, tmp_path)
    calls = {c["cmdlet"]: c for c in snapshot_calls(tmp_path)}
    assert calls["Graph:servicePrincipal"]["ok"] is True, run.stderr
    assert calls["Graph:appRoleAssignments"]["ok"] is True
    assert float(str(calls["Graph:servicePrincipal"]["duration_ms"])) >= 1900  # two Retry-After: 1


def test_graph_429_on_probes_is_retried_per_sub_request_within_the_deadline() -> None:
    targets = [ProbeTarget(m, "allow", "list") for m in ("ad.viseur@contoso.com", "bea.buiten@contoso.com")]
    targets += [ProbeTarget("ceo@contoso.com", "deny", "canary")]
    with LabServer("exo-compliant") as lab:
        target = exo_lab_target(lab)
        prober = target.graph_prober(target.prober_tokens(), ProbeSettings(concurrency=2, deadline_seconds=20))
        prober.run(targets[:1])  # the token first: the fault is for the probes' sub-requests only
        lab.faults.set_429("graph", next_requests=2, retry_after=1)
        probes, run = prober.run(targets)
        prober.close()
    assert [p.outcome for p in probes] == [ProbeOutcome.ALLOWED, ProbeOutcome.ALLOWED, ProbeOutcome.DENIED]
    assert sorted(p.attempts for p in probes) == [1, 2, 2]
    assert run.completed


def test_graph_429_past_the_deadline_is_error_never_pass() -> None:
    with LabServer("exo-compliant") as lab:
        target = exo_lab_target(lab)
        prober = target.graph_prober(target.prober_tokens(), ProbeSettings(deadline_seconds=2))
        lab.faults.set_429("graph", always=True, retry_after=5)
        probes, run = prober.run([ProbeTarget("ceo@contoso.com", "deny", "canary")])
        prober.close()
    assert probes[0].outcome is ProbeOutcome.ERROR
    assert not run.completed


def test_a_probing_app_without_credentials_is_refused_before_any_connection(tmp_path: Path) -> None:
    with LabServer("exo-compliant") as lab:
        run = run_exo(lab, tmp_path, env={"EXAUDIT_PROBE_CLIENT_SECRET": ""})
        stats = lab.stats()
    assert run.code == 2
    assert "EXAUDIT_PROBE_CLIENT_SECRET" in run.stderr
    # Nothing was asked of the tenant: the missing secret is found first.
    assert not stats["token_requests"]
    assert not stats["invoke_command_calls"]


def test_a_canary_without_a_mailbox_is_error_not_pass(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path, "no-ceo", "extends: {dir}/exo-compliant.yaml\nusers:\n  - {name: Carla Eo, type: User}\n"
    )
    with LabServer(tenant_path=path) as lab:
        run = run_exo(lab, tmp_path / "run")
    probes = json.loads((tmp_path / "run" / "snapshot.json").read_text(encoding="utf-8"))["probes"]
    ceo = next(p for p in probes if p["mailbox"] == "ceo@contoso.com")
    assert ceo["outcome"] == "no_mailbox"
    assert ceo["response_code"].startswith("404")
    assert run.statuses()["EXA051"] == "ERROR"
    assert run.code == 3


def test_policies_of_both_platforms_in_one_run_are_refused(tmp_path: Path) -> None:
    from audit.cli import main

    from .exo_support import EXO_POLICY, REPO

    with LabServer("exo-compliant") as lab:
        err = io.StringIO()
        code = main(
            ["run", str(REPO / "policies" / "callpro.yaml"), str(EXO_POLICY), *exo_argv(lab)], io.StringIO(), err
        )
    assert code == 2
    assert "audit each platform in its own run" in err.getvalue()
