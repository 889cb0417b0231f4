"""The pypsrp runner: Exchange remote PowerShell (WSMan, configuration ``Microsoft.Exchange``), one cmdlet at a time.

Exchange's endpoint runs in no-language mode, so every call is ``add_cmdlet``/``add_parameter``, never a script
(https://github.com/jborean93/pypsrp/issues/103). pypsrp reports non-terminating errors only in
``streams.error`` (``had_errors`` stays False), so both are checked. Every library exception is translated here
into :class:`audit.errors.CollectionError` with a message that says what to do, and never contains a password.
"""

from __future__ import annotations

import contextlib
import logging
import re
import struct
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import requests
from pypsrp.complex_objects import GenericComplexObject, PSInvocationState
from pypsrp.encryption import WinRMEncryption
from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from audit.collect.interface import CmdletResult, ErrorKind, TransportFailure, require_read_only
from audit.collect.psrp_clixml import Shared, Skimmed, _ExchangeSerializer, fast_output_object, plain
from audit.errors import CmdletUnavailableError, redact
from audit.replies import MIB, ReplyLimits, ReplyRefused, ReplyTooSlow, call_deadline, guard_session

T = TypeVar("T")

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_POOLS",
    "MAX_POOLS",
    "PsrpEndpoint",
    "PsrpRunner",
    "fast_output_object",
    "invocation_errors",
    "missing_role",
    "plain",
]

# pypsrp logs failed requests at ERROR; with no handler configured Python would print them on stderr. Every
# failure is reported by the collector itself, with what to do.
logging.getLogger("pypsrp").addHandler(logging.NullHandler())

EXCHANGE_CONFIGURATION = "Microsoft.Exchange"
# A WSMan reply is bounded by the shell's MaxEnvelopeSize (pypsrp asks for 150 KiB envelopes), so a receive of
# tens of MiB is no PowerShell reply; the bound is generous and configurable (--max-reply-mib).
DEFAULT_MAX_REPLY_BYTES = 64 * MIB
AUTH_METHODS = ("kerberos", "negotiate", "ntlm", "basic", "certificate")

# Exchange limits the remote PowerShell sessions one account may hold open at the same time with its throttling
# policy's PowerShellMaxConcurrency: 18 in the default policy (Get-ThrottlingPolicy of Exchange 2013 CU23,
# shared/domain/exchange-outputs.md section 4.8; parameter documented at
# https://learn.microsoft.com/powershell/module/exchangepowershell/set-throttlingpolicy). The auditing account
# shares that budget with its admins' own shells and other jobs, so collection opens a few runspace pools, never
# more than MAX_POOLS, and a server that refuses one more session (the quota fault) is worked with the pools it
# already gave.
DEFAULT_POOLS = 3
MAX_POOLS = 8

# Reading RBAC objects takes the View-Only Configuration role; recipients take View-Only Recipients; both are held
# by the View-Only Organization Management role group (exchange-rbac.md section 11;
# https://learn.microsoft.com/exchange/permissions/feature-permissions/recipient-permissions).
_RECIPIENT_NOUNS = {"recipient", "mailbox", "user", "group", "distributiongroup", "distributiongroupmember"}
_READ_ROLE_GROUP = "View-Only Organization Management"


def missing_role(cmdlet: str) -> tuple[str, str]:
    """The RBAC role (and the role group holding it) that exposes ``cmdlet`` to a read-only auditing account."""
    noun = cmdlet.partition("-")[2].lower()
    if noun in _RECIPIENT_NOUNS:
        return "View-Only Recipients", _READ_ROLE_GROUP
    return "View-Only Configuration", _READ_ROLE_GROUP


@dataclass(frozen=True, slots=True)
class PsrpEndpoint:
    """How to reach and log in to the PowerShell endpoint; the password never shows in repr."""

    server: str
    port: int
    path: str = "/PowerShell"
    ssl: bool = False
    auth: str = "kerberos"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cert_validation: bool | str = True  # a CA bundle path, True (system store) or False (--insecure)
    connection_timeout: float = 30.0
    certificate_pem: str | None = None
    certificate_key_pem: str | None = None
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES  # per HTTP reply, counted while reading
    spn_host: str | None = None  # Kerberos: the host in HTTP/<host> when --server is an alias or a load balancer

    @property
    def url(self) -> str:
        """The endpoint URL, for messages."""
        scheme = "https" if self.ssl else "http"
        return f"{scheme}://{self.server}:{self.port}/{self.path.strip('/')}"


