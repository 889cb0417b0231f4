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
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import requests
from pypsrp.complex_objects import GenericComplexObject, PSInvocationState
from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan

from audit.collect.interface import CmdletResult, ErrorKind, TransportFailure, require_read_only
from audit.errors import CmdletUnavailableError
from audit.replies import MIB, ReplyLimits, ReplyRefused, ReplyTooSlow, call_deadline, guard_session

T = TypeVar("T")

# pypsrp logs failed requests at ERROR; with no handler configured Python would print them on stderr. Every
# failure is reported by the collector itself, with what to do.
logging.getLogger("pypsrp").addHandler(logging.NullHandler())

EXCHANGE_CONFIGURATION = "Microsoft.Exchange"
# A WSMan reply is bounded by the shell's MaxEnvelopeSize (pypsrp asks for 150 KiB envelopes), so a receive of
# tens of MiB is no PowerShell reply; the bound is generous and configurable (--max-reply-mib).
DEFAULT_MAX_REPLY_BYTES = 64 * MIB
AUTH_METHODS = ("kerberos", "negotiate", "ntlm", "basic", "certificate")

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

    @property
    def url(self) -> str:
        """The endpoint URL, for messages."""
        scheme = "https" if self.ssl else "http"
        return f"{scheme}://{self.server}:{self.port}/{self.path.strip('/')}"


def plain(value: Any) -> Any:
    """A deserialized PSRP value as plain Python: strings, bools, ints, lists, or None."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, GenericComplexObject):
        # A multi-valued property arrives as an object of an Exchange collection type with a <LST>; pypsrp does
        # not know the type and keeps the <LST> element in property_sets, as a list or as its XML text.
        for entry in value.property_sets:
            if isinstance(entry, list):
                return [plain(v) for v in entry]
            if isinstance(entry, str) and entry.lstrip().startswith(("<LST", "<IE")):
                return _list_items(entry)
        if value.to_string is not None:
            return str(value.to_string)
        return {str(k): plain(v) for k, v in value.adapted_properties.items()}
    return str(value)


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _list_items(xml_text: str) -> list[Any]:
    """The items of a CLIXML ``<LST>`` (strings, or the ToString of objects; Nil items dropped)."""
    # The text is pypsrp's re-serialization of an element it already parsed, so entities are already resolved.
    element = ET.fromstring(xml_text)  # noqa: S314
    items: list[Any] = []
    for child in element:
        if child.tag == "Nil":
            continue
        if child.tag == "Obj":
            text = child.findtext("ToString")
            if text is not None:
                items.append(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
            continue
        if child.tag == "B":
            items.append((child.text or "").strip().lower() == "true")
            continue
        items.append(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), child.text or ""))
    return items


def _decode(text: str | None) -> str:
    """A CLIXML string with PowerShell's ``_xHHHH_`` escapes undone (surrogate pairs rejoined)."""
    if not text:
        return ""
    if "_x" not in text:
        return text
    raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return raw.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_SCALARS: dict[str, Callable[[str | None], Any]] = {
    "S": _decode,
    "URI": _decode,
    "XD": _decode,
    "B": lambda t: (t or "").strip().lower() == "true",
    "I16": lambda t: int(t or 0),
    "I32": lambda t: int(t or 0),
    "I64": lambda t: int(t or 0),
    "U16": lambda t: int(t or 0),
    "U32": lambda t: int(t or 0),
    "U64": lambda t: int(t or 0),
    "By": lambda t: int(t or 0),
    "SB": lambda t: int(t or 0),
    "Db": lambda t: float(t or 0),
    "Sg": lambda t: float(t or 0),
    "D": lambda t: t or "",
    "G": lambda t: t or "",
    "DT": lambda t: t or "",
    "TS": lambda t: t or "",
    "Version": lambda t: t or "",
    "C": lambda t: chr(int(t or 0)),
    "Nil": lambda t: None,
}


class _Unsupported(Exception):
    """The fast path met CLIXML it does not handle; pypsrp's own deserializer takes the object."""


