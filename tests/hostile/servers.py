"""A small hostile HTTP server on 127.0.0.1 and the `exaudit run` cases played against it.

Shared by tests/hostile/test_servers.py (asserts) and bench/bench_hostile_server.py (prints the figures). Every
case runs the real CLI in a child process, so that its wall time and peak RSS are the process's own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "policies" / "callpro.yaml"
TIMEOUT = 2.0  # --timeout of every case
DEADLINE = 6.0  # --deadline of every case
# What a run may take against any server: two PowerShell calls timing out (the second ends collection), the probe
# deadline, and the session close; each case must end within this + 5 s (issue 7).
RUN_BOUND = 2 * TIMEOUT + DEADLINE + 5.0
MEMORY_LIMIT_MIB = 300.0
SECRET_TOKEN = "tok3n-in-the-location-query"

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"


def _envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def _message(response_class: str, *codes: str) -> str:
    inner = "".join(f"<m:ResponseCode>{c}</m:ResponseCode>" for c in codes)
    return f'<m:GetFolderResponseMessage ResponseClass="{response_class}">{inner}</m:GetFolderResponseMessage>'


def _get_folder_response(*messages: str) -> bytes:
    return _envelope(
        f'<m:GetFolderResponse xmlns:m="{MNS}"><m:ResponseMessages>{"".join(messages)}'
        "</m:ResponseMessages></m:GetFolderResponse>"
    )


def _fault(code: str) -> bytes:
    return _envelope(
        f"<s:Fault><faultcode>a:{code}</faultcode><faultstring>{code}</faultstring><detail>"
        f'<e:ResponseCode xmlns:e="{ENS}">{code}</e:ResponseCode></detail></s:Fault>'
    )


_XXE = (
    b'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&xxe;</s:Body></s:Envelope>'
)
_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
    )
    + b']><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&lol9;</s:Body></s:Envelope>'
)
_WSMAN_FAULT_WITH_ESCAPES = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Body><s:Fault><s:Code><s:Value>s:Receiver'
    b'</s:Value></s:Code><s:Reason><s:Text xml:lang="en-US">\x1b]0;pwned\x07\x1b[2J\x1b[31mboom</s:Text></s:Reason>'
    b"</s:Fault></s:Body></s:Envelope>"
)


@dataclass(frozen=True)
class Behaviour:
    """How the hostile server answers every request."""

    kind: str  # endless | slow-body | slow-headers | redirect | body | huge-headers
    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml; charset=utf-8"


class HostileServer:
    """Answers every request on 127.0.0.1 with one hostile behaviour, until stopped."""

    def __init__(self, behaviour: Behaviour, tls_dir: Path | None = None) -> None:
        self.behaviour = behaviour
        self.ca_path: Path | None = None
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.requests += 1
                try:
                    server._answer(self)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        if tls_dir is not None:
            # HTTPS like a real Exchange front end (and Basic is only ever sent over TLS): the lab's throw-away CA.
            from audit.lab.http import _TLSMaterial

            material = _TLSMaterial(tls_dir)
            self.ca_path = material.ca_path
            self._http.socket = material.context.wrap_socket(self._http.socket, server_side=True)
        self.port = self._http.server_address[1]
        # The redirect target: a port that is not this server's (another origin).
        self._other = socket.socket()
        self._other.bind(("127.0.0.1", 0))
        self.other_port = self._other.getsockname()[1]
        self._thread = threading.Thread(target=self._http.serve_forever, name="hostile-http", daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._other.close()

    @property
    def url(self) -> str:
        """The base URL."""
        scheme = "https" if self.ca_path is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        b = self.behaviour
        w = h.wfile
        if b.kind == "endless":
            w.write(f"HTTP/1.1 200 OK\r\nContent-Type: {b.content_type}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
            chunk = b"<a>" + b"x" * (64 * 1024 - 7) + b"</a>"
            framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            while True:
                w.write(framed)
        elif b.kind == "slow-body":
            w.write(f"HTTP/1.1 200 OK\r\nContent-Type: {b.content_type}\r\nContent-Length: 100000\r\n\r\n".encode())
            w.flush()
            while True:
                w.write(b"<")
                w.flush()
                time.sleep(1.0)
        elif b.kind == "slow-headers":
            for byte in b"HTTP/1.1 200 OK\r\nX-Drip: " + b"d" * 100000:
                w.write(bytes([byte]))
                w.flush()
                time.sleep(1.0)
        elif b.kind == "redirect":
            location = f"http://127.0.0.1:{self.other_port}/PowerShell?token={SECRET_TOKEN}"
            w.write(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())
        elif b.kind == "huge-headers":
            w.write(b"HTTP/1.1 200 OK\r\n")
            for i in range(5000):
                w.write(f"X-Filler-{i}: {'h' * 1000}\r\n".encode())
            w.write(b"Content-Length: 0\r\n\r\n")
        else:
            reason = {200: "OK", 403: "Forbidden", 500: "Internal Server Error"}.get(b.status, "Status")
            head = (
                f"HTTP/1.1 {b.status} {reason}\r\nContent-Type: {b.content_type}\r\nContent-Length: {len(b.body)}\r\n"
            )
            w.write(head.encode() + b"\r\n" + b.body)
        w.flush()


@dataclass(frozen=True)
class Case:
    """One hostile-server case: who is hostile (PowerShell remoting or EWS), how, and what exaudit must say."""

    name: str
    protocol: str  # "psrp" | "ews": the other protocol talks to the lab
    behaviour: Behaviour
    message: str  # a text the CLI's stderr must hold ({other_port} is filled in)
    never: tuple[str, ...] = ()  # texts that must appear in no output and no file
    statuses: dict[str, str] = field(default_factory=dict)  # check id -> status the JSON report must show


_DTD_REFUSED = "reply holds a document type declaration"
CASES: tuple[Case, ...] = (
    Case("psrp endless body", "psrp", Behaviour("endless"), "PowerShell remoting reply exceeded 64 MiB"),
    Case("psrp slow body (1 byte/s)", "psrp", Behaviour("slow-body"), "took longer than"),
    Case("psrp slow headers (1 byte/s)", "psrp", Behaviour("slow-headers"), "took longer than"),
    Case(
        "psrp redirect to another port",
        "psrp",
        Behaviour("redirect"),
        "another origin (http://127.0.0.1:{other_port})",
        never=(SECRET_TOKEN,),
    ),
    Case("psrp XXE in WSMan", "psrp", Behaviour("body", body=_XXE), _DTD_REFUSED, never=("root:x:0:0",)),
    Case("psrp billion laughs in WSMan", "psrp", Behaviour("body", body=_LAUGHS), _DTD_REFUSED),
    Case("psrp huge headers", "psrp", Behaviour("huge-headers"), "PowerShell"),
    Case(
        "psrp escape codes in a WSMan fault",
        "psrp",
        Behaviour("body", status=500, body=_WSMAN_FAULT_WITH_ESCAPES, content_type="application/soap+xml"),
        "with a WinRM error",
    ),
    Case("ews endless body", "ews", Behaviour("endless"), "EWS reply exceeded 8 MiB", statuses={"EXA051": "ERROR"}),
    Case("ews slow body (1 byte/s)", "ews", Behaviour("slow-body"), "", statuses={"EXA051": "ERROR"}),
    Case("ews slow headers (1 byte/s)", "ews", Behaviour("slow-headers"), "", statuses={"EXA051": "ERROR"}),
    Case(
        "ews redirect to another port",
        "ews",
        Behaviour("redirect"),
        "another origin (http://127.0.0.1:{other_port})",
        never=(SECRET_TOKEN,),
        statuses={"EXA051": "ERROR"},
    ),
    Case(
        "ews XXE in SOAP",
        "ews",
        Behaviour("body", body=_XXE),
        _DTD_REFUSED,
        never=("root:x:0:0",),
        statuses={"EXA051": "ERROR"},
    ),
    Case(
        "ews billion laughs in SOAP", "ews", Behaviour("body", body=_LAUGHS), _DTD_REFUSED, statuses={"EXA051": "ERROR"}
    ),
    Case("ews huge headers", "ews", Behaviour("huge-headers"), "", statuses={"EXA051": "ERROR"}),
    Case(
        "ews Success with an error code",
        "ews",
        Behaviour("body", body=_get_folder_response(_message("Success", "ErrorImpersonateUserDenied"))),
        "ResponseClass Success and ResponseCode ErrorImpersonateUserDenied",
        statuses={"EXA050": "ERROR", "EXA051": "ERROR"},
    ),
    Case(
        "ews NoError and an error in one message",
        "ews",
        Behaviour("body", body=_get_folder_response(_message("Error", "NoError", "ErrorImpersonateUserDenied"))),
        "2 ResponseCodes",
        statuses={"EXA050": "ERROR", "EXA051": "ERROR"},
    ),
    Case(
        "ews Error class with NoError",
        "ews",
        Behaviour("body", body=_get_folder_response(_message("Error", "NoError"))),
        "ResponseClass Error and ResponseCode NoError",
        statuses={"EXA050": "ERROR", "EXA051": "ERROR"},
    ),
    Case(
        "ews two response messages for one request",
        "ews",
        Behaviour(
            "body",
            body=_get_folder_response(
                _message("Error", "ErrorImpersonateUserDenied"), _message("Error", "ErrorImpersonateUserDenied")
            ),
        ),
        "2 response messages for 1 requested",
        statuses={"EXA050": "ERROR", "EXA051": "ERROR"},
    ),
    Case(
        "ews denial fault under HTTP 200",
        "ews",
        Behaviour("body", body=_fault("ErrorImpersonateUserDenied")),
        "SOAP Fault under HTTP 200",
        statuses={"EXA050": "ERROR", "EXA051": "ERROR"},
    ),
    Case(
        "ews 403 without a SOAP ResponseCode",
        "ews",
        Behaviour("body", status=403, body=b"<html><body>403 - Forbidden</body></html>", content_type="text/html"),
        "",
        statuses={"EXA050": "ERROR", "EXA051": "ERROR"},
    ),
    Case(
        "ews denial fault under HTTP 403",
        "ews",
        Behaviour("body", status=403, body=_fault("ErrorImpersonateUserDenied")),
        "",
        statuses={"EXA050": "ERROR", "EXA051": "ERROR"},
    ),
)


# The child reports its own peak RSS (VmHWM of its address space) when it exits. Its rusage cannot be used: Linux
# carries the parent's RSS high-water mark across fork and exec into ru_maxrss, so a child of a large pytest
# process would report the parent's peak.
_TRAMPOLINE = """
import atexit, os, runpy, sys
def _report():
    with open("/proc/self/status", encoding="ascii") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["EXAUDIT_TEST_HWM_FILE"], "w", encoding="ascii") as out:
        out.write(kib)
