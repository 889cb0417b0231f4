"""`exaudit collect` exits 3 when a probe could not tell, like a failed cmdlet (real clients, lab on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

from audit.lab.server import LabServer
from audit.snapshot import ProbeOutcome, load
from tests.e2e.conftest import assert_no_secret, run_cli


def test_probes_refused_with_401_make_collect_exit_3(lab: LabServer, tmp_path: Path) -> None:
    # Every cmdlet succeeds and the probe run completes, but no probe observed anything: the snapshot cannot
    # decide EXA050/EXA051, so collection did not succeed.
    lab.http.logons.clear()
    run = run_cli(lab, tmp_path, command="collect", service_password="not-the-service-password-1!")
    snapshot, _ = load(tmp_path / "snapshot.json")
    assert all(c.ok for c in snapshot.calls)
    assert snapshot.probe_run is not None
    # The first refused logon stops every other probe: one wrong password is one failed logon in the server's
    # log, not one per mailbox (which would lock the integration's account out), and the snapshot says so.
    outcomes = [p.outcome for p in snapshot.probes]
    assert outcomes.count(ProbeOutcome.AUTH_FAILED) == 1
    assert set(outcomes) == {ProbeOutcome.AUTH_FAILED, ProbeOutcome.ERROR}
    assert not snapshot.probe_run.completed
    assert "not attempted" in (snapshot.probe_run.error or "")
    assert len(lab.http.logons.failures(lab.credentials.service_username)) == 1
    assert lab.http.logons.successes(lab.credentials.auditor_username)
    assert run.code == 3, run.stderr
    assert "probe" in run.stderr.lower()
    assert_no_secret(run, ["not-the-service-password-1!", lab.credentials.service_password])
