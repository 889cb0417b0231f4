"""App-only Microsoft Graph probes of Exchange Online calendars, batched 20 at a time, within one deadline.

The integration's own app credentials ask ``GET /v1.0/users/{id}/calendar`` for every mailbox that must be
reachable and every canary. An RBAC-for-Applications grant does not show in the token (Maester #920/#961), so only
such a request proves access (exo-2026.md §3). Requests go in ``POST /v1.0/$batch`` bodies of up to 20 ("up to 20",
learn json-batching); several batches are in flight at once; a throttled sub-request (429 with ``Retry-After``) is
sent again after its own wait, never past the run's deadline.

Outcomes (the EXO contract): 200 ALLOWED; 403 ``ErrorAccessDenied`` (either body: "Access is denied..." or "Access to
OData is disabled.") DENIED with the raw body kept; 404 NO_MAILBOX; 401 AUTH_FAILED; anything else ERROR.

The opt-in write probe creates a private, free, attendee-less event (no invitation can go out: learn
user-post-events) marked ``exaudit-probe <run id>`` and deletes it whatever happens; leftovers are swept by subject.
It never writes to a mailbox expected out of reach.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from audit.collect import https
from audit.errors import ExauditError, ProbeError
from audit.probe.interface import (
    CALENDAR_READ,
    CALENDAR_WRITE,
    MARKER_PREFIX,
    AfterCreate,
    ProbeSettings,
    ProbeTarget,
    ProgressSink,
    assemble,
    not_probed,
    operation_for,
)
from audit.snapshot import Probe, ProbeOutcome, ProbeRun

BATCH_SIZE = 20
"""Graph's limit of requests per $batch (https://learn.microsoft.com/graph/json-batching)."""

_DETAIL_LIMIT = 2000
_DEFAULT_RETRY_SECONDS = 1.0

TokenProvider = Callable[[], str]


def classify(status: int, body: Any) -> tuple[ProbeOutcome, str, str]:
    """(outcome, response code, detail) for one Graph reply; see the module docstring."""
    code = ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code") or "")
    shown = f"{status} {code}".strip()
    raw = json.dumps(body, sort_keys=True)[:_DETAIL_LIMIT] if body is not None else ""
    if 200 <= status < 300:
        return ProbeOutcome.ALLOWED, str(status), ""
    if status == 403 and code.casefold() == "erroraccessdenied":
        return ProbeOutcome.DENIED, shown, raw
    if status == 404:
        return ProbeOutcome.NO_MAILBOX, shown, raw or "no such user, or no Exchange Online mailbox"
    if status == 401:
        return ProbeOutcome.AUTH_FAILED, shown, raw or "Microsoft Graph refused the probing app's token"
    return ProbeOutcome.ERROR, shown, raw or f"HTTP {status}"


def _sub_retry_after(headers: Any) -> float | None:
    """A sub-response's own ``Retry-After`` (each sub-response carries its headers: learn json-batching)."""
    if not isinstance(headers, dict):
        return None
    return https.retry_after(next((str(v) for h, v in headers.items() if str(h).lower() == "retry-after"), None))


@dataclass
class _Pending:
    index: int
    target: ProbeTarget
    started: float
    attempts: int = 0
    not_before: float = 0.0