def _fast_value(element: ET.Element) -> Any:
    convert = _SCALARS.get(element.tag)
    if convert is not None:
        return convert(element.text)
    if element.tag != "Obj":
        raise _Unsupported(element.tag)
    for child in element:
        if child.tag in ("LST", "IE"):
            return [_fast_value(item) for item in child]
    to_string = element.find("ToString")
    if to_string is not None:
        return _decode(to_string.text)
    raise _Unsupported("Obj without ToString or list")


def fast_output_object(xml_text: str, keep: Collection[str] | None = None) -> GenericComplexObject | None:
    """Deserialize one Exchange output object (Partial serialization) quickly, or None to let pypsrp do it.

    pypsrp 0.9 re-serializes every element it visits (``ET.tostring``), about 3 ms per Exchange object on this
    machine; a 10,000-mailbox Get-Recipient would take half a minute in the client alone. Exchange's Partial
    format is flat (scalars, ToString-only objects, lists of strings), so this reads it directly and hands
    anything else (type-table objects, references) back to pypsrp. ``keep`` (lower-case names) drops every
    other adapted property as it is read.
    """
    element = ET.fromstring(xml_text)  # noqa: S314  (a PSRP message from the server; expat resolves no entities)
    if element.tag != "Obj":
        return None
    obj = GenericComplexObject()
    try:
        for child in element:
            if child.tag == "TN":
                obj.types = [t.text or "" for t in child]
            elif child.tag == "ToString":
                obj.to_string = _decode(child.text)
            elif child.tag == "Props":
                for prop in child:
                    name = prop.attrib.get("N", "")
                    if keep is None or name.lower() in keep:
                        obj.adapted_properties[name] = _fast_value(prop)
            elif child.tag == "MS":
                obj.extended_properties = {p.attrib.get("N", ""): _fast_value(p) for p in child}
            else:
                return None  # TNRef across messages, LST/DCT at the top, primitives: pypsrp's business
    except _Unsupported:
        return None
    if not obj.types or obj.types[0].removeprefix("Deserialized.").startswith("System."):
        return None
    return obj


class _ExchangeSerializer(Serializer):
    """pypsrp's serializer with a fast path for pipeline output objects (see :func:`fast_output_object`)."""

    keep: frozenset[str] | None = None  # adapted properties to keep (lower case), None for all

    def deserialize(self, element: Any, metadata: Any = None, clear: bool = True) -> Any:
        if metadata is None and clear and isinstance(element, str) and element.startswith("<Obj"):
            fast = fast_output_object(element, self.keep)
            if fast is not None:
                return fast
        return super().deserialize(element, metadata, clear)


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


