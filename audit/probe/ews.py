"""Parallel EWS impersonation probes with exchangelib, within one deadline and the account's throttling budget.

Protocol traps this module is built around (shared domain notes, wire-notes.md B.3):

* exchangelib caches one ``Protocol`` per (endpoint, credentials) for the whole process; a second
  ``Configuration`` with other ``max_connections``/``retry_policy`` silently gets the cached one. So the prober
  drops any cached Protocol for its key and creates its own first, with ``max_connections = concurrency``.
* ``Account.root``/``.calendar`` are ``threaded_cached_property`` with one lock shared by every Account in the
  process: probing through them runs fully serialized. Probes here call the GetFolder service directly.
* exchangelib's own ``FaultTolerance`` makes every thread sleep on one shared back-off and knows no deadline.
  The prober uses ``FailFast`` and its own loop: ErrorServerBusy is honoured for that probe only, with its
  BackOffMilliseconds, and never past the run's deadline
  (https://learn.microsoft.com/exchange/client-developer/exchange-web-services/ews-throttling-in-exchange).
* Explicit ``Version(build=...)`` and ``auth_type`` avoid exchangelib's guessing round trips.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from exchangelib import errors as ews_errors
from exchangelib.account import Account
from exchangelib.configuration import Configuration
from exchangelib.credentials import IMPERSONATION, Credentials
from exchangelib.ewsdatetime import UTC, EWSDateTime
from exchangelib.fields import FieldPath
from exchangelib.folders import Calendar, DistinguishedFolderId, Root
from exchangelib.items import ALL_OCCURRENCES, HARD_DELETE, SAVE_ONLY, SEND_TO_NONE, CalendarItem
from exchangelib.properties import ItemId, Mailbox
from exchangelib.protocol import CachingProtocol, FailFast
from exchangelib.restriction import Q, Restriction
from exchangelib.transport import BASIC, GSSAPI, NTLM
from exchangelib.version import Build, Version

from audit.errors import ProbeError, redact
from audit.probe.interface import (  # the shared seam (probe/interface.py); re-exported for existing callers
    CALENDAR_READ,
    CALENDAR_WRITE,
    MARKER_PREFIX,
    ProbeProgress,
    ProbeSettings,
    ProbeTarget,
)
from audit.probe.session import DEFAULT_MAX_EWS_REPLY_BYTES, AuditProtocol
from audit.probe.soap import ContradictoryReply, CreateItem, DeleteItem, FindItem, GetFolder
from audit.probe.wire import ReadReply, ReadRequest, find_item_request, get_folder_request, send
from audit.replies import ReplyRefused
from audit.snapshot import Probe, ProbeOutcome, ProbeRun

MARKER_SUFFIX = "(created and deleted at once by an access audit)"
# The whole subject of a write-probe item: the prefix, the run's id, the fixed suffix. An item of an earlier run
# (killed between create and delete) is recognised by this exact shape, never by the prefix alone, so that a
# user's own meeting that merely mentions exaudit is never touched.
LEFTOVER_SUBJECT = re.compile(
    rf"\A{re.escape(MARKER_PREFIX)} [0-9a-f]{{8}}(?:-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}} {re.escape(MARKER_SUFFIX)}\Z"
)
DEFAULT_BACKOFF_SECONDS = 1.0  # ErrorServerBusy without BackOffMilliseconds (e.g. a closed connection)
# Replies that decide an in-scope probe whatever the search asked: refusals, throttling, a lost connection.
_NOT_A_SEARCH_FAILURE = (
    ews_errors.ErrorImpersonateUserDenied,
    ews_errors.ErrorImpersonationDenied,
    ews_errors.ErrorNonExistentMailbox,
    ews_errors.ErrorServerBusy,
    ews_errors.ErrorTimeoutExpired,
    ews_errors.ErrorInternalServerTransientError,
)
_AUTH_TYPES = {"basic": BASIC, "ntlm": NTLM, "negotiate": NTLM, "kerberos": GSSAPI}

# exchangelib logs failed requests at ERROR with request details; with no handler configured Python would print
# them on stderr. The prober reports every failure itself, as an outcome.
logging.getLogger("exchangelib").addHandler(logging.NullHandler())
# requests-gssapi logs a failed Kerberos step at ERROR with its traceback; the probe reports it itself.
logging.getLogger("requests_gssapi").addHandler(logging.NullHandler())
logging.getLogger("requests_gssapi").propagate = False


@dataclass(frozen=True, slots=True)
class EwsEndpoint:
    """Where and as whom to probe; the password never shows in repr."""

    url: str
    username: str
    password: str | None = field(repr=False)
    auth: str = "ntlm"  # basic | ntlm | negotiate | kerberos
    server_build: tuple[int, int, int, int] = (15, 1, 2507, 6)
    cert_validation: bool | str = True  # a CA bundle path, True (system store) or False (--insecure)
    max_reply_bytes: int = DEFAULT_MAX_EWS_REPLY_BYTES  # per HTTP reply, counted while reading
    keytab: str | None = None  # Kerberos: the service account's keytab (else a ticket from its password)
    spn_host: str | None = None  # Kerberos: the host in HTTP/<host> when the URL names an alias


AfterCreate = Callable[[str], None]
"""Test hook, called in the worker between creating and deleting the write probe's item (mailbox address)."""


