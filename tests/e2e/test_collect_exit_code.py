"""`exaudit collect` exits 3 when a probe could not tell, like a failed cmdlet (real clients, lab on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

from audit.lab.server import LabServer
from audit.snapshot import ProbeOutcome, load
from tests.e2e.conftest import assert_no_secret, run_cli


def test_probes_refused_with_401_make_collect_exit_3(lab: LabServer, tmp_path: Path) -> None:
    # Every cmdlet succeeds and the probe run completes, but no probe observed anything: the snapshot cannot
    # decide EXA050/EXA051, so collection did not succeed.
    run = run_cli(lab, tmp_path, command="collect", service_password="not-the-service-password-1!")
    snapshot, _ = load(tmp_path / "snapshot.json")
    assert all(c.ok for c in snapshot.calls)
    assert snapshot.probe_run is not None
    assert snapshot.probe_run.completed
    assert {p.outcome for p in snapshot.probes} == {ProbeOutcome.AUTH_FAILED}
    assert run.code == 3, run.stderr
    assert "probe" in run.stderr.lower()
    assert_no_secret(run, ["not-the-service-password-1!", lab.credentials.service_password])