class PsrpRunner:
    """Runs read-only cmdlets over one pypsrp runspace pool, opened on first use and reused for every call."""

    def __init__(self, endpoint: PsrpEndpoint) -> None:
        if endpoint.auth not in AUTH_METHODS:
            raise TransportFailure(
                f"unknown authentication {endpoint.auth!r}; use one of {', '.join(AUTH_METHODS)}",
                ErrorKind.AUTH,
                fatal=True,
            )
        self.endpoint = endpoint
        self._pool: RunspacePool | None = None
        self._timeouts = 0

    def _scrub(self, text: str) -> str:
        password = self.endpoint.password
        return text.replace(password, "********") if password else text

    def _connect(self, timeout: float) -> RunspacePool:
        ep = self.endpoint
        # Basic over plain http cannot use WinRM message encryption; Negotiate/NTLM/Kerberos over http must
        # (https://github.com/jborean93/pypsrp/blob/master/src/pypsrp/wsman.py, _TransportHTTP).
        encryption = "never" if (ep.auth in {"basic", "certificate"} or ep.ssl) else "auto"
        extra: dict[str, Any] = {}
        if ep.auth == "certificate":
            extra = {"certificate_pem": ep.certificate_pem, "certificate_key_pem": ep.certificate_key_pem}
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
            username=ep.username,
            password=ep.password,
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
        return pool

    def _discard(self) -> None:
        """Forget the current pool and close its HTTP session (a broken or timed-out session is never reused)."""
        pool, self._pool = self._pool, None
        if pool is not None:
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
            self._discard()
            return TransportFailure(
                f"{ep.url} answered {what} with a refused reply: {exc}",
                ErrorKind.TRANSPORT,
                fatal=True,
            )
        if isinstance(exc, TimeoutError):
            self._timeouts += 1
            self._discard()  # the pipeline may still be running; never reuse that pool
            return TransportFailure(
                f"{exc} at {ep.url}; the server did not answer in time (raise --timeout if it is just slow)",
                ErrorKind.TIMEOUT,
                fatal=self._timeouts >= 2,
            )
        if isinstance(exc, AuthenticationError) or (
            isinstance(exc, WinRMTransportError) and getattr(exc, "code", None) == 401
        ):
            return TransportFailure(
                f"authentication to {ep.url} failed for {ep.username or 'the current Kerberos ticket'} ({ep.auth}): "
                "check the auditing account's user name and password, and that the PowerShell virtual directory "
                f"accepts {ep.auth} authentication",
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
            self._discard()
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
            self._discard()
            reason = self._scrub(str(exc.reason or exc.code))
            return TransportFailure(
                f"{ep.url} answered {what} with a WSMan fault: {reason}", ErrorKind.TRANSPORT, fatal=False
            )
        if isinstance(exc, WinRMError):
            self._discard()
            return TransportFailure(
                f"{ep.url} answered {what} with a WinRM error: {self._scrub(str(exc))}",
                ErrorKind.TRANSPORT,
                fatal=False,
            )
        if type(exc).__module__.startswith("spnego"):
            return TransportFailure(
                f"{ep.auth} authentication to {ep.url} failed ({type(exc).__name__}): check the auditing account's "
                "credentials and the server's authentication settings",
                ErrorKind.AUTH,
                fatal=True,
            )
        self._discard()
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
        try:
            if self._pool is None:
                self._pool = self._connect(timeout)
            pool = self._pool
            serializer = pool._serializer
            if isinstance(serializer, _ExchangeSerializer):
                serializer.keep = frozenset(p.lower() for p in properties) if properties is not None else None
            ps = PowerShell(pool).add_cmdlet(cmdlet)
            for name, value in params.items():
                # A True value is a switch parameter (e.g. -GetEffectiveUsers); pypsrp sends a name-only argument.
                ps.add_parameter(name, None if value is True else value)
            output = self._bounded(ps.invoke, timeout, f"running {cmdlet}")
        except (TransportFailure, CmdletUnavailableError):
            raise
        except Exception as exc:
            raise self._translate(exc, f"running {cmdlet}") from None
        self._timeouts = 0
        records = list(ps.streams.error or [])
        for record in records:
            if _is_command_not_found(record):
                role, group = missing_role(cmdlet)
                raise CmdletUnavailableError(cmdlet, role, group)
        objects: list[dict[str, Any]] = []
        type_names: list[tuple[str, ...]] = []
        for item in output or []:
            if isinstance(item, GenericComplexObject):
                wanted = item.adapted_properties
                if properties is not None:
                    keep = {p.lower() for p in properties}
                    wanted = {k: v for k, v in wanted.items() if k.lower() in keep}
                objects.append({str(k): plain(v) for k, v in wanted.items()})
                type_names.append(tuple(str(t) for t in item.types))
            else:
                objects.append({"Value": plain(item)})
                type_names.append(())
        errors, kind = invocation_errors(
            cmdlet,
            ps.state,
            ps.had_errors,
            [self._scrub(_error_text(r)) for r in records],
            [str(getattr(w, "message", None) or w) for w in ps.streams.warning or []],
        )
        return CmdletResult(objects=objects, errors=errors, error_kind=kind, type_names=type_names)

    def close(self) -> None:
        """Close the runspace pool (best effort: a server that no longer answers is simply left)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # Closing is best effort: a server that stopped answering expires the shell on its own.
        with contextlib.suppress(Exception):
            self._bounded(pool.close, 5.0, "closing the PowerShell session")
        with contextlib.suppress(Exception):
            pool.connection.close()
