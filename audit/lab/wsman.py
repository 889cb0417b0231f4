"""The /PowerShell WS-Management endpoint: the SOAP operations WinRM implements for a PowerShell remoting client.

Create, Command, Send, Receive (long-poll, 0x80338029 on timeout), Signal (Terminate, ctrl_c), Delete and Get
(shell state; WinRM config) on resource ``http://schemas.microsoft.com/powershell/Microsoft.Exchange``. Reply
shapes, Actions and fault bodies follow real WinRM exchanges (pypsrp's recorded tests, kept in
``tests/data/winrm``): every reply carries ``a:RelatesTo`` = the request's MessageID, faults are HTTP 500 with
``s:Detail/f:WSManFault Code``. A shell belongs to the account that created it: another account naming its
ShellId gets the same fault as for a shell that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from audit.lab.cmdlets import CmdletHost
from audit.lab.http import SOAP_CONTENT_TYPE, LabRequest, LabResponse
from audit.lab.psrp import PSRPShell
from audit.lab.tenant import Tenant
from audit.lab.wsman_config import CONFIG as _CONFIG

log = logging.getLogger(__name__)

__all__ = ["EXCHANGE_RESOURCE_URI", "WSManEndpoint"]

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "pwsh": "http://schemas.microsoft.com/powershell",
}
EXCHANGE_RESOURCE_URI = "http://schemas.microsoft.com/powershell/Microsoft.Exchange"
SHELL_RESOURCE_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CONFIG_RESOURCE_URI = "http://schemas.microsoft.com/wbem/wsman/1/config"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
SIGNAL_TERMINATE = SHELL + "signal/Terminate"
SIGNAL_CTRL_C = "powershell/signal/crtl_c"  # the misspelling is PowerShell's own constant
SIGNAL_CTRL_C_ALT = "powershell/signal/ctrl_c"

# PowerShellMaxConcurrency of Exchange's default throttling policy: the remote PowerShell sessions (WinRM shells)
# one account may hold open at once (Get-ThrottlingPolicy, exchange-outputs.md section 4.8; the lab's
# Get-ThrottlingPolicy reports the same 18). One more Create is refused with WinRM's QuotaLimit fault (MS-WSMV
# 3.1.4.5.2.1), whose text Exchange words as "This user is allowed a maximum of 18 concurrent shells, which has
# been exceeded." (Exchange 2010 EMC, https://cloudiffic.com/this-user-is-allowed-a-maximum-of-18-concurrent-shells-
# which-has-been-exceeded-error-in-exchange-2010/).
POWERSHELL_MAX_CONCURRENCY = 18
_MAX_LONG_POLL_SECONDS = 20.0
IDLE_TIMEOUT_SECONDS = 900.0
_ENVELOPE_OVERHEAD = 2048

_ENVELOPE_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
)
_FAULT_ENVELOPE_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:e="http://schemas.xmlsoap.org/ws/2004/08/eventing" '
    'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
)


@dataclass(frozen=True, slots=True)
class _Fault:
    """A WS-Management fault as WinRM sends it."""

    code: int
    subcode: str
    reason: str
    sender: bool = True
    action: str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
    detail: str | None = None
    provider: bool = False


class WSManError(Exception):
    """Raised inside the endpoint to answer with a fault."""

    def __init__(self, fault: _Fault, message_id: str | None = None) -> None:
        super().__init__(fault.reason)
        self.fault = fault
        self.message_id = message_id


def _invalid_selectors(message: str | None = None, *, provider: bool = False) -> WSManError:
    reason = (
        "The WS-Management service cannot process the request because the request contained invalid selectors "
        "for the resource. "
    )
    return WSManError(
        _Fault(
            2150858843,
            "w:InvalidSelectors",
            message or reason,
            detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors",
            provider=provider,
        )
    )


def _quota_limit(limit: int) -> WSManError:
    return WSManError(
        _Fault(
            2150859173,  # ERROR_WSMAN_QUOTA_MAX_SHELLS, 0x803381A5 in the Windows SDK's wsmerror.h
            "w:QuotaLimit",
            f"The WS-Management service cannot process the request. This user is allowed a maximum of {limit} "
            "concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. ",
            provider=True,
        )
    )


def _unknown_command() -> WSManError:
    return _invalid_selectors(
        "The Windows Remote Shell received a request to perform an operation on a command identifier that does not "
        "exist. Either the command has completed execution or the client specified an invalid command identifier. "
    )


def _invalid_header(message: str) -> WSManError:
    return WSManError(
        _Fault(
            2150858767,
            "a:InvalidMessageInformationHeader",
            message,
            action="http://schemas.xmlsoap.org/ws/2004/08/addressing/fault",
        )
    )


_TIMED_OUT = _Fault(
    2150858793,
    "w:TimedOut",
    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ",
    sender=False,
)

_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")


def _parse_timeout(text: str | None) -> float:
    if text is None:
        return 60.0
    m = _DURATION.match(text.strip())
    if m is None or not any(m.groups()):
        raise _invalid_header(
            "The WS-Management service cannot process the request. The XML contains an invalid timeout field in the "
            f"SOAP header: {text.strip()}. "
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True, slots=True)
class _Envelope:
    action: str
    message_id: str | None
    resource_uri: str
    max_envelope: int
    timeout: float
    selectors: dict[str, str]
    options: dict[str, str]
    body: ET.Element
    host: str


def _parse(req: LabRequest) -> _Envelope:
    # WinRM accepts no DTD; refusing it up front also keeps entity expansion out of the parser.
    if b"<!DOCTYPE" in req.body or b"<!ENTITY" in req.body:
        raise _invalid_header(
            "The WS-Management service cannot process the request. The request contains one or more invalid SOAP "
            "headers. "
        )
    try:
        root = ET.fromstring(req.body)  # noqa: S314 - no DTD reaches the parser (checked above)
    except ET.ParseError:
        raise _invalid_header(
            "The WS-Management service cannot process the request. The request contains one or more invalid SOAP "
            "headers. "
        ) from None
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if root.tag != f"{{{NS['s']}}}Envelope" or header is None or body is None:
        raise _invalid_header(
            "The WS-Management service cannot process the request. The request contains one or more invalid SOAP "
            "headers. "
        )
    action = (header.findtext("wsa:Action", "", NS) or "").strip()
    message_id = header.findtext("wsa:MessageID", None, NS)
    resource_uri = (header.findtext("wsman:ResourceURI", "", NS) or "").strip()
    raw_size = header.findtext("wsman:MaxEnvelopeSize", "153600", NS) or "153600"
    try:
        max_envelope = int(raw_size)
    except ValueError:
        max_envelope = -1
    if max_envelope < 8192 and max_envelope != -1:
        max_envelope = max(max_envelope, 4096)
    if max_envelope <= 0:
        raise WSManError(
            _Fault(
                2150858818,
                "w:EncodingLimit",
                "The WS-Management service cannot process the request because the MaxEnvelopeSize is invalid. ",
            )
        )
    try:
        timeout = _parse_timeout(header.findtext("wsman:OperationTimeout", None, NS))
    except WSManError as err:
        # The fault still relates to the request when its MessageID could be read.
        err.message_id = message_id.strip() if message_id else None
        raise
    selectors = {
        (s.get("Name") or ""): (s.text or "").strip() for s in header.findall("wsman:SelectorSet/wsman:Selector", NS)
    }
    options = {
        (o.get("Name") or ""): (o.text or "").strip() for o in header.findall("wsman:OptionSet/wsman:Option", NS)
    }
    if not action or message_id is None:
        raise _invalid_header(
            "The WS-Management service cannot process the request. The request contains one or more invalid SOAP "
            "headers. "
        )
    host = req.headers.get("Host", "127.0.0.1").rsplit(":", 1)[0] or "127.0.0.1"
    return _Envelope(action, message_id.strip(), resource_uri, max_envelope, timeout, selectors, options, body, host)


def _uuid(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


class WSManEndpoint:
    """Handler for the lab's /PowerShell route (Microsoft.Exchange configuration)."""

    def __init__(
        self,
        tenant_provider: Callable[[], Tenant] | Tenant,
        on_cmdlet: Callable[[str, str, dict[str, str]], None] | None = None,
        commit: Callable[[Tenant], None] | None = None,
        max_shells_per_user: int = POWERSHELL_MAX_CONCURRENCY,
    ) -> None:
        self.max_shells_per_user = max_shells_per_user
        if isinstance(tenant_provider, Tenant):
            fixed = tenant_provider
            self._tenant_provider: Callable[[], Tenant] = lambda: fixed
        else:
            self._tenant_provider = tenant_provider
        self._on_cmdlet = on_cmdlet
        # The same cmdlet runtime InvokeCommand uses (audit.lab.cmdlets.host); visibility from the account.
        self._host = CmdletHost(self._tenant_provider, on_cmdlet=on_cmdlet, commit=commit)
        self._shells: dict[uuid.UUID, PSRPShell] = {}
        self._lock = threading.Lock()
        # The most recent WS-Management operations (for tests and the lab's own diagnostics).
        self.operations: deque[str] = deque(maxlen=4096)

    # -- public ------------------------------------------------------------------------------------------

    def __call__(self, req: LabRequest) -> LabResponse:
        """Answer one WS-Management request."""
        if req.method != "POST":
            return LabResponse(status=405, body=b"", content_type="text/plain", headers={"Allow": "POST"})
        if req.user is None:
            return LabResponse(status=401, body=b"", content_type="text/plain")
        message_id: str | None = None
        host = "127.0.0.1"
        try:
            env = _parse(req)
            message_id, host = env.message_id, env.host
            return self._dispatch(req, env)
        except WSManError as err:
            return self._fault(err.fault, message_id or err.message_id, host)

    def close(self) -> None:
        """Drop every shell and wake pending long-polls (the server calls this when it stops)."""
        with self._lock:
            shells = list(self._shells.values())
            self._shells.clear()
        for shell in shells:
            with shell.cond:
                shell.close()

    def shell_count(self) -> int:
        """Number of open shells."""
        with self._lock:
            return len(self._shells)

    # -- dispatch ----------------------------------------------------------------------------------------

    def _dispatch(self, req: LabRequest, env: _Envelope) -> LabResponse:
        op = env.action.rsplit("/", 1)[-1]
        self.operations.append(op)
        if env.action == TRANSFER + "Get":
            return self._get(req, env)
        if env.action == TRANSFER + "Create":
            self._check_resource(env)
            return self._create(req, env)
        handlers = {
            SHELL + "Command": self._command,
            SHELL + "Send": self._send,
            SHELL + "Receive": self._receive,
            SHELL + "Signal": self._signal,
            TRANSFER + "Delete": self._delete,
        }
        handler = handlers.get(env.action)
        if handler is None:
            raise WSManError(
                _Fault(
                    2150858753,
                    "a:ActionNotSupported",
                    "The WS-Management service cannot process the request because the action is not supported. ",
                    action="http://schemas.xmlsoap.org/ws/2004/08/addressing/fault",
                )
            )
        self._check_resource(env)
        shell = self._shell(req, env)
        return handler(req, env, shell)

    def _check_resource(self, env: _Envelope) -> None:
        if env.resource_uri.lower() == EXCHANGE_RESOURCE_URI.lower():
            return
        name = (
            env.resource_uri.rsplit("/", 1)[-1]
            if env.resource_uri.startswith("http://schemas.microsoft.com/powershell/")
            else env.resource_uri
        )
        # The PowerShell plug-in is looked up from the resource URI; an unknown one is WinRM's
        # ERROR_WSMAN_RESOURCE_NOT_FOUND (the remoting client shows "Cannot find the <name> session
        # configuration in the WSMan: drive").
        raise WSManError(
            _Fault(
                2150858752,
                "w:DestinationUnreachable",
                f"The WS-Management service cannot process the request. Cannot find the {name} session "
                f"configuration in the WSMan: drive on the {self._server_name()} computer. ",
                detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidResourceURI",
            )
        )

    def _reap_idle(self) -> None:
        """Drop shells nobody used for longer than the advertised IdleTimeOut, as WinRM does (lock held)."""
        now = time.monotonic()
        for shell_id, shell in list(self._shells.items()):
            if now - shell.last_used > IDLE_TIMEOUT_SECONDS:
                del self._shells[shell_id]
                with shell.cond:
                    shell.close()

    def _server_name(self) -> str:
        try:
            return str(self._tenant_provider().organization.server_name)
        except Exception:
            return "EXCH01"

    def _shell(self, req: LabRequest, env: _Envelope) -> PSRPShell:
        shell_id = _uuid(env.selectors.get("ShellId"))
        with self._lock:
            shell = self._shells.get(shell_id) if shell_id is not None else None
        # Another account's shell is answered exactly like a shell that does not exist.
        if shell is None or shell.owner.lower() != (req.user or "").lower():
            raise _invalid_selectors()
        shell.last_used = time.monotonic()
        return shell

    # -- operations --------------------------------------------------------------------------------------

    def _create(self, req: LabRequest, env: _Envelope) -> LabResponse:
        shell_el = env.body.find("rsp:Shell", NS)
        if shell_el is None:
            raise _invalid_header(
                "The WS-Management service cannot process the request. The request contains one or more invalid "
                "SOAP headers. "
            )
        shell_id = _uuid(shell_el.get("ShellId")) or uuid.uuid4()
        creation = shell_el.findtext("pwsh:creationXml", "", NS) or ""
        data = _b64(creation)
        user = req.user or ""
        with self._lock:
            self._reap_idle()
            if shell_id in self._shells:
                raise _invalid_selectors(provider=True)
            owned = sum(1 for s in self._shells.values() if s.owner.lower() == user.lower())
            if owned >= self.max_shells_per_user:
                raise _quota_limit(self.max_shells_per_user)
            shell = PSRPShell(shell_id, user, EXCHANGE_RESOURCE_URI, req.client_address[0], self._runner)
            self._shells[shell_id] = shell
        with shell.cond:
            try:
                shell.feed(data, None)
            except Exception:
                log.info("shell %s: invalid creationXml", shell_id, exc_info=True)
                with self._lock:
                    self._shells.pop(shell_id, None)
                raise _invalid_header(
                    "The WS-Management service cannot process the request. The request contains one or more "
                    "invalid SOAP headers. "
                ) from None
        sid = str(shell_id).upper()
        address = f"{'https' if req.headers.get('X-Forwarded-Proto') == 'https' else 'http'}://{env.host}/PowerShell"
        body = (
            f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{EXCHANGE_RESOURCE_URI}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{sid}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated>{self._shell_info(shell, user)}"
        )
        return self._reply(TRANSFER + "CreateResponse", env, body)

    def _shell_info(self, shell: PSRPShell, user: str, *, extended: bool = False) -> str:
        tenant_netbios = "CONTOSO"
        try:
            tenant_netbios = self._tenant_provider().organization.netbios
        except Exception:
            log.debug("tenant unavailable for shell info", exc_info=True)
        run = int(time.monotonic() - shell.created)
        return (
            f'<rsp:Shell xmlns:rsp="{NS["rsp"]}"><rsp:ShellId>{str(shell.shell_id).upper()}</rsp:ShellId>'
            f"<rsp:ResourceUri>{shell.resource_uri}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(tenant_netbios)}\\{escape(user)}</rsp:Owner>"
            f"<rsp:ClientIP>{escape(shell.client_ip)}</rsp:ClientIP><rsp:ProcessId>4242</rsp:ProcessId>"
            f"<rsp:IdleTimeOut>PT{IDLE_TIMEOUT_SECONDS:.3f}S</rsp:IdleTimeOut>"
            "<rsp:InputStreams>stdin pr</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout</rsp:OutputStreams><rsp:MaxIdleTimeOut>PT2147483.647S</rsp:MaxIdleTimeOut>"
            "<rsp:Locale>en-US</rsp:Locale><rsp:DataLocale>en-US</rsp:DataLocale>"
            "<rsp:CompressionMode>NoCompression</rsp:CompressionMode><rsp:ProfileLoaded>Yes</rsp:ProfileLoaded>"
            "<rsp:Encoding>UTF8</rsp:Encoding><rsp:BufferMode>Block</rsp:BufferMode>"
            f"<rsp:State>{shell.state_name}</rsp:State><rsp:ShellRunTime>P0DT0H0M{run}S</rsp:ShellRunTime>"
            "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
            # A Get on the shell also reports resource use (recorded is_alive GetResponse).
            + ("<rsp:MemoryUsed>48MB</rsp:MemoryUsed><rsp:ChildProcesses>0</rsp:ChildProcesses>" if extended else "")
            + "</rsp:Shell>"
        )

    def _runner(self, user: str, statements: Any) -> Any:
        return self._host.run(user, statements)

    def _command(self, req: LabRequest, env: _Envelope, shell: PSRPShell) -> LabResponse:
        line = env.body.find("rsp:CommandLine", NS)
        command_id = _uuid(line.get("CommandId")) if line is not None else None
        if line is None:
            raise _invalid_header(
                "The WS-Management service cannot process the request. The request contains one or more invalid "
                "SOAP headers. "
            )
        command_id = command_id or uuid.uuid4()
        data = _b64(line.findtext("rsp:Arguments", "", NS) or "")
        with shell.cond:
            if shell.has_pipeline(command_id):
                raise _unknown_command()
            shell.add_pipeline(command_id)
            self._feed(shell, data, command_id)
        body = f"<rsp:CommandResponse><rsp:CommandId>{str(command_id).upper()}</rsp:CommandId></rsp:CommandResponse>"
        return self._reply(SHELL + "CommandResponse", env, body)

    def _feed(self, shell: PSRPShell, data: bytes, pipeline_id: uuid.UUID | None) -> None:
        try:
            shell.feed(data, pipeline_id)
        except Exception:
            log.info("shell %s: PSRP data rejected", shell.shell_id, exc_info=True)
            raise WSManError(
                _Fault(
                    2150858755,
                    "w:InternalError",
                    "The WS-Management service cannot process the request. The data sent is not valid PowerShell "
                    "remoting data. ",
                    sender=False,
                )
            ) from None

    def _send(self, req: LabRequest, env: _Envelope, shell: PSRPShell) -> LabResponse:
        streams = env.body.findall("rsp:Send/rsp:Stream", NS)
        with shell.cond:
            for stream in streams:
                command_id = _uuid(stream.get("CommandId"))
                if command_id is not None and not shell.has_pipeline(command_id):
                    raise _unknown_command()
                self._feed(shell, _b64(stream.text or ""), command_id)
        return self._reply(SHELL + "SendResponse", env, "<rsp:SendResponse/>")

    def _receive(self, req: LabRequest, env: _Envelope, shell: PSRPShell) -> LabResponse:
        desired = env.body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = _uuid(desired.get("CommandId")) if desired is not None else None
        budget = max(1024, (env.max_envelope - _ENVELOPE_OVERHEAD) * 3 // 4)
        deadline = time.monotonic() + min(env.timeout, _MAX_LONG_POLL_SECONDS)
        with shell.cond:
            if command_id is not None and not shell.has_pipeline(command_id):
                raise _unknown_command()
            while True:
                if shell.closed:
                    raise _invalid_selectors(provider=True)
                if shell.pending(command_id):
                    chunks, done = shell.receive(command_id, budget)
                    if chunks or done:
                        break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WSManError(_TIMED_OUT)
                shell.cond.wait(remaining)
                if command_id is not None and not shell.has_pipeline(command_id):
                    raise _unknown_command()
        cid_attr = f' CommandId="{str(command_id).upper()}"' if command_id is not None else ""
        parts = [f'<rsp:Stream Name="stdout"{cid_attr}>{base64.b64encode(c).decode()}</rsp:Stream>' for c in chunks]
        if command_id is not None and done:
            parts.append(
                f'<rsp:CommandState CommandId="{str(command_id).upper()}" State="{SHELL}CommandState/Done">'
                "<rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>"
            )
        body = f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"
        return self._reply(SHELL + "ReceiveResponse", env, body)

    def _signal(self, req: LabRequest, env: _Envelope, shell: PSRPShell) -> LabResponse:
        signal = env.body.find("rsp:Signal", NS)
        command_id = _uuid(signal.get("CommandId")) if signal is not None else None
        code = (signal.findtext("rsp:Code", "", NS) if signal is not None else "") or ""
        with shell.cond:
            if command_id is not None and not shell.has_pipeline(command_id):
                raise _unknown_command()
            if command_id is not None:
                if code.strip() in (SIGNAL_CTRL_C, SIGNAL_CTRL_C_ALT):
                    shell.stop_pipeline(command_id)
                else:
                    shell.terminate_pipeline(command_id)
                shell.cond.notify_all()
        return self._reply(SHELL + "SignalResponse", env, "<rsp:SignalResponse/>", activity=False)

    def _delete(self, req: LabRequest, env: _Envelope, shell: PSRPShell) -> LabResponse:
        with self._lock:
            self._shells.pop(shell.shell_id, None)
        with shell.cond:
            shell.close()
        return self._reply(TRANSFER + "DeleteResponse", env, "", rsp=False)

    def _get(self, req: LabRequest, env: _Envelope) -> LabResponse:
        if env.resource_uri.lower() == CONFIG_RESOURCE_URI:
            return self._reply(TRANSFER + "GetResponse", env, _CONFIG, activity=False, rsp=False)
        if env.resource_uri.lower() != SHELL_RESOURCE_URI:
            self._check_resource(env)
        try:
            shell = self._shell(req, env)
        except WSManError:
            # Get on the shell resource answers as WinRM's shell provider does (recorded is_alive fault).
            raise _invalid_selectors(provider=True) from None
        with shell.cond:
            info = self._shell_info(shell, req.user or "", extended=True)
        return self._reply(TRANSFER + "GetResponse", env, info, activity=False, rsp=False)

    # -- envelopes ---------------------------------------------------------------------------------------

    def _reply(self, action: str, env: _Envelope, body: str, *, activity: bool = True, rsp: bool = True) -> LabResponse:
        activity_el = f"<p:ActivityId>{str(uuid.uuid4()).upper()}</p:ActivityId>" if activity else ""
        text = (
            f"{_ENVELOPE_OPEN}<s:Header><a:Action>{action}</a:Action>"
            f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>{activity_el}"
            f"<a:To>{ANONYMOUS}</a:To><a:RelatesTo>{escape(env.message_id or '')}</a:RelatesTo></s:Header>"
            f"<s:Body>{body}</s:Body></s:Envelope>"
        )
        return LabResponse(status=200, body=text.encode("utf-8"), content_type=SOAP_CONTENT_TYPE)

    def _fault(self, fault: _Fault, message_id: str | None, host: str) -> LabResponse:
        relates = f"<a:RelatesTo>{escape(message_id)}</a:RelatesTo>" if message_id else ""
        detail = f"<w:FaultDetail>{fault.detail}</w:FaultDetail>" if fault.detail else ""
        machine = quoteattr(host)
        inner = (
            '<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
            f'Code="{fault.code}" Machine={machine}>'
        )
        if fault.provider:
            message = (
                '<f:Message><f:ProviderFault provider="Shell provider" path="%systemroot%\\system32\\WsmSvc.dll">'
                f"{inner}<f:Message>{escape(fault.reason)}</f:Message></f:WSManFault></f:ProviderFault></f:Message>"
            )
        else:
            message = f"<f:Message>{escape(fault.reason)}</f:Message>"
        text = (
            f"{_FAULT_ENVELOPE_OPEN}<s:Header><a:Action>{fault.action}</a:Action>"
            f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
            f"<a:To>{ANONYMOUS}</a:To>{relates}</s:Header><s:Body><s:Fault><s:Code>"
            f"<s:Value>{'s:Sender' if fault.sender else 's:Receiver'}</s:Value>"
            f"<s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
            f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
            f"<s:Detail>{detail}{inner}{message}</f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>"
        )
        return LabResponse(status=500, body=text.encode("utf-8"), content_type=SOAP_CONTENT_TYPE)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid_header(
            "The WS-Management service cannot process the request. The request contains one or more invalid SOAP "
            "headers. "
        ) from None