atexit.register(_report)
sys.argv = ["exaudit", *sys.argv[1:]]
runpy.run_module("audit", run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class Outcome:
    """What one case's `exaudit run` child did."""

    code: int
    seconds: float
    peak_rss_mib: float
    stderr: str
    stdout: str
    out_dir: Path
    message: str  # the case's message with the hostile server's ports filled in


@dataclass(frozen=True)
class LabAccess:
    """The lab endpoint and accounts a case uses for the protocol that is not hostile."""

    port: int
    auditor: str
    auditor_password: str
    service: str
    service_password: str
    ca_path: Path  # the lab's CA (it serves HTTPS)


def play(case: Case, lab: LabAccess, out_dir: Path) -> Outcome:
    """Run `exaudit run` in a child process with one protocol pointed at a hostile server; measure it."""
    tls_dir = out_dir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    with HostileServer(case.behaviour, tls_dir) as hostile:
        # Both servers speak HTTPS (Basic is refused over http, as it must be): one bundle holds both CAs.
        bundle = tls_dir / "bundle.pem"
        assert hostile.ca_path is not None
        bundle.write_bytes(lab.ca_path.read_bytes() + hostile.ca_path.read_bytes())
        if case.protocol == "psrp":
            port, auth = hostile.port, "basic"
            ews_url = f"https://127.0.0.1:{lab.port}/EWS/Exchange.asmx"
        else:
            port, auth = lab.port, "ntlm"
            ews_url = f"{hostile.url}/EWS/Exchange.asmx"
        hwm_file = out_dir / "peak-rss-kib"
        argv = [
            sys.executable, "-c", _TRAMPOLINE, "run", str(POLICY),
            "--server", "127.0.0.1", "--port", str(port), "--scheme", "https", "--auth", auth,
            "--ca-bundle", str(bundle),
            "--audit-user", lab.auditor, "--service-user", lab.service, "--ews-url", ews_url,
            "--timeout", f"{TIMEOUT:g}", "--deadline", f"{DEADLINE:g}",
            "--report-dir", str(out_dir / "reports"), "--snapshot-out", str(out_dir / "snapshot.json"),
        ]  # fmt: skip
        env = dict(os.environ)
        env.update(
            {
                "EXAUDIT_AUDIT_PASSWORD": lab.auditor_password,
                "EXAUDIT_SERVICE_PASSWORD": lab.service_password,
                "PYTHONPATH": str(REPO),
                "EXAUDIT_TEST_HWM_FILE": str(hwm_file),
            }
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            start = time.monotonic()
            child = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=REPO)
            _pid, status, _usage = os.wait4(child.pid, 0)
            seconds = time.monotonic() - start
            child.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        message = case.message.format(other_port=hostile.other_port)
    try:
        peak = int(hwm_file.read_text(encoding="ascii")) / 1024.0
        hwm_file.unlink()
    except (OSError, ValueError):
        peak = float("inf")  # the child did not report: never a pass
    return Outcome(child.returncode, seconds, peak, stderr, stdout, out_dir, message)
