"""The lab's HTTP/1.1 server: loopback only, keep-alive, Basic/NTLM/Negotiate, WinRM message encryption, TLS."""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import hashlib
import hmac
import ipaddress
import itertools
import logging
import os
import re
import socket
import ssl
import struct
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, cast

import spnego
import spnego.channel_bindings
import spnego.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from audit.lab.kerberos import KERBEROS_ONLY, KerberosAcceptor, LogonLog, token_user

log = logging.getLogger(__name__)

__all__ = [
    "FaultAction",
    "FaultHook",
    "Handler",
    "Headers",
    "LabHTTPServer",
    "LabRequest",
    "LabResponse",
    "Route",
]

MAX_BODY_BYTES = 64 * 1024 * 1024
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
SPNEGO_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
_BOUNDARY = b"--Encrypted Boundary"
_CONNECTION_SCHEMES = ("negotiate", "ntlm")


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive HTTP header mapping (the last value wins for repeated names)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Sequence[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: dict[str, tuple[str, str]] = {k.lower(): (k, v) for k, v in pairs}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        shown = {n: ("<redacted>" if n.lower() == "authorization" else v) for n, v in self._items.values()}
        return f"Headers({shown!r})"


@dataclass(frozen=True, slots=True)
class LabRequest:
    """One authenticated HTTP request as a handler sees it (body already decrypted)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Headers
    body: bytes
    user: str | None
    auth_scheme: str | None
    connection_id: int
    client_address: tuple[str, int]


@dataclass(frozen=True, slots=True)
class LabResponse:
    """What a handler answers; the server adds Content-Length and wraps it when the request was encrypted."""

    status: int = 200
    body: bytes = b""
    content_type: str = SOAP_CONTENT_TYPE
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[LabRequest], LabResponse]


@dataclass(frozen=True, slots=True)
class Route:
    """A handler with the authentication schemes its path accepts.

    IIS-style names: Basic, NTLM, Negotiate (Kerberos or NTLM) and ``Negotiate:Kerberos`` (the Negotiate header,
    Kerberos only: Exchange's /PowerShell default). ``require_encryption``: over http, a request body after a
    Negotiate/NTLM logon must be WinRM-encrypted (WinRM's AllowUnencrypted=false, its default).
    """

    handler: Handler
    auth_schemes: tuple[str, ...] = ("Basic",)
    require_encryption: bool = False


@dataclass(frozen=True, slots=True)
class FaultAction:
    """A misbehaviour the server performs instead of (or before) answering normally."""

    kind: Literal["delay", "drop", "status", "hang", "malformed"]
    delay_seconds: float = 0.0
    status: int = 500
    body: bytes = b""


FaultHook = Callable[[LabRequest], "FaultAction | None"]


def _split_account(name: str) -> tuple[str | None, str]:
    r"""Split DOMAIN\user or user@domain into (domain, user)."""
    if "\\" in name:
        domain, _, user = name.partition("\\")
        return domain, user
    if "@" in name:
        user, _, domain = name.rpartition("@")
        return domain, user
    return None, name


class _NtlmStore:
    """The process-wide NTLM_USER_FILE that pyspnego's acceptor reads, shared by every running lab server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[int, Callable[[], list[str]]] = {}
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._content = ""
        self._previous_env: str | None = None

    def register(self, key: int, lines: Callable[[], list[str]]) -> None:
        with self._lock:
            if self._dir is None:
                self._dir = tempfile.TemporaryDirectory(prefix="exaudit-ntlm-")
                self._previous_env = os.environ.get("NTLM_USER_FILE")
                os.environ["NTLM_USER_FILE"] = str(Path(self._dir.name) / "users")
                self._content = ""
            self._sources[key] = lines
        self.refresh()

    def unregister(self, key: int) -> None:
        with self._lock:
            self._sources.pop(key, None)
            if self._sources or self._dir is None:
                return
            if self._previous_env is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = self._previous_env
            self._dir.cleanup()
            self._dir = None

    def refresh(self) -> None:
        """Rewrite the file when any server's accounts changed (so a password change takes effect at once)."""
        with self._lock:
            if self._dir is None:
                return
            lines: list[str] = []
            for source in self._sources.values():
                lines.extend(source())
            self._write(lines)

    def step(self, key: int, context: Any, token: bytes) -> bytes | None:
        """Run one acceptor step with the file holding only server ``key``'s accounts.

        pyspnego reads NTLM_USER_FILE while it processes the AUTHENTICATE message, and takes the first line that
        matches the user. Two labs in one process (a test with two scenarios, `exaudit demo` beside a test lab)
        both hold svcServiceAccount with different generated passwords, so a union of their accounts would
        authenticate against the wrong one. Steps are serialized under the lock; each is a few milliseconds and
        happens once per connection (authentication is connection-bound).
        """
        with self._lock:
            source = self._sources.get(key)
            if self._dir is not None and source is not None:
                self._write(source())
            out: bytes | None = context.step(token)
            return out

    def _write(self, lines: list[str]) -> None:
        assert self._dir is not None
        content = "\n".join(dict.fromkeys(lines)) + "\n"
        if content == self._content:
            return
        path = Path(self._dir.name) / "users"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        tmp.replace(path)
        self._content = content


_NTLM_STORE = _NtlmStore()
_SERVER_IDS = itertools.count(1)
_CONNECTION_IDS = itertools.count(1)


@dataclass(slots=True)
class _Connection:
    """Per-TCP-connection authentication state (IIS binds NTLM/Negotiate to the connection)."""

    connection_id: int
    context: Any = None
    scheme: str | None = None
    user: str | None = None


class _TLSMaterial:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost, written to a temp directory."""

    def __init__(self, directory: Path) -> None:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exaudit lab CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_path = directory / "lab-ca.pem"
        self.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        cert_path = directory / "server.pem"
        key_path = directory / "server.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert_path, key_path)
        # Channel binding token (RFC 5929 tls-server-end-point) that NTLM clients bind over HTTPS, as IIS's
        # Extended Protection checks.
        self.cbt = b"tls-server-end-point:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = False
    # socketserver's listen backlog is 5: 27 probes opening their connections at once overflowed it, and the
    # dropped handshakes came back as resets a second later. IIS listens with a far larger queue.
    request_queue_size = 128

    lab: LabHTTPServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"
    # Without this every reply pays the client's 40 ms delayed-ACK (headers and body leave as separate segments).
    disable_nagle_algorithm = True
    timeout = 300
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        lab = self.server.lab
        tls = lab.tls_material
        self._tls_socket: ssl.SSLSocket | None = None
        if tls is not None:
            raw = cast(socket.socket, self.request)
            raw.settimeout(10)
            try:
                self._tls_socket = tls.context.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                raw.close()
                raise
            self.request = self._tls_socket
        super().setup()
        self._conn = _Connection(next(_CONNECTION_IDS))
        lab.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.lab.track(self.connection, add=False)
            if self._tls_socket is not None:
                # socketserver closes the raw socket it accepted; the TLS wrapper owns the descriptor now.
                with contextlib.suppress(OSError):
                    self._tls_socket.close()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()  # Microsoft Graph (Update-MgUser) in the Exchange Online mode

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    # -- request processing ---------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            self._process()
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True
        except Exception:
            log.exception("lab HTTP server: unexpected error while serving %s %s", self.command, self.path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(500, b"", "text/plain")

    def _process(self) -> None:
        lab = self.server.lab
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path) or "/"
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        route = lab.route_for(path)
        body = self._read_body()
        if body is None:
            return
        if route is None:
            self._send(404, b"Not Found", "text/plain")
            return

        auth = self._authenticate(route, body)
        if auth is None:
            return
        user, scheme, final_token, just_completed = auth
        extra_headers: list[tuple[str, str]] = []
        if final_token is not None:
            extra_headers.append(("WWW-Authenticate", f"{scheme} {base64.b64encode(final_token).decode()}"))

        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.lower().startswith("multipart/encrypted")
        if encrypted:
            if self._conn.context is None or not self._conn.context.complete:
                self._send(400, b"", "text/plain")
                return
            try:
                body = _unwrap_winrm(self._conn.context, body)
            except Exception:
                log.debug("could not decrypt a WinRM message", exc_info=True)
                self._send(400, b"", "text/plain", extra_headers)
                return

        if just_completed and not body:
            # pypsrp's empty POST that only builds the security context: WinRM answers 200 with no body.
            self._send(200, b"", "text/plain", extra_headers)
            return
        if (
            route.require_encryption
            and body
            and not encrypted
            and lab.tls_material is None
            and (scheme or "").partition(":")[0].lower() in _CONNECTION_SCHEMES
        ):
            # WinRM's default AllowUnencrypted=false: after a logon that can seal messages, a plain-text payload
            # over http is refused (the client sees 401, as pywinrm users with message encryption off do).
            log.info("refused an unencrypted WinRM payload over http on connection %s", self._conn.connection_id)
            self._send(401, b"", "text/plain", extra_headers)
            return

        request = LabRequest(
            method=self.command,
            path=path,
            query=query,
            headers=Headers(list(self.headers.items())),
            body=body,
            user=user,
            auth_scheme=scheme,
            connection_id=self._conn.connection_id,
            client_address=(str(self.client_address[0]), int(self.client_address[1])),
        )
        fault = lab.fault_for(request)
        if fault is not None:
            if fault.kind == "delay":
                lab.sleep(fault.delay_seconds)
            elif fault.kind == "drop":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            elif fault.kind == "status":
                self._send(fault.status, fault.body, "text/plain", extra_headers)
                return
            elif fault.kind == "hang":
                self._hang()
                return

        response = lab.call(route, request)
        out_body = response.body
        if fault is not None and fault.kind == "malformed":
            out_body = _garble(out_body)
        headers = extra_headers + list(response.headers.items())
        if encrypted and self._conn.context is not None:
            out_body = _wrap_winrm(self._conn.context, out_body)
            out_type = f'multipart/encrypted;protocol="{SPNEGO_ENCRYPTED}";boundary="Encrypted Boundary"'
            self._send(response.status, out_body, out_type, headers)
        else:
            self._send(response.status, out_body, response.content_type, headers)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    self._send(400, b"bad chunk", "text/plain")
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    self.close_connection = True
                    self._send(413, b"", "text/plain")
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        raw_length = self.headers.get("Content-Length", "0") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(400, b"bad Content-Length", "text/plain")
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(413, b"", "text/plain")
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            self.close_connection = True
            return None
        return body

    def _authenticate(self, route: Route, body: bytes) -> tuple[str | None, str | None, bytes | None, bool] | None:
        """Return (user, scheme, final server token, handshake completed now) or None when a reply was sent."""
        lab = self.server.lab
        allowed = {s.partition(":")[0].lower(): s for s in route.auth_schemes}
        if not allowed:
            return None, None, None, False
        header = self.headers.get("Authorization", "")
        scheme_raw, _, credentials = header.strip().partition(" ")
        scheme = scheme_raw.lower()
        if not header:
            if self._conn.user is not None and self._conn.scheme in allowed:
                return self._conn.user, allowed[self._conn.scheme].partition(":")[0], None, False
            self._unauthorized(route)
            return None
        if scheme not in allowed:
            self._unauthorized(route)
            return None
        if scheme == "basic":
            user = lab.check_basic(credentials.strip())
            lab.logons.record(
                self._path(), "Basic", "basic", _basic_name(credentials), user, ok=user is not None, reason="password"
            )
            if user is None:
                self._unauthorized(route)
                return None
            return user, allowed[scheme], None, False
        if scheme in _CONNECTION_SCHEMES:
            return self._step_spnego(route, allowed[scheme], credentials.strip())
        self._unauthorized(route)
        return None

    def _path(self) -> str:
        return urllib.parse.unquote(urllib.parse.urlsplit(self.path).path) or "/"

    def _step_spnego(self, route: Route, config: str, credentials: str) -> tuple[str, str, bytes | None, bool] | None:
        lab = self.server.lab
        scheme = config.partition(":")[0]  # the header's scheme name: Negotiate or NTLM
        try:
            token = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            self._reset_context()
            self._unauthorized(route)
            return None
        conn = self._conn
        if conn.context is None or conn.context.complete or conn.scheme != scheme.lower():
            lab.refresh_ntlm()
            try:
                conn.context = lab.acceptor(config)
            except Exception as exc:  # no realm for a Kerberos-only route, or an unusable keytab
                log.warning("cannot accept %s: %s", config, exc)
                self._reset_context()
                self._unauthorized(route)
                return None
            conn.scheme = scheme.lower()
            conn.user = None
        mechanism = "ntlm" if token.startswith(b"NTLMSSP\x00") or scheme.lower() == "ntlm" else "negotiate"
        try:
            out_token = lab.ntlm_step(conn.context, token)
        except Exception as exc:  # SpnegoError and any parsing failure of a hostile token
            mechanism = _mechanism(conn.context, mechanism)
            refused_ntlm = config == KERBEROS_ONLY and (mechanism == "ntlm" or b"NTLMSSP" in token)
            lab.logons.record(
                self._path(),
                scheme,
                "ntlm" if refused_ntlm else mechanism,
                token_user(token),
                None,
                ok=False,
                reason="Kerberos only" if refused_ntlm else type(exc).__name__,
            )
            self._reset_context()
            self._unauthorized(route)
            return None
        if not conn.context.complete:
            header = f"{scheme} {base64.b64encode(out_token).decode()}" if out_token else scheme
            self._send(401, b"", "text/plain", [("WWW-Authenticate", header)])
            return None
        principal = conn.context.client_principal or ""
        mechanism = _mechanism(conn.context, mechanism)
        if config == KERBEROS_ONLY and mechanism != "kerberos":
            # IIS with only the Kerberos provider: an NTLM logon is refused.
            lab.logons.record(self._path(), scheme, mechanism, principal, None, ok=False, reason="Kerberos only")
            self._reset_context()
            self._unauthorized(route)
            return None
        user = lab.account_for_principal(principal)
        lab.logons.record(
            self._path(), scheme, mechanism, principal, user, ok=user is not None, reason="" if user else "no account"
        )
        if user is None:
            self._reset_context()
            self._unauthorized(route)
            return None
        conn.user = user
        return user, scheme, out_token, True

    def _reset_context(self) -> None:
        self._conn.context = None
        self._conn.scheme = None
        self._conn.user = None

    def _unauthorized(self, route: Route) -> None:
        offered = dict.fromkeys(s.partition(":")[0] for s in route.auth_schemes)
        headers = [("WWW-Authenticate", s if s.lower() != "basic" else 'Basic realm="127.0.0.1"') for s in offered]
        self._send(401, b"", "text/plain", headers)

    def _hang(self) -> None:
        """Start a reply that promises a body and never delivers it, until the server stops.

        The promised length (1 MiB) stays below every client's reply bound, so that the client waits (a hang), rather
        than refusing the reply at once for its announced size.
        """
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", SOAP_CONTENT_TYPE)
        self.send_header("Content-Length", str(1024 * 1024))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>')
            self.wfile.flush()
        self.server.lab.wait_until_stopped()

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            if name.lower() not in ("content-length", "content-type"):
                self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()


def _wrap_winrm(context: Any, plaintext: bytes) -> bytes:
    result = context.wrap_winrm(plaintext)
    header = cast(bytes, result.header)
    data = cast(bytes, result.data)
    length = len(plaintext) + int(result.padding_length)
    return b"".join(
        [
            _BOUNDARY,
            b"\r\n\tContent-Type: " + SPNEGO_ENCRYPTED.encode(),
            b"\r\n\tOriginalContent: type=" + SOAP_CONTENT_TYPE.encode() + b";Length=" + str(length).encode(),
            b"\r\n",
            _BOUNDARY,
            b"\r\n\tContent-Type: application/octet-stream\r\n",
            struct.pack("<i", len(header)),
            header,
            data,
            _BOUNDARY,
            b"--\r\n",
        ]
    )


_PART_SPLIT = re.compile(rb"--\s*Encrypted Boundary(?:--)?\r\n")


def _unwrap_winrm(context: Any, payload: bytes) -> bytes:
    """Decrypt a multipart/encrypted WinRM body (one or more parts)."""
    parts = [p for p in _PART_SPLIT.split(payload) if p]
    if len(parts) < 2 or len(parts) % 2:
        raise ValueError("not a WinRM encrypted message")
    plaintext = bytearray()
    for index in range(0, len(parts), 2):
        meta, blob = parts[index], parts[index + 1]
        match = re.search(rb"Length=(\d+)", meta)
        if match is None:
            raise ValueError("missing OriginalContent length")
        expected = int(match.group(1))
        blob = blob.removeprefix(b"\tContent-Type: application/octet-stream\r\n")
        if len(blob) < 4:
            raise ValueError("truncated encrypted part")
        header_length = struct.unpack("<i", blob[:4])[0]
        if header_length < 0 or 4 + header_length > len(blob):
            raise ValueError("bad encrypted header length")
        data = cast(bytes, context.unwrap_winrm(blob[4 : 4 + header_length], blob[4 + header_length :]))
        if len(data) != expected:
            raise ValueError("decrypted length does not match OriginalContent")
        plaintext += data
    return bytes(plaintext)


def _garble(body: bytes) -> bytes:
    """Truncate a reply mid-element and add bytes no XML parser accepts."""
    if not body:
        body = b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
    return body[: max(1, len(body) // 2)] + b"<\x00&#xFFFF;"


class LabHTTPServer:
    r"""Threaded HTTP/1.1 server on 127.0.0.1 that authenticates, decrypts, injects faults and routes to handlers.

    Args:
        routes: path prefix (matched case-insensitively, on whole segments) -> Route.
        accounts: returns username -> password; consulted on every authentication.
        fault_hook: decides a FaultAction for an authenticated request, before the handler runs.
        port: 0 for an ephemeral port.
        tls: serve HTTPS with a certificate issued by a CA generated at start (see ``ca_path``).
        domains: NetBIOS and DNS domain names accepted in DOMAIN\user and user@domain forms.
    """

    def __init__(
        self,
        routes: Mapping[str, Route],
        accounts: Callable[[], Mapping[str, str]],
        fault_hook: FaultHook | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        domains: Sequence[str] = ("CONTOSO", "contoso.com"),
        kerberos: KerberosAcceptor | None = None,
    ) -> None:
        if host != "127.0.0.1":
            raise ValueError("the lab binds 127.0.0.1 only")
        self._routes = sorted(
            ((prefix.rstrip("/").lower() or "/", route) for prefix, route in routes.items()),
            key=lambda item: len(item[0]),
            reverse=True,
        )
        self._accounts = accounts
        self._fault_hook = fault_hook
        self._host = host
        self._requested_port = port
        self._tls = tls
        self._domains = tuple(domains)
        self._stopped = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self.tls_material: _TLSMaterial | None = None
        self._id = next(_SERVER_IDS)
        self.kerberos = kerberos
        self.logons = LogonLog()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> LabHTTPServer:
        """Bind, generate TLS material if asked, and serve in a background thread."""
        if self._httpd is not None:
            return self
        self._stopped.clear()
        if self._tls:
            self._tempdir = tempfile.TemporaryDirectory(prefix="exaudit-lab-tls-")
            self.tls_material = _TLSMaterial(Path(self._tempdir.name))
        httpd = _Server((self._host, self._requested_port), _RequestHandler)
        httpd.lab = self
        self._httpd = httpd
        _NTLM_STORE.register(self._id, self._ntlm_lines)
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name=f"lab-http-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end hanging replies and close every open connection."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stopped.set()
        httpd.shutdown()
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        # Handlers that hold waiters (the WSMan endpoint's Receive long-polls) are told to let them go.
        for _, route in self._routes:
            closer = getattr(route.handler, "close", None)
            if callable(closer):
                try:
                    closer()
                except Exception:
                    log.exception("closing a route handler failed")
        if self._thread is not None:
            self._thread.join(timeout=5)
        _NTLM_STORE.unregister(self._id)
        self._httpd = None
        self._thread = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> LabHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def scheme(self) -> str:
        """'https' when TLS is on, else 'http'."""
        return "https" if self._tls else "http"

    @property
    def base_url(self) -> str:
        """scheme://127.0.0.1:port."""
        return f"{self.scheme}://{self._host}:{self.port}"

    @property
    def ca_path(self) -> Path | None:
        """PEM file of the generated CA (for clients' CA bundles), or None without TLS."""
        return self.tls_material.ca_path if self.tls_material else None

    @property
    def stopped(self) -> bool:
        """True once stop() has begun."""
        return self._stopped.is_set()

    # -- used by request handlers ----------------------------------------------------------------------------

    def route_for(self, path: str) -> Route | None:
        """Longest route prefix matching the path on a segment boundary, case-insensitively (like IIS)."""
        lowered = path.lower()
        for prefix, route in self._routes:
            if prefix in ("/", lowered) or lowered.startswith(prefix + "/"):
                return route
        return None

    def track(self, sock: socket.socket, *, add: bool) -> None:
        """Remember open connections so stop() can close them."""
        with self._connections_lock:
            if add:
                self._connections.add(sock)
            else:
                self._connections.discard(sock)

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early when the server stops."""
        self._stopped.wait(max(0.0, seconds))

    def wait_until_stopped(self) -> None:
        """Block until stop()."""
        self._stopped.wait()

    def fault_for(self, request: LabRequest) -> FaultAction | None:
        """Ask the fault hook; a failing hook never breaks the server."""
        if self._fault_hook is None:
            return None
        try:
            return self._fault_hook(request)
        except Exception:
            log.exception("fault hook failed")
            return None

    def call(self, route: Route, request: LabRequest) -> LabResponse:
        """Run a handler; any exception becomes a 500 with a SOAP fault body."""
        try:
            return route.handler(request)
        except Exception:
            log.exception("handler for %s failed", request.path)
            return LabResponse(status=500, body=_internal_fault(), content_type=SOAP_CONTENT_TYPE)

    def channel_bindings(self) -> spnego.channel_bindings.GssChannelBindings | None:
        """The TLS channel bindings NTLM must carry over HTTPS."""
        if self.tls_material is None:
            return None
        return spnego.channel_bindings.GssChannelBindings(application_data=self.tls_material.cbt)

    def _lookup(self, name: str) -> tuple[str, str] | None:
        domain, user = _split_account(name)
        if domain is not None and domain.lower() not in {d.lower() for d in self._domains}:
            return None
        wanted = user.lower()
        for account, password in self._accounts().items():
            if _split_account(account)[1].lower() == wanted:
                return account, password
        return None

    def check_basic(self, credentials: str) -> str | None:
        """Verify a Basic credential against the current accounts; returns the account name."""
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        name, sep, password = decoded.partition(":")
        if not sep:
            return None
        found = self._lookup(name)
        if found is None:
            return None
        if not hmac.compare_digest(found[1].encode(), password.encode()):
            return None
        return found[0]

    def account_for_principal(self, principal: str) -> str | None:
        r"""Map the NTLM principal (DOMAIN\user) to one of this server's accounts."""
        found = self._lookup(principal)
        return found[0] if found else None

    def acceptor(self, config: str) -> Any:
        """A new acceptor context for a route's scheme: NTLM, Negotiate, or Negotiate:Kerberos (needs a keytab)."""
        if config.lower() == "ntlm":
            return spnego.server(protocol="ntlm", channel_bindings=self.channel_bindings())
        if self.kerberos is not None:
            protocol = "kerberos" if config == KERBEROS_ONLY else "negotiate"
            return self.kerberos.context(protocol, self.channel_bindings())
        if config == KERBEROS_ONLY:
            raise RuntimeError("a Kerberos-only route needs the lab's keytab")
        return spnego.server(protocol="negotiate", channel_bindings=self.channel_bindings())

    def ntlm_step(self, context: Any, token: bytes) -> bytes | None:
        """One NTLM/Negotiate acceptor step, authenticated against this server's accounts only."""
        return _NTLM_STORE.step(self._id, context, token)

    def refresh_ntlm(self) -> None:
        """Bring NTLM_USER_FILE in line with the accounts before a handshake."""
        _NTLM_STORE.refresh()

    def _ntlm_lines(self) -> list[str]:
        lines: list[str] = []
        for account, password in self._accounts().items():
            if any(c in account or c in password for c in ":\r\n"):
                continue  # the flat file cannot hold these; such an account can still use Basic
            user = _split_account(account)[1]
            lines.append(f":{user}:{password}")
            for domain in self._domains:
                lines.append(f"{domain}:{user}:{password}")
                if "." in domain:
                    lines.append(f":{user}@{domain}:{password}")
        return lines


def _basic_name(credentials: str) -> str | None:
    """The user name of a Basic credential (for the logon log; the password is never kept)."""
    try:
        return base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")[0] or None
    except (binascii.Error, ValueError):
        return None


def _mechanism(context: Any, fallback: str) -> str:
    """The mechanism a Negotiate context settled on (kerberos or ntlm)."""
    try:
        protocol = str(context.negotiated_protocol or "")
    except Exception:
        return fallback
    return protocol if protocol in ("kerberos", "ntlm") else fallback


def _internal_fault() -> bytes:
    """The SOAP fault WinRM returns for an internal error."""
    return (
        b'<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        b'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
        b"<a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action></s:Header><s:Body><s:Fault>"
        b"<s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:InternalError</s:Value></s:Subcode></s:Code>"
        b'<s:Reason><s:Text xml:lang="en-US">The WS-Management service cannot process the request. '
        b"An internal error occurred. </s:Text></s:Reason><s:Detail>"
        b'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858755" '
        b'Machine="127.0.0.1"><f:Message>An internal error occurred. </f:Message></f:WSManFault>'
        b"</s:Detail></s:Fault></s:Body></s:Envelope>"
    )