def _exc_text(exc: BaseException, endpoint: EwsEndpoint | None) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    if endpoint is None:
        return text[:500]
    return redact(text, endpoint.username, endpoint.password)[:500]


class Prober:
    """Probes many mailboxes through one shared exchangelib Protocol; see the module docstring."""

    def __init__(self, endpoint: EwsEndpoint, settings: ProbeSettings, *, after_create: AfterCreate | None = None):
        if settings.concurrency < 1:
            raise ProbeError("probe concurrency must be at least 1")
        if settings.operation not in (CALENDAR_READ, CALENDAR_WRITE):
            raise ProbeError(f"unknown probe operation {settings.operation!r}")
        auth_type = _AUTH_TYPES.get(endpoint.auth)
        if auth_type is None:
            raise ProbeError(f"EWS probes cannot log in with {endpoint.auth!r}; use basic, ntlm, negotiate or kerberos")
        gss_credential = None
        if auth_type == GSSAPI:
            from audit.kerberos import missing_modules, service_credential  # noqa: PLC0415

            if missing_modules():
                raise ProbeError("EWS probes with Kerberos need the Kerberos extra: pip install 'exaudit[kerberos]'")
            if not endpoint.keytab and endpoint.password is None:
                raise ProbeError(
                    "EWS probes with Kerberos log on as the service account with its own credentials: set "
                    "EXAUDIT_SERVICE_KEYTAB or EXAUDIT_SERVICE_PASSWORD (never the runner's ticket)"
                )
            gss_credential = service_credential(endpoint.username, endpoint.password, endpoint.keytab)
        self.endpoint = endpoint
        self.settings = settings
        self.after_create = after_create
        self.marker = f"{MARKER_PREFIX} {uuid.uuid4()}"
        self.config = Configuration(
            service_endpoint=endpoint.url,
            credentials=Credentials(endpoint.username, endpoint.password or ""),
            auth_type=auth_type,
            version=Version(build=Build(*endpoint.server_build)),
            retry_policy=FailFast(),
            max_connections=settings.concurrency,
        )
        # A cached Protocol for this endpoint and account would silently ignore max_connections and retry_policy.
        with CachingProtocol._protocol_cache_lock:
            stale = CachingProtocol._protocol_cache.pop(CachingProtocol._cache_key(self.config), None)
        if stale is not None and not isinstance(stale[0], Exception):
            stale[0].close()
        protocol = AuditProtocol(config=self.config)
        protocol.verify = endpoint.cert_validation
        protocol.max_reply_bytes = endpoint.max_reply_bytes
        protocol.gss_credential = gss_credential
        protocol.spn_host = endpoint.spn_host
        protocol.TIMEOUT = settings.request_timeout  # per HTTP request (connect and each read)
        if not isinstance(protocol, AuditProtocol) or protocol._session_pool_maxsize != settings.concurrency:
            raise ProbeError("exchangelib returned a cached connection pool; cannot honour the probe concurrency")
        if endpoint.cert_validation is False:
            import urllib3  # noqa: PLC0415  (only when the user asked for --insecure)

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.protocol = protocol
        # The read probe's two requests, serialised once for the whole run (audit/probe/wire.py).
        api_version = self.config.version.api_version
        self._get_folder = get_folder_request(api_version)
        self._find_item = find_item_request(api_version, MARKER_PREFIX)
        self._cancel = threading.Event()
        self._pending_lock = threading.Lock()
        self._pending: set[str] = set()  # mailboxes where a write-probe item may exist
        self._deadline = 0.0
        # mailbox -> (marked items of earlier runs found, removed, why the search failed or "")
        self._leftovers: dict[str, tuple[int, int, str]] = {}
        # One wrong password must cost one failed logon, not one per mailbox (200 with sampling would lock the
        # integration's account out): probes wait until one got past authentication, and the first refusal stops
        # every probe not yet started.
        self._logon_ok = threading.Event()
        self._logon_lock = threading.RLock()
        self._refused: str | None = None
        self._skipped = 0

    def close(self) -> None:
        """Close the HTTP sessions and forget the cached Protocol."""
        with CachingProtocol._protocol_cache_lock:
            CachingProtocol._protocol_cache.pop(CachingProtocol._cache_key(self.config), None)
        self.protocol.close()

    # --- one probe -----------------------------------------------------------------------------------------------

    def _account(self, mailbox: str) -> Any:
        # Constructing an Account sends nothing (wire-notes B.1); it carries the ExchangeImpersonation identity,
        # and exchangelib sends X-AnchorMailbox with it on every request for that account.
        return Account(
            primary_smtp_address=mailbox,
            config=self.config,
            autodiscover=False,
            access_type=IMPERSONATION,
            default_timezone=UTC,
            locale="en_US",
        )

    def _calendar(self, account: Any) -> Any:
        """GetFolder(calendar) for the impersonated mailbox, straight through the service (no Account.calendar)."""
        root = Root(account=account)
        folder = Calendar(
            root=root,
            _distinguished_id=DistinguishedFolderId(
                id=Calendar.DISTINGUISHED_FOLDER_ID, mailbox=Mailbox(email_address=account.primary_smtp_address)
            ),
        )
        fields = {FieldPath(field=Calendar.get_field_by_fieldname(name)) for name in ("name", "folder_class")}
        results = list(GetFolder(account=account).call(folders=[folder], additional_fields=fields, shape="IdOnly"))
        if len(results) != 1:
            raise ews_errors.MalformedResponseError(f"GetFolder returned {len(results)} folders for one calendar")
        if isinstance(results[0], Exception):
            raise results[0]
        return results[0]

    def _write(self, account: Any, calendar: Any) -> None:
        """Create a private, free test item and delete it at once; the item is removed whatever happens between."""
        mailbox = account.primary_smtp_address
        start = EWSDateTime.now(tz=UTC).replace(microsecond=0) + dt.timedelta(days=1)
        item = CalendarItem(
            account=account,
            folder=calendar,
            subject=f"{self.marker} {MARKER_SUFFIX}",
            start=start,
            end=start + dt.timedelta(minutes=15),
            legacy_free_busy_status="Free",
            sensitivity="Private",
            reminder_is_set=False,
        )
        with self._pending_lock:
            self._pending.add(mailbox)
        created: list[Any] = []
        try:
            for res in CreateItem(account=account).call(
                items=[item], folder=calendar, message_disposition=SAVE_ONLY, send_meeting_invitations=SEND_TO_NONE
            ):
                if isinstance(res, Exception):
                    raise res
                created.append(ItemId(id=res.id, changekey=res.changekey))
            if self.after_create is not None:
                self.after_create(mailbox)
        finally:
            if created:
                self._delete(account, created)
                with self._pending_lock:
                    self._pending.discard(mailbox)

    def _delete(self, account: Any, ids: Sequence[Any]) -> None:
        service = DeleteItem(account=account, chunk_size=max(1, len(ids)))
        service.expected_messages = len(ids)
        for res in service.call(
            items=list(ids),
            delete_type=HARD_DELETE,
            send_meeting_cancellations=SEND_TO_NONE,
            affected_task_occurrences=ALL_OCCURRENCES,
            suppress_read_receipts=True,
        ):
            if isinstance(res, Exception):
                raise res

    def operation(self, target: ProbeTarget) -> str:
        """The operation a target is probed with: a mailbox expected out of reach is only ever read.

        A canary's GetFolder already proves or disproves the breach; writing into a mailbox the integration must
        never touch (the CEO's calendar) would add nothing but the write.
        """
        return self.settings.operation if target.expect == "allow" else CALENDAR_READ

    def _outcome(
        self, target: ProbeTarget, outcome: ProbeOutcome, code: str, detail: str, start: float, n: int
    ) -> Probe:
        return Probe(
            mailbox=target.mailbox,
            expect=target.expect,
            source=target.source,
            operation=self.operation(target),
            outcome=outcome,
            response_code=code,
            # Every detail holds server words (a MessageText can echo anything): mask the password here, once.
            detail=redact(detail, self.endpoint.username, self.endpoint.password) if detail else "",
            elapsed_ms=round((time.monotonic() - start) * 1000.0, 3),
            attempts=n,
        )

    def _send(self, request: ReadRequest, mailbox: str) -> ReadReply:
        """One read request for ``mailbox``; raises exchangelib's exception for every failure (the test seam)."""
        return send(self.protocol, request, mailbox)

    def _read_in_scope(self, mailbox: str) -> None:
        """Open an in-scope calendar and list the marked items of earlier runs in it, in one FindItem.

        Raises for a reply that proves no access. A search the server refuses for another reason (its restriction,
        a folder error) does not decide the probe: the calendar is then opened with GetFolder, as before the search
        and the opening were one request, and the failed search is recorded as such.
        """
        try:
            reply = self._send(self._find_item, mailbox)
        except _NOT_A_SEARCH_FAILURE:
            raise
        except ews_errors.ResponseMessageError as exc:
            self._send(self._get_folder, mailbox)
            self._note_leftovers(mailbox, 0, 0, f"search failed: {_exc_text(exc, self.endpoint)}")
            return
        if not reply.complete:  # more marked items than one page: the paged search of the write path counts them
            account = self._account(mailbox)
            self._clear_leftovers(account, self._calendar(account))
            return
        found = [
            item for item in reply.items if LEFTOVER_SUBJECT.match(item.subject) and self.marker not in item.subject
        ]
        # A read run removes nothing: what it found is reported for the next write run or an admin.
        self._note_leftovers(mailbox, len(found), 0, "")

    def probe_one(self, target: ProbeTarget) -> Probe:
        """Probe one mailbox, retrying ErrorServerBusy after its back-off, never past the run's deadline."""
        start = time.monotonic()
        attempts = 0
        while True:
            if self._cancel.is_set() or time.monotonic() >= self._deadline:
                return self._outcome(target, ProbeOutcome.ERROR, "", "deadline reached", start, attempts)
            attempts += 1
            try:
                if self.operation(target) == CALENDAR_WRITE:
                    account = self._account(target.mailbox)
                    calendar = self._calendar(account)
                    self._write(account, calendar)
                    allowed = self._outcome(target, ProbeOutcome.ALLOWED, "NoError", "", start, attempts)
                    self._clear_leftovers(account, calendar)
                    return allowed
                if target.expect != "allow":
                    self._send(self._get_folder, target.mailbox)
                    return self._outcome(target, ProbeOutcome.ALLOWED, "NoError", "", start, attempts)
                self._read_in_scope(target.mailbox)
                return self._outcome(target, ProbeOutcome.ALLOWED, "NoError", "", start, attempts)
            except ContradictoryReply as exc:
                return self._outcome(target, ProbeOutcome.ERROR, "ContradictoryReply", str(exc), start, attempts)
            except ReplyRefused as exc:
                return self._outcome(
                    target, ProbeOutcome.ERROR, type(exc).__name__, _exc_text(exc, self.endpoint), start, attempts
                )
            except ews_errors.ErrorServerBusy as exc:
                wait = exc.back_off if exc.back_off else DEFAULT_BACKOFF_SECONDS * attempts
                if time.monotonic() + wait >= self._deadline:
                    return self._outcome(
                        target,
                        ProbeOutcome.ERROR,
                        "ErrorServerBusy",
                        f"throttled (ErrorServerBusy, back off {wait:g} s) past the deadline after {attempts} attempts",
                        start,
                        attempts,
                    )
                if self._cancel.wait(wait):
                    continue
            except ews_errors.ErrorImpersonateUserDenied as exc:
                return self._outcome(
                    target, ProbeOutcome.DENIED, "ErrorImpersonateUserDenied", str(exc), start, attempts
                )
            except ews_errors.ErrorImpersonationDenied as exc:
                return self._outcome(
                    target, ProbeOutcome.NO_IMPERSONATION_RIGHT, "ErrorImpersonationDenied", str(exc), start, attempts
                )
            except ews_errors.ErrorNonExistentMailbox as exc:
                return self._outcome(
                    target, ProbeOutcome.NO_MAILBOX, "ErrorNonExistentMailbox", str(exc), start, attempts
                )
            except ews_errors.UnauthorizedError:
                return self._outcome(
                    target,
                    ProbeOutcome.AUTH_FAILED,
                    "401",
                    f"EWS refused the service account {self.endpoint.username!r} (HTTP 401): wrong password, "
                    "locked or disabled account, or the authentication method is not enabled on /EWS",
                    start,
                    attempts,
                )
            except ews_errors.CASError as exc:
                code = "401" if getattr(exc.response, "status_code", 0) == 401 else "CASError"
                outcome = ProbeOutcome.AUTH_FAILED if code == "401" else ProbeOutcome.ERROR
                return self._outcome(target, outcome, code, _exc_text(exc, self.endpoint), start, attempts)
            except ews_errors.ResponseMessageError as exc:
                return self._outcome(
                    target,
                    ProbeOutcome.ERROR,
                    type(exc).__name__,
                    _exc_text(exc, self.endpoint),
                    start,
                    attempts,
                )
            except (requests.exceptions.SSLError, ews_errors.TransportError) as exc:
                if not isinstance(exc, requests.exceptions.SSLError) and "SSLError" not in str(exc):
                    return self._outcome(
                        target,
                        ProbeOutcome.ERROR,
                        type(exc).__name__,
                        _exc_text(exc, self.endpoint),
                        start,
                        attempts,
                    )
                return self._outcome(
                    target,
                    ProbeOutcome.ERROR,
                    "TLS",
                    f"TLS verification of {self.endpoint.url} failed: pass --ca-bundle with the CA that issued "
                    "the server's certificate",
                    start,
                    attempts,
                )
            except Exception as exc:
                return self._outcome(
                    target,
                    ProbeOutcome.ERROR,
                    type(exc).__name__,
                    _exc_text(exc, self.endpoint),
                    start,
                    attempts,
                )

    # --- the run -------------------------------------------------------------------------------------------------

    def run(
        self, targets: Sequence[ProbeTarget], progress: ProbeProgress | None = None
    ) -> tuple[tuple[Probe, ...], ProbeRun]:
        """Probe every target with ``concurrency`` workers; probes not done by the deadline end in ERROR."""
        started = dt.datetime.now(dt.UTC)
        t0 = time.monotonic()
        self._deadline = t0 + self.settings.deadline_seconds
        self._cancel.clear()
        work: queue.Queue[tuple[int, ProbeTarget]] = queue.Queue()
        for i, target in enumerate(targets):
            work.put((i, target))
        done: queue.Queue[tuple[int, Probe]] = queue.Queue()
        results: dict[int, Probe] = {}
        error: str | None = None
        workers = [
            threading.Thread(target=self._worker, args=(work, done), name=f"exaudit-probe-{n}", daemon=True)
            for n in range(min(self.settings.concurrency, max(1, len(targets))))
        ]
        if progress is not None:
            progress.start(len(targets), f"probing {len(targets)} mailboxes over EWS")
        try:
            for w in workers:
                w.start()
            while len(results) < len(targets):
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    i, probe = done.get(timeout=min(remaining, 0.5))
                except queue.Empty:
                    continue
                results[i] = probe
                if progress is not None:
                    progress.advance(1)
        except KeyboardInterrupt:
            error = "interrupted"
            raise
        finally:
            self._cancel.set()
            # Workers between create and delete finish their own cleanup first; then sweep what may be left.
            if self.settings.operation == CALENDAR_WRITE:
                grace = time.monotonic() + min(self.settings.request_timeout, 5.0)
                for w in workers:
                    w.join(timeout=max(0.0, grace - time.monotonic()))
            while True:
                try:
                    i, probe = done.get_nowait()
                except queue.Empty:
                    break
                results[i] = probe
            sweep_error = self.sweep()
            if progress is not None:
                progress.finish()
            if sweep_error:
                error = f"{error}; {sweep_error}" if error else sweep_error
        missing = [i for i in range(len(targets)) if i not in results]
        for i in missing:
            results[i] = Probe(
                mailbox=targets[i].mailbox,
                expect=targets[i].expect,
                source=targets[i].source,
                operation=self.operation(targets[i]),
                outcome=ProbeOutcome.ERROR,
                response_code="",
                detail="deadline reached",
                elapsed_ms=0.0,
                attempts=0,
            )
        if self._skipped and error is None:
            error = (
                f"the service account's logon was refused ({self._refused}); the other {self._skipped} probes were "
                "not attempted, so that a wrong password costs one failed logon and cannot lock the account out"
            )
        if missing and error is None:
            error = f"deadline of {self.settings.deadline_seconds:g} s reached with {len(missing)} probes not done"
        leftovers_found, leftovers_removed, leftovers = self.leftover_summary()
        run = ProbeRun(
            started_at=started.isoformat(),
            finished_at=dt.datetime.now(dt.UTC).isoformat(),
            concurrency=self.settings.concurrency,
            deadline_seconds=self.settings.deadline_seconds,
            completed=not missing and error is None,
            error=error,
            leftovers_found=leftovers_found,
            leftovers_removed=leftovers_removed,
            leftovers=leftovers,
        )
        return tuple(results[i] for i in range(len(targets))), run

    def _worker(self, work: queue.Queue[tuple[int, ProbeTarget]], done: queue.Queue[tuple[int, Probe]]) -> None:
        while not self._cancel.is_set():
            try:
                i, target = work.get_nowait()
            except queue.Empty:
                return
            done.put((i, self._probe_guarded(target)))

    def _probe_guarded(self, target: ProbeTarget) -> Probe:
        """probe_one, except after the service account's logon was refused; the first logon runs alone."""
        if not self._logon_ok.is_set():
            with self._logon_lock:
                if self._refused is None and not self._logon_ok.is_set():
                    probe = self.probe_one(target)
                    self._note_logon(probe)
                    return probe
        if self._refused is not None:
            return self._not_attempted(target)
        probe = self.probe_one(target)
        self._note_logon(probe)
        return probe

    def _note_logon(self, probe: Probe) -> None:
        if probe.outcome == ProbeOutcome.AUTH_FAILED:
            with self._logon_lock:
                if self._refused is None:
                    self._refused = probe.detail or probe.response_code
        elif probe.outcome != ProbeOutcome.ERROR or probe.response_code not in ("", "TransportError"):
            self._logon_ok.set()

    def _not_attempted(self, target: ProbeTarget) -> Probe:
        with self._logon_lock:
            self._skipped += 1
        return Probe(
            mailbox=target.mailbox,
            expect=target.expect,
            source=target.source,
            operation=self.operation(target),
            outcome=ProbeOutcome.ERROR,
            response_code="",
            detail="not attempted: the service account's logon was refused on an earlier probe",
            elapsed_ms=0.0,
            attempts=0,
        )

    def _find_marked(self, account: Any, calendar: Any, text: str | None = None) -> list[Any]:
        """FindItem in the calendar for items whose subject contains ``text`` (this run's marker by default).

        The caller checks each subject again: the restriction is the server's, the decision is ours.
        """
        subject = FieldPath(field=CalendarItem.get_field_by_fieldname("subject"))
        return list(
            FindItem(account=account).call(
                folders=[calendar],
                additional_fields={subject},
                restriction=Restriction(
                    Q(subject__contains=text or self.marker), folders=[calendar], applies_to=Restriction.ITEMS
                ),
                order_fields=None,
                shape="IdOnly",
                query_string=None,
                depth="Shallow",
                calendar_view=None,
                max_items=None,
                offset=0,
            )
        )

    def _clear_leftovers(self, account: Any, calendar: Any) -> None:
        """Look for write-probe items of earlier runs in a calendar just opened; remove them when writing is allowed.

        A run killed between CreateItem and DeleteItem (kill -9, a lost machine) leaves its item behind, and its
        own final sweep never ran. The search is a read (FindItem); removing is a write, so it happens only when
        this run was given the write probe, and is otherwise reported for the next write run or an admin. Never
        changes the probe's outcome: what is recorded here is a finding of its own (EXA050's evidence).
        """
        mailbox = account.primary_smtp_address
        if self._cancel.is_set() or time.monotonic() >= self._deadline:
            return
        try:
            found = [
                ItemId(id=it.id, changekey=it.changekey)
                for it in self._find_marked(account, calendar, MARKER_PREFIX)
                if not isinstance(it, Exception)
                and LEFTOVER_SUBJECT.match(it.subject or "")
                and self.marker not in (it.subject or "")
            ]
        except Exception as exc:
            self._note_leftovers(mailbox, 0, 0, f"search failed: {_exc_text(exc, self.endpoint)}")
            return
        removed = 0
        if found and self.settings.operation == CALENDAR_WRITE:
            try:
                self._delete(account, found)
                removed = len(found)
            except Exception as exc:
                self._note_leftovers(mailbox, len(found), 0, f"removal failed: {_exc_text(exc, self.endpoint)}")
                return
        self._note_leftovers(mailbox, len(found), removed, "")

    def _note_leftovers(self, mailbox: str, found: int, removed: int, error: str) -> None:
        with self._pending_lock:
            self._leftovers[mailbox] = (found, removed, error)

    def leftover_summary(self) -> tuple[int | None, int, tuple[str, ...]]:
        """Items of earlier runs found and removed, and one evidence line per mailbox that had any or failed.

        Found is None when no calendar was searched (no in-scope mailbox could be opened).
        """
        with self._pending_lock:
            seen = dict(self._leftovers)
        if not seen:
            return None, 0, ()
        lines = []
        for mailbox in sorted(seen):
            found, removed, error = seen[mailbox]
            if error:
                lines.append(f"{mailbox}: {found} marked item(s) of an earlier run; {error}")
            elif found and removed:
                lines.append(f"{mailbox}: {found} marked item(s) of an earlier run found and removed")
            elif found:
                lines.append(
                    f"{mailbox}: {found} marked item(s) of an earlier run left in place (a read-only run removes "
                    "nothing: rerun with --probe calendar-write, or delete them by their subject)"
                )
        return sum(f for f, _r, _e in seen.values()), sum(r for _f, r, _e in seen.values()), tuple(lines)

    def sweep(self, mailboxes: Iterable[str] | None = None) -> str | None:
        """Find and hard-delete this run's marked test items in calendars where a delete was not confirmed.

        Returns a message naming the mailboxes where items may remain, or None when nothing is left.
        """
        with self._pending_lock:
            todo = sorted(set(mailboxes) if mailboxes is not None else self._pending)
        left = []
        for mailbox in todo:
            try:
                account = self._account(mailbox)
                calendar = self._calendar(account)
                found = [
                    ItemId(id=it.id, changekey=it.changekey)
                    for it in self._find_marked(account, calendar)
                    if not isinstance(it, Exception) and self.marker in (it.subject or "")
                ]
                if found:
                    self._delete(account, found)
                with self._pending_lock:
                    self._pending.discard(mailbox)
            except Exception:
                left.append(mailbox)
        if left:
            return (
                f"the write probe's test items ({self.marker!r}) may remain in {', '.join(left)}: "
                "find them by that subject and delete them"
            )
        return None
