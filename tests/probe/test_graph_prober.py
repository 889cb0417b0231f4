"""GraphProber over real HTTP on 127.0.0.1 against a scripted Graph: batching, Retry-After, outcomes, write probe."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import pytest

from audit.errors import ProbeError
from audit.probe.graph import GraphProber, classify
from audit.probe.interface import CALENDAR_WRITE, ProbeSettings, ProbeTarget
from audit.snapshot import ProbeOutcome
from tests.collect.fake_http import Seen, serve

DENIED = {"error": {"code": "ErrorAccessDenied", "message": "Access is denied. Check credentials and try again."}}
ODATA_OFF = {"error": {"code": "ErrorAccessDenied", "message": "Access to OData is disabled."}}


def mailbox_of(url: str) -> str:
    return urllib.parse.unquote(url.split("/users/", 1)[1].split("/", 1)[0])


def batch_graph(answer: Any, writes: list[str] | None = None) -> Any:
    """A Graph whose $batch answers each sub-request with ``answer(mailbox, attempt)`` -> (status, headers, body)."""
    attempts: dict[str, int] = {}

    def handler(seen: Seen) -> tuple[int, dict[str, str], Any]:
        if seen.path == "/v1.0/$batch":
            responses = []
            for r in seen.body["requests"]:
                box = mailbox_of(r["url"])
                attempts[box] = attempts.get(box, 0) + 1
                status, headers, body = answer(box, attempts[box])
                responses.append({"id": r["id"], "status": status, "headers": headers, "body": body})
            return 200, {}, {"responses": responses}
        if writes is not None:
            writes.append(f"{seen.method} {seen.path}")
        if seen.method == "POST" and seen.path.endswith("/events"):
            assert seen.body["attendees"] == []
            assert seen.body["sensitivity"] == "private"
            assert seen.body["showAs"] == "free"
            return 201, {}, {"id": "evt-1", "subject": seen.body["subject"]}
        if seen.method == "DELETE":
            return 204, {}, None
        return 404, {}, {"error": {"code": "ResourceNotFound", "message": "no"}}

    return handler


def targets(n: int, expect: str = "allow") -> list[ProbeTarget]:
    return [
        ProbeTarget(f"u{i}@contoso.com", expect, "groupMembers" if expect == "allow" else "canary") for i in range(n)
    ]


def prober(url: str, **settings: Any) -> GraphProber:
    return GraphProber(url, lambda: "token", ProbeSettings(**{"concurrency": 4, "deadline_seconds": 10, **settings}))


def test_batches_of_twenty_and_every_target_answered_in_order() -> None:
    with serve(batch_graph(lambda box, n: (200, {}, {"id": "cal"}))) as graph:
        probes, run = prober(graph.url).run(targets(45))
    batches = [s for s in graph.seen if s.path == "/v1.0/$batch"]
    assert sorted(len(b.body["requests"]) for b in batches) == [5, 20, 20]
    assert [p.mailbox for p in probes] == [t.mailbox for t in targets(45)]
    assert all(p.outcome is ProbeOutcome.ALLOWED for p in probes)
    assert run.completed
    assert batches[0].headers["authorization"] == "Bearer token"


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code"),
    [
        (200, {"id": "x"}, ProbeOutcome.ALLOWED, "200"),
        (403, DENIED, ProbeOutcome.DENIED, "403 ErrorAccessDenied"),
        (403, ODATA_OFF, ProbeOutcome.DENIED, "403 ErrorAccessDenied"),
        (403, {"error": {"code": "Forbidden"}}, ProbeOutcome.ERROR, "403 Forbidden"),
        (404, {"error": {"code": "MailboxNotEnabledForRESTAPI"}}, ProbeOutcome.NO_MAILBOX,
         "404 MailboxNotEnabledForRESTAPI"),
        (404, {"error": {"code": "ErrorInvalidUser"}}, ProbeOutcome.NO_MAILBOX, "404 ErrorInvalidUser"),
        (401, {"error": {"code": "InvalidAuthenticationToken"}}, ProbeOutcome.AUTH_FAILED,
         "401 InvalidAuthenticationToken"),
        (500, None, ProbeOutcome.ERROR, "500"),
        (302, None, ProbeOutcome.ERROR, "302"),
    ],
)  # fmt: skip
def test_classification(status: int, body: Any, outcome: ProbeOutcome, code: str) -> None:
    got, shown, detail = classify(status, body)
    assert (got, shown) == (outcome, code)
    if outcome is ProbeOutcome.DENIED:
        assert body["error"]["message"] in detail  # the raw body is the evidence


def test_retry_after_is_honoured_per_sub_request() -> None:
    def answer(box: str, n: int) -> tuple[int, dict[str, str], Any]:
        if box == "u1@contoso.com" and n == 1:
            return 429, {"Retry-After": "1"}, {"error": {"code": "ApplicationThrottled"}}
        return 403, {}, DENIED

    with serve(batch_graph(answer)) as graph:
        start = time.monotonic()
        probes, run = prober(graph.url).run(targets(3, "deny"))
        elapsed = time.monotonic() - start
    batches = [s.body["requests"] for s in graph.seen if s.path == "/v1.0/$batch"]
    assert len(batches) == 2
    assert [mailbox_of(r["url"]) for r in batches[1]] == ["u1@contoso.com"]  # only the throttled one again
    assert elapsed >= 0.9
    assert [p.outcome for p in probes] == [ProbeOutcome.DENIED] * 3
    assert probes[1].attempts == 2
    assert run.completed


def test_throttled_past_the_deadline_is_error_never_a_pass() -> None:
    def answer(box: str, n: int) -> tuple[int, dict[str, str], Any]:
        return 429, {"Retry-After": "30"}, {"error": {"code": "ApplicationThrottled"}}

    with serve(batch_graph(answer)) as graph:
        probes, run = prober(graph.url, deadline_seconds=1.5).run(targets(2, "deny"))
    assert all(p.outcome is ProbeOutcome.ERROR for p in probes)
    assert "429" in probes[0].response_code
    assert not run.completed


def test_no_token_means_every_probe_errors_with_the_reason() -> None:
    def no_token() -> str:
        raise ProbeError("the token service refused the probing app (invalid_client)")

    with serve(batch_graph(lambda box, n: (200, {}, {}))) as graph:
        probes, run = GraphProber(graph.url, no_token, ProbeSettings()).run(targets(3))
    assert graph.seen == []
    assert all(p.outcome is ProbeOutcome.ERROR and "invalid_client" in p.detail for p in probes)
    assert not run.completed


def test_write_probe_creates_and_deletes_and_never_writes_to_a_canary() -> None:
    writes: list[str] = []
    with serve(batch_graph(lambda box, n: (200, {}, {"id": "cal"}), writes)) as graph:
        p = prober(graph.url, operation=CALENDAR_WRITE)
        probes, run = p.run([*targets(2), ProbeTarget("ceo@contoso.com", "deny", "canary")])
    assert [x.outcome for x in probes] == [ProbeOutcome.ALLOWED] * 3
    assert [x.operation for x in probes] == [CALENDAR_WRITE, CALENDAR_WRITE, "calendarRead"]
    assert sorted(writes) == sorted(
        [
            "POST /v1.0/users/u0@contoso.com/events", "DELETE /v1.0/users/u0@contoso.com/events/evt-1",
            "POST /v1.0/users/u1@contoso.com/events", "DELETE /v1.0/users/u1@contoso.com/events/evt-1",
        ]
    )  # fmt: skip
    assert not any("ceo" in w for w in writes)
    assert run.completed


def test_the_event_is_deleted_even_when_something_fails_after_creating_it() -> None:
    writes: list[str] = []

    def boom(mailbox: str) -> None:
        raise RuntimeError("killed between create and delete")

    with serve(batch_graph(lambda box, n: (200, {}, {"id": "cal"}), writes)) as graph:
        p = GraphProber(graph.url, lambda: "t", ProbeSettings(operation=CALENDAR_WRITE), after_create=boom)
        probes, run = p.run(targets(1))
    assert "DELETE /v1.0/users/u0@contoso.com/events/evt-1" in writes
    assert probes[0].outcome is ProbeOutcome.ERROR  # the worker died: unknown, never a pass
    assert not run.completed


def test_a_token_echoed_in_a_refusal_body_is_scrubbed_from_the_evidence() -> None:
    def answer(box: str, n: int) -> tuple[int, dict[str, str], Any]:
        return 403, {}, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied for token"}}

    with serve(batch_graph(answer)) as graph:
        probes, _ = prober(graph.url).run(targets(1, "deny"))
    assert probes[0].outcome is ProbeOutcome.DENIED
    assert "token" not in probes[0].detail.replace("********", "")
