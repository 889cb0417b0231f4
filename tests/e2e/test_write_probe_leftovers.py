"""Write-probe items left by a run killed between CreateItem and DeleteItem are found, reported and removed.

The first run is a real `exaudit run --probe calendar-write` in a child process, killed with SIGKILL while the lab
holds its DeleteItem requests; the lab's own item count proves what was left and what the next runs did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit.lab.server import LabServer
from audit.policy import load_policy
from audit.probe.ews import LEFTOVER_SUBJECT, MARKER_PREFIX

from .conftest import POLICY, REPO, run_cli

pytestmark = pytest.mark.e2e


def _items(lab: LabServer) -> int:
    return int(lab.stats()["calendar_items_total"])


def _killed_between_create_and_delete(lab: LabServer, tmp: Path) -> int:
    creds = lab.credentials
    lab.faults.apply({"rules": [{"route": "ews", "kind": "hang", "operation": "DeleteItem", "count": None}]})
    env = dict(os.environ)
    env.update(
        {
            "EXAUDIT_AUDIT_PASSWORD": creds.auditor_password,
            "EXAUDIT_SERVICE_PASSWORD": creds.service_password,
            "PYTHONPATH": str(REPO),
        }
    )
    argv = [
        sys.executable, "-m", "audit", "run", str(POLICY), "--server", "127.0.0.1", "--port", str(lab.port),
        "--scheme", "http", "--auth", "ntlm", "--audit-user", creds.auditor_username,
        "--service-user", creds.service_username, "--probe", "calendar-write", "--timeout", "30", "--deadline", "60",
        "--report-dir", str(tmp / "killed"), "-q",
    ]  # fmt: skip
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen, stable_since = 0, time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = _items(lab)
            if now != seen:
                seen, stable_since = now, time.monotonic()
            if seen and time.monotonic() - stable_since > 1.0:
                break
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    lab.faults.reset()  # the calendars stay as the killed run left them
    return seen


def test_a_killed_write_probe_leaves_items_the_next_runs_report_and_remove(lab: LabServer, tmp_path: Path) -> None:
    lab.reset()
    left = _killed_between_create_and_delete(lab, tmp_path)
    assert left >= 1
    assert _items(lab) == left
    store = lab.tenant.calendars
    subjects = [i.subject for mb in store.counts() for i in store.items(mb)]
    assert all(LEFTOVER_SUBJECT.match(s) for s in subjects), subjects

    # A read-only run finds and reports them, and (removing being a write) leaves them in place.
    read = run_cli(lab, tmp_path / "read")
    assert read.code == 0, read.stderr
    probe_run = json.loads((tmp_path / "read" / "snapshot.json").read_text(encoding="utf-8"))["probe_run"]
    assert (probe_run["leftovers_found"], probe_run["leftovers_removed"]) == (left, 0)
    exa050 = next(f for f in read.report()["findings"] if f["checkId"] == "EXA050")
    assert f"{left} write-probe item(s) left by earlier runs" in exa050["message"]
    assert _items(lab) == left

    # A write run removes them and says so; the lab has no item left.
    write = run_cli(lab, tmp_path / "write", "--probe", "calendar-write")
    assert write.code == 0, write.stderr
    probe_run = json.loads((tmp_path / "write" / "snapshot.json").read_text(encoding="utf-8"))["probe_run"]
    assert (probe_run["leftovers_found"], probe_run["leftovers_removed"]) == (left, left)
    exa050 = next(f for f in write.report()["findings"] if f["checkId"] == "EXA050")
    assert f"{left} removed, 0 left in place" in exa050["message"]
    assert _items(lab) == 0

    # And the next run finds nothing: a clean calendar is reported as such, not silently.
    again = run_cli(lab, tmp_path / "again")
    probe_run = json.loads((tmp_path / "again" / "snapshot.json").read_text(encoding="utf-8"))["probe_run"]
    assert probe_run["leftovers_found"] == 0
    exa050 = next(f for f in again.report()["findings"] if f["checkId"] == "EXA050")
    assert "write-probe items of earlier runs found: 0, removed: 0" in exa050["evidence"]


def test_a_meeting_that_merely_mentions_the_marker_is_never_touched(lab: LabServer, tmp_path: Path) -> None:
    lab.reset()
    mailbox = sorted(load_policy(POLICY).expected_members.required)[0]
    lab.tenant.calendars.create(
        mailbox, f"{MARKER_PREFIX} review with the auditors", "2027-01-04T09:00:00Z", "2027-01-04T10:00:00Z"
    )
    run = run_cli(lab, tmp_path, "--probe", "calendar-write")
    assert run.code == 0, run.stderr
    probe_run = json.loads((tmp_path / "snapshot.json").read_text(encoding="utf-8"))["probe_run"]
    assert probe_run["leftovers_found"] == 0
    assert _items(lab) == 1
