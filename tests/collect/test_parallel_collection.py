"""Collection with several calls in flight: same calls, same log order, same fail-closed outcome as one at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from audit.collect import ErrorKind, TransportFailure
from audit.collect.collector import PLAN, collect_state
from audit.collect.interface import CmdletResult
from audit.collect.mapping import ORGANIZATION_SCALE

from .test_collector import FakeRunner, canned


class SlowRunner(FakeRunner):
    """A FakeRunner whose calls take a little time, counting how many overlap."""

    def __init__(self, outputs: Mapping[str, list[dict[str, Any]]], **kwargs: Any) -> None:
        super().__init__(outputs, **kwargs)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.started: list[str] = []

    def run(self, cmdlet: str, params: Mapping[str, object], timeout: float, properties: object = None) -> CmdletResult:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.started.append(cmdlet)
        try:
            time.sleep(0.02)
            return super().run(cmdlet, params, timeout, properties)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.mark.parametrize("workers", [1, 3])
def test_parallel_collection_logs_calls_in_plan_order(workers: int) -> None:
    runner = SlowRunner(canned(50))
    progress: list[str] = []
    state = collect_state(runner, ["svc@contoso.com"], workers=workers, on_call=lambda c: progress.append(c.cmdlet))
    expected = [c for c, _ in PLAN] + ["Get-User"]
    assert [c.cmdlet for c in state.calls] == expected
    assert progress == expected
    assert [e.cmdlet for e in state.evidence] == expected
    assert all(c.ok for c in state.calls)
    assert runner.peak == workers
    assert len(state.recipients) == 50


def test_the_first_call_runs_alone_and_the_large_ones_start_next() -> None:
    runner = SlowRunner(canned())
    collect_state(runner, ["svc@contoso.com"], workers=3)
    assert runner.started[0] == PLAN[0][0]
    assert set(runner.started[1:3]) == set(ORGANIZATION_SCALE) & {c for c, _ in PLAN}


def test_a_fatal_first_call_stops_every_other_call_in_parallel_too() -> None:
    runner = SlowRunner(
        canned(), fail={"Get-OrganizationConfig": TransportFailure("authentication failed", ErrorKind.AUTH, fatal=True)}
    )
    state = collect_state(runner, ["svc@contoso.com"], workers=3)
    assert len(runner.calls) == 1
    assert not any(c.ok for c in state.calls)
    assert all(c.error_kind == ErrorKind.AUTH for c in state.calls)


def test_one_failed_call_in_parallel_fails_only_that_call() -> None:
    runner = SlowRunner(canned(), fail={"Get-Mailbox": TransportFailure("broken", ErrorKind.TRANSPORT, fatal=False)})
    state = collect_state(runner, ["svc@contoso.com"], workers=3)
    failed = [c.cmdlet for c in state.calls if not c.ok]
    assert failed == ["Get-Mailbox"]
    assert state.mailboxes == ()


def test_workers_default_to_the_runners_pools() -> None:
    runner = SlowRunner(canned())
    runner.pools = 2  # type: ignore[attr-defined]
    collect_state(runner, ["svc@contoso.com"])
    assert runner.peak == 2


def test_the_evidence_says_which_properties_were_kept() -> None:
    state = collect_state(SlowRunner(canned()), ["svc@contoso.com"], workers=3)
    evidence = {e.cmdlet: e for e in state.evidence}
    for cmdlet in ("Get-Recipient", "Get-Mailbox"):
        assert evidence[cmdlet].kept_properties == ORGANIZATION_SCALE[cmdlet]
        assert all(set(o) <= set(ORGANIZATION_SCALE[cmdlet]) for o in evidence[cmdlet].objects)
    assert evidence["Get-OrganizationConfig"].kept_properties is None