class GraphProber:
    """Probes mailboxes over Graph ``$batch``; see the module docstring."""

    def __init__(
        self,
        graph_url: str,
        token: TokenProvider,
        settings: ProbeSettings,
        *,
        verify: bool | str = True,
        after_create: AfterCreate | None = None,
        batch_size: int = BATCH_SIZE,
        session: requests.Session | None = None,
    ) -> None:
        if settings.concurrency < 1:
            raise ProbeError("probe concurrency must be at least 1")
        if settings.operation not in (CALENDAR_READ, CALENDAR_WRITE):
            raise ProbeError(f"unknown probe operation {settings.operation!r}")
        if not 1 <= batch_size <= BATCH_SIZE:
            raise ProbeError(f"a Graph batch holds 1 to {BATCH_SIZE} requests, not {batch_size}")
        self.base_url = graph_url.rstrip("/")
        self._token_provider = token
        self._token = ""
        self.settings = settings
        self.after_create = after_create
        self.batch_size = batch_size
        self.session = session or https.make_session(verify, pool=settings.concurrency + 2)
        self.marker = f"{MARKER_PREFIX} {uuid.uuid4()}"
        self._deadline = 0.0
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._pending_items: set[str] = set()
        self.batches = 0  # $batch POSTs sent (benchmarks read it)
        self._gave_up = 0  # probes left unanswered at the deadline

    # --- HTTP ----------------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _send(self, method: str, path: str, body: Any = None) -> https.Reply:
        deadline = min(self._deadline, time.monotonic() + self.settings.request_timeout)
        return https.send(
            self.session,
            method,
            f"{self.base_url}/v1.0{path}",
            deadline=deadline,
            headers=self._headers(),
            body=body,
            max_bytes=4 * 1024 * 1024,
        )

    @staticmethod
    def _user(mailbox: str) -> str:
        return f"/users/{urllib.parse.quote(mailbox, safe='@')}"

    # --- read probes in batches ------------------------------------------------------------------------------------

    def _batch_worker(self, chunk: list[_Pending], done: Callable[[int, Probe], None]) -> None:
        """Send one chunk's GETs as $batch requests until each has a final answer or the deadline passes."""
        pending = {str(n): p for n, p in enumerate(chunk, start=1)}
        while pending and not self._cancel.is_set():
            now = time.monotonic()
            ready = {k: p for k, p in pending.items() if p.not_before <= now}
            if not ready:
                wait = min(p.not_before for p in pending.values()) - now
                if now + wait >= self._deadline:
                    break
                self._cancel.wait(wait)
                continue
            requests_ = [
                {"id": k, "method": "GET", "url": f"{self._user(p.target.mailbox)}/calendar?$select=id"}
                for k, p in ready.items()
            ]
            for p in ready.values():
                p.attempts += 1
            self.batches += 1
            try:
                reply = self._send("POST", "/$batch", {"requests": requests_})
            except (requests.exceptions.RequestException, https.ReplyTooLarge, TimeoutError) as exc:
                for k, p in ready.items():
                    done(
                        p.index,
                        self._probe(
                            p,
                            ProbeOutcome.ERROR,
                            type(exc).__name__,
                            f"the $batch request failed: {type(exc).__name__}",
                        ),
                    )
                    pending.pop(k)
                continue
            if reply.status in (429, 503):
                wait = reply.retry_after if reply.retry_after is not None else _DEFAULT_RETRY_SECONDS
                for p in ready.values():
                    p.not_before = time.monotonic() + wait
                if time.monotonic() + wait >= self._deadline:
                    break
                continue
            answers = reply.body.get("responses") if reply.status == 200 and isinstance(reply.body, dict) else None
            if not isinstance(answers, list):
                outcome, code, detail = classify(reply.status, reply.body)
                if outcome is ProbeOutcome.ALLOWED:
                    outcome, detail = ProbeOutcome.ERROR, "the $batch reply holds no responses"
                for k, p in ready.items():
                    done(
                        p.index,
                        self._probe(
                            p, outcome if outcome is not ProbeOutcome.DENIED else ProbeOutcome.ERROR, code, detail
                        ),
                    )
                    pending.pop(k)
                continue
            by_id = {str(a.get("id")): a for a in answers if isinstance(a, dict)}
            for k, p in ready.items():
                answer = by_id.get(k)
                if answer is None:
                    done(
                        p.index,
                        self._probe(p, ProbeOutcome.ERROR, "", "the $batch reply has no answer for this mailbox"),
                    )
                    pending.pop(k)
                    continue
                status = answer.get("status")
                status = status if isinstance(status, int) else 0
                if status in (429, 503):
                    sub_wait = _sub_retry_after(answer.get("headers"))
                    p.not_before = time.monotonic() + (
                        sub_wait if sub_wait is not None else _DEFAULT_RETRY_SECONDS * p.attempts
                    )
                    continue
                outcome, code, detail = classify(status, answer.get("body"))
                if (
                    outcome is ProbeOutcome.ALLOWED
                    and operation_for(p.target, self.settings.operation) == CALENDAR_WRITE
                ):
                    outcome, code, detail = self._write(p.target.mailbox)
                done(p.index, self._probe(p, outcome, code, detail))
                pending.pop(k)
        for p in pending.values():
            throttled = p.not_before > time.monotonic() or p.attempts > 0
            detail = (
                f"throttled (429 Retry-After) past the deadline after {p.attempts} attempts"
                if throttled
                else "deadline reached"
            )
            with self._lock:
                self._gave_up += 1
            done(p.index, self._probe(p, ProbeOutcome.ERROR, "429" if throttled else "", detail))

    def _probe(self, p: _Pending, outcome: ProbeOutcome, code: str, detail: str) -> Probe:
        # The raw body is evidence, but a hostile server could echo the bearer token into it.
        code, detail = https.scrub(code, self._token), https.scrub(detail, self._token)
        return Probe(
            mailbox=p.target.mailbox,
            expect=p.target.expect,
            source=p.target.source,
            operation=operation_for(p.target, self.settings.operation),
            outcome=outcome,
            response_code=code,
            detail=detail,
            elapsed_ms=round((time.monotonic() - p.started) * 1000.0, 3),
            attempts=p.attempts,
        )

    # --- the write probe -------------------------------------------------------------------------------------------

    def _event(self) -> dict[str, Any]:
        start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(microsecond=0, tzinfo=None)
        return {
            "subject": f"{self.marker} (created and deleted at once by an access audit)",
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + dt.timedelta(minutes=15)).isoformat(), "timeZone": "UTC"},
            "showAs": "free",
            "sensitivity": "private",
            "isReminderOn": False,
            "responseRequested": False,
            "attendees": [],  # never any: an attendee would get an invitation that cannot be recalled
        }

    def _write(self, mailbox: str) -> tuple[ProbeOutcome, str, str]:
        """Create the marked event and delete it at once; the outcome of the create decides."""
        with self._lock:
            self._pending_items.add(mailbox)
        event_id = ""
        try:
            reply = self._send("POST", f"{self._user(mailbox)}/events", self._event())
            outcome, code, detail = classify(reply.status, reply.body)
            if outcome is ProbeOutcome.ALLOWED:
                event_id = str(reply.body.get("id") or "") if isinstance(reply.body, dict) else ""
                if not event_id:
                    return ProbeOutcome.ERROR, code, "the created event has no id; it is swept by subject"
                if self.after_create is not None:
                    self.after_create(mailbox)
            else:
                with self._lock:
                    self._pending_items.discard(mailbox)
            return outcome, code, detail
        except (requests.exceptions.RequestException, https.ReplyTooLarge, TimeoutError) as exc:
            return ProbeOutcome.ERROR, type(exc).__name__, f"creating the test event failed: {type(exc).__name__}"
        finally:
            if event_id and self._delete(mailbox, event_id):
                with self._lock:
                    self._pending_items.discard(mailbox)

    def _delete(self, mailbox: str, event_id: str) -> bool:
        try:
            reply = self._send("DELETE", f"{self._user(mailbox)}/events/{urllib.parse.quote(event_id, safe='')}")
        except (requests.exceptions.RequestException, https.ReplyTooLarge, TimeoutError):
            return False
        return reply.status in (200, 204, 404)

    def sweep(self) -> str | None:
        """Delete this run's marked events where a delete was not confirmed; a message naming what may remain."""
        with self._lock:
            todo = sorted(self._pending_items)
        left = []
        saved, self._deadline = self._deadline, time.monotonic() + self.settings.request_timeout * 2
        try:
            for mailbox in todo:
                try:
                    flt = urllib.parse.quote(f"startswith(subject,'{self.marker}')", safe="")
                    reply = self._send("GET", f"{self._user(mailbox)}/calendar/events?$filter={flt}&$select=id,subject")
                    values = reply.body.get("value") if reply.status == 200 and isinstance(reply.body, dict) else None
                    if not isinstance(values, list):
                        left.append(mailbox)
                        continue
                    ok = all(
                        self._delete(mailbox, str(v.get("id")))
                        for v in values
                        if isinstance(v, dict) and self.marker in str(v.get("subject") or "")
                    )
                    if ok:
                        with self._lock:
                            self._pending_items.discard(mailbox)
                    else:
                        left.append(mailbox)
                except (requests.exceptions.RequestException, https.ReplyTooLarge, TimeoutError):
                    left.append(mailbox)
        finally:
            self._deadline = saved
        if left:
            return (
                f"the write probe's test events ({self.marker!r}) may remain in {', '.join(left)}: find them by "
                "that subject and delete them"
            )
        return None

    # --- the run -------------------------------------------------------------------------------------------------

    def run(
        self, targets: Sequence[ProbeTarget], progress: ProgressSink | None = None
    ) -> tuple[tuple[Probe, ...], ProbeRun]:
        """Probe every target; see the module docstring. Probes not done by the deadline are ERROR."""
        started = dt.datetime.now(dt.UTC)
        self._deadline = time.monotonic() + self.settings.deadline_seconds
        self._cancel.clear()
        self._gave_up = 0
        try:
            self._token = self._token_provider()  # once: msal caches it for the whole run
        except ExauditError as exc:
            probes = not_probed(targets, self.settings.operation, str(exc))
            run = ProbeRun(
                started.isoformat(),
                dt.datetime.now(dt.UTC).isoformat(),
                self.settings.concurrency,
                self.settings.deadline_seconds,
                completed=False,
                error=str(exc),
            )
            return probes, run
        now = time.monotonic()
        items = [_Pending(i, t, now) for i, t in enumerate(targets)]
        chunks = [items[n : n + self.batch_size] for n in range(0, len(items), self.batch_size)]
        results: dict[int, Probe] = {}
        lock = threading.Lock()
        finished: list[int] = []

        def done(index: int, probe: Probe) -> None:
            with lock:
                results[index] = probe
                finished.append(index)

        if progress is not None:
            progress.start(len(targets), f"probing {len(targets)} mailboxes over Microsoft Graph")
        error: str | None = None
        reported = 0
        pool = ThreadPoolExecutor(
            max_workers=max(1, min(self.settings.concurrency, len(chunks))), thread_name_prefix="exaudit-graph"
        )
        try:
            futures = [pool.submit(self._batch_worker, chunk, done) for chunk in chunks]
            while not all(f.done() for f in futures):
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    break
                time.sleep(min(0.05, remaining))
                with lock:
                    n = len(finished)
                if progress is not None and n > reported:
                    progress.advance(n - reported)
                    reported = n
            if not all(f.done() for f in futures) or self._gave_up:
                error = f"deadline of {self.settings.deadline_seconds:g} s reached before every mailbox was probed"
            for f in futures:
                if f.done() and f.exception() is not None:
                    error = f"a probe worker failed: {type(f.exception()).__name__}"
        except KeyboardInterrupt:
            error = "interrupted"
            raise
        finally:
            self._cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            sweep_error = self.sweep() if self._pending_items else None
            if sweep_error:
                error = f"{error}; {sweep_error}" if error else sweep_error
            if progress is not None:
                with lock:
                    n = len(finished)
                if n > reported:
                    progress.advance(n - reported)
                progress.finish()
        with lock:
            snapshot = dict(results)
        return assemble(targets, snapshot, self.settings, started, error)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()
