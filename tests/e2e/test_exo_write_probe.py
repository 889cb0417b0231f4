"""The opt-in Graph write probe against the lab (real msal, real HTTPS): the event is created and deleted, nothing
is left, a canary is never written to, and a failure between create and delete still deletes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.demo import exo_lab_target
from audit.lab.server import LabServer
from audit.policy import load_policy
from audit.run import collect
from audit.snapshot import ProbeOutcome

from .exo_support import EXO_POLICY

pytestmark = pytest.mark.e2e


def test_write_probe_leaves_nothing_and_never_writes_to_a_canary(tmp_path: Path) -> None:
    created: list[str] = []
    held: list[int] = []
    with LabServer("exo-compliant") as lab:

        def between(mailbox: str) -> None:
            created.append(mailbox)
            held.append(lab.stats()["calendar_items_total"])  # the event exists in the lab now

        target = exo_lab_target(lab, probe_operation="calendarWrite")
        snapshot = collect([load_policy(EXO_POLICY)], target, after_create=between)
        left = lab.stats()["calendar_items_total"]
        routes = lab.stats()["graph"]
    writes = {p.mailbox for p in snapshot.probes if p.operation == "calendarWrite"}
    assert writes == {p.mailbox for p in snapshot.probes if p.expect == "allow"}
    assert sorted(created) == sorted(writes)
    assert not {"ceo@contoso.com", "hr-shared@contoso.com"} & set(created)
    assert all(p.outcome is ProbeOutcome.ALLOWED for p in snapshot.probes if p.expect == "allow")
    assert min(held) >= 1
    assert left == 0, routes
    assert snapshot.probe_run is not None
    assert snapshot.probe_run.completed


def test_a_failure_between_create_and_delete_still_deletes(tmp_path: Path) -> None:
    def fail_between(mailbox: str) -> None:
        raise RuntimeError(f"killed while {mailbox} holds the test event")

    with LabServer("exo-compliant") as lab:
        target = exo_lab_target(lab, probe_operation="calendarWrite")
        snapshot = collect([load_policy(EXO_POLICY)], target, after_create=fail_between)
        left = lab.stats()["calendar_items_total"]
    assert left == 0
    assert snapshot.probe_run is not None
    assert not snapshot.probe_run.completed  # the run failed: its allow probes are ERROR, never a pass
    assert all(p.outcome is not ProbeOutcome.ALLOWED for p in snapshot.probes if p.expect == "allow")