def _error_text(record: Any) -> str:
    exception = getattr(record, "exception", None)
    message = None
    if isinstance(exception, GenericComplexObject):
        message = exception.adapted_properties.get("Message") or exception.extended_properties.get("Message")
    text = getattr(record, "details_message", None) or message or str(record) or "unknown error"
    reason = getattr(record, "reason", None)
    return f"{text} ({reason})" if reason and str(reason) not in str(text) else str(text)


def _is_command_not_found(record: Any) -> bool:
    exception = getattr(record, "exception", None)
    types = list(getattr(exception, "types", []) or [])
    markers = [str(getattr(record, "reason", "") or ""), str(getattr(record, "fq_error", "") or ""), *types]
    return any("CommandNotFoundException" in m for m in markers)


def invocation_errors(
    cmdlet: str, state: int, had_errors: bool, errors: list[str], warnings: list[str]
) -> tuple[list[str], str | None]:
    """The errors and error kind of a finished invocation, from its final state, error records and warnings.

    Only a COMPLETED pipeline gave its whole output. A Stopped pipeline (stopped on the server, e.g. by an admin
    or a session limit) returns what arrived before the stop, with or without an error record: missing data.
    https://learn.microsoft.com/en-us/dotnet/api/system.management.automation.psinvocationstate
    """
    errors = list(errors)
    kind: str | None = None
    # Exchange warns instead of failing when -ResultSize (1000 by default) cut the result: a cut result is
    # missing data, never a complete answer.
    for text in warnings:
        if "ResultSize" in text:
            errors.append(f"{cmdlet} returned a truncated result: {text}")
            kind = ErrorKind.TRUNCATED
    if state != PSInvocationState.COMPLETED:
        kind = ErrorKind.TERMINATING
        if not errors:
            errors = [f"{cmdlet} ended in pipeline state {_STATE_NAMES.get(state, state)}, not Completed"]
    elif had_errors:
        kind = ErrorKind.NON_TERMINATING
        if not errors:
            errors = [f"{cmdlet} failed on the server without an error record"]
    elif errors and kind is None:
        kind = ErrorKind.NON_TERMINATING
    return errors, kind


_STATE_NAMES = {
    getattr(PSInvocationState, name): name.title().replace("_", "")
    for name in ("NOT_STARTED", "RUNNING", "STOPPING", "STOPPED", "COMPLETED", "FAILED", "DISCONNECTED")
}


_MIME_END = re.compile(rb"--\s*Encrypted Boundary--\r\n$")


class _WinRMEncryption(WinRMEncryption):
    """pypsrp's WinRM message decryption with the end-of-message marker looked for in the tail only.

    pypsrp 0.9 strips that marker with a ``re.sub`` anchored at ``$`` over the whole encrypted payload, which tries
    every ``--`` of a 500 KB reply: about a tenth of the client's CPU for a large collection. The marker can only
    end the payload, so the same substitution over the last bytes gives the same payload.
    """

    def unwrap_message(self, message: bytes, boundary: str) -> bytes:
        """Decrypt one reply, as WinRMEncryption.unwrap_message does."""
        if boundary != "Encrypted Boundary":
            return super().unwrap_message(message, boundary)
        parts = [p for p in re.split(rb"--\s*Encrypted Boundary\r\n", message) if p]
        out: list[bytes] = []
        for i in range(0, len(parts), 2):
            expected_length = int(parts[i].strip().split(b"Length=")[1])
            payload = parts[i + 1]
            cut = max(0, len(payload) - 256)
            payload = payload[:cut] + _MIME_END.sub(b"", payload[cut:])
            wrapped = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"")
            header_length = struct.unpack("<i", wrapped[:4])[0]
            data = self.context.unwrap_winrm(wrapped[4 : 4 + header_length], wrapped[4 + header_length :])
            if len(data) != expected_length:
                raise WinRMError(
                    "The encrypted length from the server does not match the expected length, decryption failed, "
                    f"actual: {len(data)} != expected: {expected_length}"
                )
            out.append(data)
        return b"".join(out)


