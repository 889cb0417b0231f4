"""The opt-in write probe: a private, free test item is created and removed, whatever fails in between."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.demo import lab_target
from audit.lab.server import LabServer
from audit.policy import load_policy
from audit.probe import MARKER_PREFIX, EwsEndpoint, Prober, ProbeSettings, ProbeTarget
from audit.run import collect
from audit.snapshot import ProbeOutcome

from .conftest import POLICY, run_cli

pytestmark = pytest.mark.e2e


def test_write_probe_through_the_cli_leaves_no_item(lab: LabServer, tmp_path: Path) -> None:
    lab.reset()
    run = run_cli(lab, tmp_path, "--probe", "calendar-write")
    assert run.code == 0, run.stderr
    stats = lab.stats()
    assert stats["ews"]["by_operation"].get("CreateItem") == 6
    assert stats["ews"]["by_operation"].get("DeleteItem") == 6
    assert stats["calendar_items_total"] == 0


def test_item_is_removed_when_the_run_fails_between_create_and_delete(lab: LabServer) -> None:
    lab.reset()
    seen: list[tuple[str, str, str]] = []

    def fail_between(mailbox: str) -> None:
        for item in lab.tenant.calendars.items(mailbox):
            seen.append((item.subject, item.sensitivity, item.legacy_free_busy))
        raise RuntimeError("injected failure between create and delete")

    policy = load_policy(POLICY)
    snapshot = collect([policy], lab_target(lab, probe_operation="calendarWrite"), after_create=fail_between)
    allowed = [p for p in snapshot.probes if p.expect == "allow"]
    assert len(allowed) == 6
    assert all(p.outcome == ProbeOutcome.ERROR and "injected" in p.detail for p in allowed)
    assert len(seen) == 6
    assert all(subject.startswith(MARKER_PREFIX) for subject, _s, _f in seen)
    assert {(s, f) for _subject, s, f in seen} == {("Private", "Free")}
    assert lab.stats()["calendar_items_total"] == 0


def test_final_sweep_removes_an_item_whose_delete_was_lost(lab: LabServer) -> None:
    lab.reset()
    # GetFolder, CreateItem, then the DeleteItem's connection is dropped: only the sweep can clean up.
    lab.faults.apply({"rules": [{"route": "ews", "kind": "drop", "after": 2, "count": 1}]})
    creds = lab.credentials
    endpoint = EwsEndpoint(
        url=lab.ews_url,
        username=creds.service_username,
        password=creds.service_password,
        auth="ntlm",
        server_build=lab.tenant.organization.build,
    )
    prober = Prober(
        endpoint, ProbeSettings(concurrency=1, deadline_seconds=20, request_timeout=5, operation="calendarWrite")
    )
    try:
        probes, run = prober.run([ProbeTarget("ad.viseur@contoso.com", "allow", "list")])
    finally:
        prober.close()
        lab.faults.reset()
    assert probes[0].outcome == ProbeOutcome.ERROR
    assert run.error is None  # the sweep found and deleted the item
    assert lab.tenant.calendars.total() == 0


class _InterruptAfterFirst:
    """A progress sink that presses Ctrl-C (in the main thread) once the first probe is done."""

    def start(self, total: int, label: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        raise KeyboardInterrupt

    def finish(self) -> None:
        pass


def test_ctrl_c_during_write_probes_leaves_no_item(lab: LabServer) -> None:
    lab.reset()
    lab.faults.set_latency(150, "ews")  # keep other probes between create and delete when Ctrl-C comes
    creds = lab.credentials
    endpoint = EwsEndpoint(
        url=lab.ews_url,
        username=creds.service_username,
        password=creds.service_password,
        auth="ntlm",
        server_build=lab.tenant.organization.build,
    )
    targets = [ProbeTarget(a, "allow", "groupMembers") for a in sorted(load_policy(POLICY).expected_members.required)]
    prober = Prober(
        endpoint, ProbeSettings(concurrency=3, deadline_seconds=30, request_timeout=5, operation="calendarWrite")
    )
    try:
        with pytest.raises(KeyboardInterrupt):
            prober.run(targets, _InterruptAfterFirst())
    finally:
        prober.close()
        lab.faults.reset()
    assert lab.stats()["ews"]["by_operation"].get("CreateItem", 0) >= 1
    assert lab.tenant.calendars.total() == 0
