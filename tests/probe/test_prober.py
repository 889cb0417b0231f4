"""The prober with real exchangelib against a small EWS responder on loopback (the lab is used in tests/e2e)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.probe import EwsEndpoint, Prober, ProbeSettings, ProbeTarget
from audit.snapshot import ProbeOutcome

_spec = importlib.util.spec_from_file_location("ews_stub", Path(__file__).with_name("ews_stub.py"))
assert _spec is not None
assert _spec.loader is not None
ews_stub = importlib.util.module_from_spec(_spec)
sys.modules["ews_stub"] = ews_stub
_spec.loader.exec_module(ews_stub)

PASSWORD = "S3cret-Probe-Pass!"  # a test credential for a loopback stub


@pytest.fixture
def stub() -> Iterator[ews_stub.EwsStub]:
    s = ews_stub.EwsStub()
    yield s
    s.close()


def _prober(stub: ews_stub.EwsStub, **settings: object) -> Prober:
    endpoint = EwsEndpoint(url=stub.url, username="svc@contoso.com", password=PASSWORD, auth="basic")
    return Prober(endpoint, ProbeSettings(**settings))  # type: ignore[arg-type]


def test_outcomes_map_from_ews_codes(stub: ews_stub.EwsStub) -> None:
    stub.behaviour.update(
        {
            "ceo@contoso.com": "deny",
            "ghost@contoso.com": "missing",
            "norights@contoso.com": "no_right",
            "locked@contoso.com": "401",
        }
    )
    targets = [
        ProbeTarget("a@contoso.com", "allow", "groupMembers"),
        ProbeTarget("ceo@contoso.com", "deny", "canary"),
        ProbeTarget("ghost@contoso.com", "deny", "canary"),
        ProbeTarget("norights@contoso.com", "allow", "list"),
        ProbeTarget("locked@contoso.com", "allow", "list"),
    ]
    prober = _prober(stub, concurrency=2, deadline_seconds=20, request_timeout=5)
    try:
        probes, run = prober.run(targets)
    finally:
        prober.close()
    assert [p.outcome for p in probes] == [
        ProbeOutcome.ALLOWED,
        ProbeOutcome.DENIED,
        ProbeOutcome.NO_MAILBOX,
        ProbeOutcome.NO_IMPERSONATION_RIGHT,
        ProbeOutcome.AUTH_FAILED,
    ]
    assert probes[1].response_code == "ErrorImpersonateUserDenied"
    assert run.completed
    assert all(PASSWORD not in p.detail for p in probes)
    assert "a@contoso.com" in stub.anchors  # X-AnchorMailbox names the impersonated mailbox


def test_probes_run_in_parallel_up_to_the_concurrency(stub: ews_stub.EwsStub) -> None:
    stub.latency = 0.05
    stub.gather = 8  # each request waits until 8 are in flight (or 2 s): the prober must reach 8, never more
    targets = [ProbeTarget(f"u{i}@contoso.com", "allow", "groupMembers") for i in range(40)]
    prober = _prober(stub, concurrency=8, deadline_seconds=30, request_timeout=5)
    try:
        probes, _run = prober.run(targets)
    finally:
        prober.close()
    assert {p.outcome for p in probes} == {ProbeOutcome.ALLOWED}
    assert stub.max_in_flight == 8


def test_busy_is_retried_but_never_past_the_deadline(stub: ews_stub.EwsStub) -> None:
    stub.behaviour["busy@contoso.com"] = "busy"
    prober = _prober(stub, concurrency=2, deadline_seconds=1.0, request_timeout=5)
    try:
        probes, run = prober.run([ProbeTarget("busy@contoso.com", "allow", "list")])
    finally:
        prober.close()
    (probe,) = probes
    assert probe.outcome == ProbeOutcome.ERROR
    assert probe.attempts > 1
    assert "past the deadline" in probe.detail
    assert run.completed  # every probe got an outcome, an ERROR one


def test_a_reply_that_never_comes_ends_at_the_deadline(stub: ews_stub.EwsStub) -> None:
    stub.behaviour["slow@contoso.com"] = "hang"
    prober = _prober(stub, concurrency=1, deadline_seconds=1.0, request_timeout=20)
    try:
        probes, run = prober.run(
            [ProbeTarget("slow@contoso.com", "allow", "list"), ProbeTarget("b@contoso.com", "allow", "list")]
        )
    finally:
        prober.close()
    assert [p.outcome for p in probes] == [ProbeOutcome.ERROR, ProbeOutcome.ERROR]
    assert all(p.detail == "deadline reached" for p in probes)
    assert not run.completed
    assert run.error is not None
    assert "deadline" in run.error


def test_write_probe_removes_its_item_even_when_something_fails_in_between(stub: ews_stub.EwsStub) -> None:
    def boom(mailbox: str) -> None:
        raise RuntimeError("injected failure between create and delete")

    endpoint = EwsEndpoint(url=stub.url, username="svc@contoso.com", password=PASSWORD, auth="basic")
    prober = Prober(
        endpoint,
        ProbeSettings(concurrency=2, deadline_seconds=20, request_timeout=5, operation="calendarWrite"),
        after_create=boom,
    )
    targets = [ProbeTarget(f"w{i}@contoso.com", "allow", "groupMembers") for i in range(3)]
    try:
        probes, run = prober.run(targets)
    finally:
        prober.close()
    assert all(p.outcome == ProbeOutcome.ERROR and "injected" in p.detail for p in probes)
    assert sum(len(items) for items in stub.items.values()) == 0
    assert run.error is None


def test_sweep_deletes_leftover_marked_items(stub: ews_stub.EwsStub) -> None:
    prober = _prober(stub, concurrency=1, deadline_seconds=20, request_timeout=5, operation="calendarWrite")
    stub.items["x@contoso.com"] = {"left-1": f"{prober.marker} (left over)", "keep": "Customer visit"}
    try:
        assert prober.sweep(["x@contoso.com"]) is None
    finally:
        prober.close()
    assert stub.items["x@contoso.com"] == {"keep": "Customer visit"}


def test_one_request_per_probe_and_leftovers_read_from_the_same_reply(stub: ews_stub.EwsStub) -> None:
    prober = _prober(stub, concurrency=2, deadline_seconds=20, request_timeout=5)
    old = f"exaudit-probe {'0' * 8}-0000-0000-0000-{'0' * 12} (created and deleted at once by an access audit)"
    stub.items["a@contoso.com"] = {"left-1": old, "mine": "exaudit-probe in a user's own meeting"}
    targets = [ProbeTarget("a@contoso.com", "allow", "groupMembers"), ProbeTarget("ceo@contoso.com", "deny", "canary")]
    try:
        probes, run = prober.run(targets)
    finally:
        prober.close()
    assert [p.outcome for p in probes] == [ProbeOutcome.ALLOWED, ProbeOutcome.ALLOWED]
    assert sorted(stub.operations) == ["FindItem", "GetFolder"]  # FindItem opens the in-scope calendar and searches
    assert run.leftovers_found == 1  # only the exact marker shape counts; a read run removes nothing
    assert run.leftovers_removed == 0
    assert stub.items["a@contoso.com"] == {"left-1": old, "mine": "exaudit-probe in a user's own meeting"}


def test_a_refused_search_falls_back_to_opening_the_calendar(stub: ews_stub.EwsStub) -> None:
    stub.behaviour["odd@contoso.com"] = "nosearch"
    prober = _prober(stub, concurrency=1, deadline_seconds=20, request_timeout=5)
    try:
        probes, run = prober.run([ProbeTarget("odd@contoso.com", "allow", "list")])
    finally:
        prober.close()
    assert probes[0].outcome == ProbeOutcome.ALLOWED  # the search's error proves neither access nor refusal
    assert stub.operations == ["FindItem", "GetFolder"]
    assert any("search failed: ErrorUnsupportedPathForQuery" in line for line in run.leftovers)