def _close_refused_responses(wsman: WSMan) -> None:
    """Close the 401 reply when pypsrp cannot build a logon token from it (no KDC, no ticket, unknown SPN).

    pypsrp raises from inside the response hook and leaves that reply, and so its connection, open. The session
    is built now (pypsrp 0.9 would build the same one on the first request) so that its auth can be wrapped.
    """
    transport = wsman.transport
    session = transport._build_session()
    transport.session = session
    auth: Any = session.auth
    original = getattr(auth, "handle_401", None)
    if original is None:
        return

    def handle_401(response: Any, **kwargs: Any) -> Any:
        try:
            return original(response, **kwargs)
        except Exception:
            response.close()
            raise

    auth.handle_401 = handle_401


class PsrpRunner:
    """Runs read-only cmdlets over up to ``pools`` pypsrp runspace pools, opened on first use and reused.

    ``run`` may be called from several threads at once: each call checks a pool out (pypsrp's RunspacePool and
    PowerShell are not thread-safe, so a pool serves one call at a time), and a pool whose call failed below
    PowerShell is closed, never reused. ``pools=1`` is the sequential collection of earlier versions.
    """

    def __init__(self, endpoint: PsrpEndpoint, pools: int = DEFAULT_POOLS) -> None:
        if endpoint.auth not in AUTH_METHODS:
            raise TransportFailure(
                f"unknown authentication {endpoint.auth!r}; use one of {', '.join(AUTH_METHODS)}",
                ErrorKind.AUTH,
                fatal=True,
            )
        if not 1 <= pools <= MAX_POOLS:
            raise ValueError(f"pools must be between 1 and {MAX_POOLS}, not {pools}")
        self.endpoint = endpoint
        self.pools = pools
        self._limit = pools  # lowered when the server refuses one more session (PowerShellMaxConcurrency)
        self._idle: list[RunspacePool] = []
        self._open = 0  # pools opened or being opened, idle or checked out
        self._cond = threading.Condition()
        self._timeouts = 0
        self._fatal: TransportFailure | None = None  # once set, no call contacts the server again
        # Read only the wanted properties' text (psrp_clixml.skim_output_object); False parses every element and
        # drops the unwanted afterwards, as earlier versions did (kept for the side-by-side benchmark).
        self.skim = True

    def _scrub(self, text: str) -> str:
        return redact(text, self.endpoint.username, self.endpoint.password)

    def _connect(self, timeout: float) -> RunspacePool:
        ep = self.endpoint
        # Basic over plain http cannot use WinRM message encryption; Negotiate/NTLM/Kerberos over http must
        # (https://github.com/jborean93/pypsrp/blob/master/src/pypsrp/wsman.py, _TransportHTTP).
        encryption = "never" if (ep.auth in {"basic", "certificate"} or ep.ssl) else "auto"
        extra: dict[str, Any] = {}
        if ep.auth == "certificate":
            extra = {"certificate_pem": ep.certificate_pem, "certificate_key_pem": ep.certificate_key_pem}
        username, password = ep.username, ep.password
        if ep.auth in ("kerberos", "negotiate"):
            # /PowerShell is an IIS virtual directory: its SPN is HTTP/<host>, as Windows PowerShell's WinRM client
            # asks for (pypsrp's default service is WSMAN). The host is the one connected to unless --spn-host.
            extra["negotiate_service"] = "HTTP"
            if ep.spn_host:
                extra["negotiate_hostname_override"] = ep.spn_host
        if ep.auth == "kerberos":
            from audit.kerberos import principal  # noqa: PLC0415

            # Without a password the ticket cache (or MIT's KRB5_CLIENT_KTNAME keytab) decides the principal;
            # with one, pyspnego gets a ticket into a memory cache for the UPN, realm upper-cased.
            username = principal(ep.username) if (ep.username and ep.password) else None
            password = ep.password if username else None
        if ep.cert_validation is False:
            import urllib3  # noqa: PLC0415  (only when the user asked for --insecure)

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        seconds = max(1, int(timeout + 0.999))
        wsman = WSMan(
            ep.server,
            port=ep.port,
            path=ep.path.strip("/"),
            ssl=ep.ssl,
            auth=ep.auth,
            username=username,
            password=password,
            encryption=encryption,
            # pypsrp types this as bool, but hands it to requests' Session.verify, which takes a CA bundle path.
            cert_validation=cast(bool, ep.cert_validation),
            connection_timeout=max(1, int(ep.connection_timeout)),
            operation_timeout=seconds,
            read_timeout=seconds + 5,
            **extra,
        )
        # Every reply is read under a size bound and a deadline, and no redirect leads to another origin; the call's
        # own deadline (call_deadline in _bounded) ends a cmdlet whose receives keep coming.
        transport = wsman.transport
        transport.session = guard_session(
            transport._build_session(), ReplyLimits(ep.max_reply_bytes, seconds + 5.0), "PowerShell remoting"
        )
        if ep.auth in ("kerberos", "negotiate", "ntlm"):
            _close_refused_responses(wsman)
        pool = RunspacePool(wsman, configuration_name=EXCHANGE_CONFIGURATION)
        # pypsrp 0.9 (pinned <1) keeps its serializer in these two attributes; the subclass only adds a fast path
        # for pipeline output and hands everything else to pypsrp.
        serializer = _ExchangeSerializer()
        pool._serializer = serializer
        pool._fragmenter.serializer = serializer
        try:
            self._bounded(pool.open, timeout, "opening the PowerShell session")
        except BaseException:
            with contextlib.suppress(Exception):
                wsman.close()
            raise
        wrapper: object = getattr(transport, "encryption", None)
        if type(wrapper) is WinRMEncryption:  # made by the first request of an encrypted session
            wrapper.__class__ = _WinRMEncryption
        return pool

    def _checkout(self, timeout: float) -> RunspacePool:
        """An idle pool, a newly opened one while under the limit, or (at the limit) the next pool released."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._fatal is None and not self._idle and self._open >= self._limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no PowerShell session became free within {timeout:g} s")
                self._cond.wait(remaining)
            if self._fatal is not None:
                raise TransportFailure(str(self._fatal), self._fatal.kind, fatal=True)
            if self._idle:
                return self._idle.pop()
            self._open += 1
            first = self._open == 1
        try:
            return self._connect(timeout)
        except WSManFaultError as exc:
            with self._cond:
                self._open -= 1
                self._cond.notify_all()
                if first or not _is_quota_fault(exc):
                    raise
                # Exchange refused one more session (PowerShellMaxConcurrency, other sessions of the account
                # count too): go on with the pools already open.
                self._limit = max(1, self._open)
            return self._checkout(max(0.0, deadline - time.monotonic()))
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify_all()
            raise

    def _release(self, pool: RunspacePool, *, broken: bool) -> None:
        """Give a pool back for the next call, or close it when its call failed below PowerShell."""
        with self._cond:
            if not broken:
                self._idle.append(pool)
            else:
                self._open -= 1
                # A server that broke one session gets no more new ones than it still has: every orphaned shell
                # counts against the account's PowerShellMaxConcurrency until the server expires it.
                self._limit = max(1, min(self._limit, self._open))
            self._cond.notify_all()
        if broken:
            # A broken or timed-out session is never reused (its pipeline may still be running).
            with contextlib.suppress(Exception):
                pool.connection.close()

    def _bounded(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        """Run ``fn`` in a worker thread and give up after ``timeout`` seconds (a reply that never ends)."""
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                # Every HTTP exchange of this call ends by the call's deadline, so a worker given up on below stops
                # reading too instead of growing an endless reply in the background.
                with call_deadline(timeout):
                    box["value"] = fn()
            except BaseException as exc:
                box["error"] = exc

        worker = threading.Thread(target=target, name="exaudit-psrp", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise TimeoutError(f"{what} took longer than {timeout:g} s")
        if "error" in box:
            raise box["error"]
        return cast(T, box.get("value"))

    def _translate(self, exc: BaseException, what: str) -> TransportFailure:
        ep = self.endpoint
        if isinstance(exc, ReplyTooSlow):
            return self._translate(TimeoutError(f"{what}: {exc}"), what)
        if isinstance(exc, ReplyRefused):
            # A server that sends more than any PowerShell reply holds, or sends us elsewhere, is not talked to again.
            return TransportFailure(
                f"{ep.url} answered {what} with a refused reply: {exc}",
                ErrorKind.TRANSPORT,
                fatal=True,
            )
        if isinstance(exc, TimeoutError):
            self._timeouts += 1
            return TransportFailure(
                f"{exc} at {ep.url}; the server did not answer in time (raise --timeout if it is just slow)",
                ErrorKind.TIMEOUT,
                fatal=self._timeouts >= 2,
            )
        if isinstance(exc, AuthenticationError) or (
            isinstance(exc, WinRMTransportError) and getattr(exc, "code", None) == 401
        ):
            kerberos_hint = (
                "; with Kerberos the server could not accept the ticket: its keytab may hold an old key version "
                "(export it again after a password change) or the SPN points at another account"
                if ep.auth == "kerberos"
                else ""
            )
            return TransportFailure(
                f"authentication to {ep.url} failed for {ep.username or 'the current Kerberos ticket'} ({ep.auth}): "
                "check the auditing account's user name and password, and that the PowerShell virtual directory "
                f"accepts {ep.auth} authentication{kerberos_hint}",
                ErrorKind.AUTH,
                fatal=True,
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return TransportFailure(
                f"TLS verification of {ep.url} failed: pass --ca-bundle with the CA that issued the server's "
                "certificate (or --insecure to skip verification, not for production)",
                ErrorKind.TLS,
                fatal=True,
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return self._translate(TimeoutError(f"{what}: no reply"), what)
        if isinstance(exc, requests.exceptions.ConnectionError):
            refused = "refused" in str(exc).lower() or "NewConnectionError" in repr(exc)
            if refused:
                return TransportFailure(
                    f"cannot connect to {ep.url}: connection refused; check --server and --port and that the "
                    "server's PowerShell virtual directory is reachable from here",
                    ErrorKind.CONNECTION,
                    fatal=True,
                )
            return TransportFailure(
                f"the connection to {ep.url} broke while {what} ({type(exc).__name__}); retry, and check any "
                "proxy or load balancer in between",
                ErrorKind.CONNECTION,
                fatal=False,
            )
        if isinstance(exc, WSManFaultError):
            reason = self._scrub(str(exc.reason or exc.code))
            return TransportFailure(
                f"{ep.url} answered {what} with a WSMan fault: {reason}", ErrorKind.TRANSPORT, fatal=False
            )
        if isinstance(exc, WinRMError):
            return TransportFailure(
                f"{ep.url} answered {what} with a WinRM error: {self._scrub(str(exc))[:500]}",
                ErrorKind.TRANSPORT,
                fatal=False,
            )
        if type(exc).__module__.startswith("spnego"):
            if ep.auth in ("kerberos", "negotiate"):
                from audit.kerberos import explain  # noqa: PLC0415

                return TransportFailure(
                    f"{ep.auth} authentication to {ep.url} failed: {self._scrub(explain(exc, ep.spn_host))}",
                    ErrorKind.AUTH,
                    fatal=True,
                )
            return TransportFailure(
                f"{ep.auth} authentication to {ep.url} failed ({type(exc).__name__}): check the auditing account's "
                "credentials and the server's authentication settings",
                ErrorKind.AUTH,
                fatal=True,
            )
        return TransportFailure(
            f"unexpected reply from {ep.url} while {what} ({type(exc).__name__}: {self._scrub(str(exc))[:300]})",
            ErrorKind.TRANSPORT,
            fatal=False,
        )

    def run(
        self, cmdlet: str, params: Mapping[str, object], timeout: float, properties: Collection[str] | None = None
    ) -> CmdletResult:
        """Run one Get-* cmdlet with parameters; see :class:`audit.collect.interface.CmdletRunner`."""
        require_read_only(cmdlet)
        keep = frozenset(p.lower() for p in properties) if properties is not None else None
        failure: TransportFailure | None = None
        pool: RunspacePool | None = None
        shared = Shared()
        try:
            pool = self._checkout(timeout)
            serializer = pool._serializer
            if isinstance(serializer, _ExchangeSerializer):
                serializer.keep = keep
                serializer.skim = self.skim
                serializer.shared = shared
            ps = PowerShell(pool).add_cmdlet(cmdlet)
            for name, value in params.items():
                # A True value is a switch parameter (e.g. -GetEffectiveUsers); pypsrp sends a name-only argument.
                ps.add_parameter(name, None if value is True else value)
            output = self._bounded(ps.invoke, timeout, f"running {cmdlet}")
        except (TransportFailure, CmdletUnavailableError):
            if pool is not None:
                self._release(pool, broken=True)
            raise
        except Exception as exc:
            # Raised outside this block: the library's exception, and the frames of its traceback that may hold a
            # half-parsed hostile reply (megabytes of expanded entities), must not live on as the __context__ of
            # the failure the collector keeps.
            if pool is not None:
                self._release(pool, broken=True)
            failure = self._translate(exc, f"running {cmdlet}")
        if failure is not None:
            if failure.fatal:
                with self._cond:
                    self._fatal = self._fatal or failure
                    self._cond.notify_all()
            raise failure
        assert pool is not None
        # pypsrp keeps every pipeline (and its output objects) in the pool until the pipeline is closed, which
        # would cost a round trip: forget the finished one, so that its objects go with this call's result.
        pool.pipelines.pop(ps.id, None)
        self._release(pool, broken=False)
        self._timeouts = 0
        records = list(ps.streams.error or [])
        for record in records:
            if _is_command_not_found(record):
                role, group = missing_role(cmdlet)
                raise CmdletUnavailableError(cmdlet, role, group)
        objects: list[Mapping[str, Any]] = []
        type_names: list[tuple[str, ...]] = []
        chains: dict[int, tuple[str, ...]] = {}  # skimmed objects share their chain's list: one tuple per chain
        for item in output or []:
            if type(item) is Skimmed:
                # Already plain values, and only the wanted properties (see skim_output_object).
                objects.append(item.adapted_properties)
                type_names.append(chains.get(id(item.types)) or chains.setdefault(id(item.types), tuple(item.types)))
            elif isinstance(item, GenericComplexObject):
                wanted = item.adapted_properties
                if keep is not None:
                    wanted = {k: v for k, v in wanted.items() if k.lower() in keep}
                objects.append({shared.name(str(k)): shared.value(str(k), plain(v)) for k, v in wanted.items()})
                type_names.append(tuple(str(t) for t in item.types))
            else:
                objects.append({"Value": plain(item)})
                type_names.append(())
        errors, kind = invocation_errors(
            cmdlet,
            ps.state,
            ps.had_errors,
            [self._scrub(_error_text(r)) for r in records],
            [self._scrub(str(getattr(w, "message", None) or w)) for w in ps.streams.warning or []],
        )
        return CmdletResult(objects=objects, errors=errors, error_kind=kind, type_names=type_names)

    def close(self) -> None:
        """Close every idle runspace pool (best effort: a server that no longer answers is simply left)."""
        with self._cond:
            pools, self._idle = self._idle, []
            self._open -= len(pools)
        for pool in pools:
            # Closing is best effort: a server that stopped answering expires the shell on its own.
            with contextlib.suppress(Exception):
                self._bounded(pool.close, 5.0, "closing the PowerShell session")
            with contextlib.suppress(Exception):
                pool.connection.close()


def _is_quota_fault(exc: WSManFaultError) -> bool:
    """Whether a fault is WinRM's QuotaLimit: the account holds as many shells as its policy allows."""
    # MS-WSMV 3.1.4.5.2.1: a wsman:QuotaLimit fault answers a Create over a quota; Exchange's text names the
    # PowerShellMaxConcurrency of the throttling policy ("This user is allowed a maximum of 18 concurrent shells").
    text = f"{exc.code} {exc.reason}".lower()
    return "quota" in text or "concurrent shells" in text or "maxconcurrency" in text
