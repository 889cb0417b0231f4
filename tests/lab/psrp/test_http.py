"""The lab's HTTP layer: authentication, keep-alive, TLS, faults and hostile input, over real loopback sockets."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pypsrp.wsman import _TransportHTTP
from requests_ntlm import HttpNtlmAuth

from audit.lab.http import FaultAction, LabHTTPServer, LabRequest, LabResponse, Route

ACCOUNTS = {"reader": "Reader-Pass-1", "svc": "Svc-Pass-2"}


class Recorder:
    """Echo handler that remembers what it saw."""

    def __init__(self) -> None:
        self.requests: list[LabRequest] = []

    def __call__(self, req: LabRequest) -> LabResponse:
        self.requests.append(req)
        return LabResponse(body=b"<echo user='" + (req.user or "").encode() + b"'>" + req.body + b"</echo>")


def _boom(req: LabRequest) -> LabResponse:
    raise RuntimeError("handler bug")


@pytest.fixture
def accounts() -> dict[str, str]:
    return dict(ACCOUNTS)


@pytest.fixture
def faults() -> dict[str, FaultAction]:
    return {}


@pytest.fixture
def server(accounts: dict[str, str], faults: dict[str, FaultAction]) -> Iterator[tuple[LabHTTPServer, Recorder]]:
    recorder = Recorder()

    def hook(req: LabRequest) -> FaultAction | None:
        return faults.get(req.path.lower())

    routes = {
        "/PowerShell": Route(recorder, ("Negotiate", "Basic")),
        "/EWS": Route(recorder, ("NTLM", "Basic")),
        "/boom": Route(_boom, ("Basic",)),
        "/open": Route(recorder, ()),
    }
    srv = LabHTTPServer(routes, lambda: accounts, hook).start()
    try:
        yield srv, recorder
    finally:
        srv.stop()


def _url(srv: LabHTTPServer, path: str) -> str:
    return srv.base_url + path


def test_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        LabHTTPServer({}, dict, host="0.0.0.0")


def test_basic_in_every_account_form(server: tuple[LabHTTPServer, Recorder]) -> None:
    srv, rec = server
    for login in ("reader", "READER", "CONTOSO\\reader", "reader@contoso.com"):
        r = requests.post(_url(srv, "/PowerShell"), data=b"x", auth=(login, ACCOUNTS["reader"]), timeout=10)
        assert r.status_code == 200, login
        assert r.headers["Content-Length"] == str(len(r.content))
    assert {q.user for q in rec.requests} == {"reader"}
    assert {q.auth_scheme for q in rec.requests} == {"Basic"}


def test_wrong_password_or_unknown_domain_is_401_with_schemes(server: tuple[LabHTTPServer, Recorder]) -> None:
    srv, rec = server
    for login, password in (("reader", "nope"), ("FABRIKAM\\reader", ACCOUNTS["reader"]), ("ghost", "x")):
        r = requests.post(_url(srv, "/PowerShell"), data=b"x", auth=(login, password), timeout=10)
        assert r.status_code == 401
        assert r.headers["Content-Length"] == "0"
        assert r.headers["WWW-Authenticate"] == 'Negotiate, Basic realm="127.0.0.1"'
    r = requests.post(_url(srv, "/EWS/Exchange.asmx"), data=b"x", timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'NTLM, Basic realm="127.0.0.1"'
    assert rec.requests == []


def test_password_change_takes_effect_at_once(server: tuple[LabHTTPServer, Recorder], accounts: dict[str, str]) -> None:
    srv, _ = server
    accounts["reader"] = "Rotated-Pass-3"
    r = requests.post(_url(srv, "/PowerShell"), data=b"x", auth=("reader", ACCOUNTS["reader"]), timeout=10)
    assert r.status_code == 401
    r = requests.post(_url(srv, "/EWS"), data=b"x", auth=HttpNtlmAuth("CONTOSO\\reader", "Rotated-Pass-3"), timeout=10)
    assert r.status_code == 200
    r = requests.post(
        _url(srv, "/EWS"), data=b"x", auth=HttpNtlmAuth("CONTOSO\\reader", ACCOUNTS["reader"]), timeout=10
    )
    assert r.status_code == 401


def test_keep_alive_and_connection_bound_ntlm(server: tuple[LabHTTPServer, Recorder]) -> None:
    srv, rec = server
    with requests.Session() as session:
        session.auth = HttpNtlmAuth("CONTOSO\\svc", ACCOUNTS["svc"])
        for _ in range(3):
            assert session.post(_url(srv, "/ews/exchange.asmx"), data=b"y", timeout=10).status_code == 200
        # IIS binds NTLM to the connection: a request without Authorization on it is still that user.
        session.auth = None
        r = session.post(_url(srv, "/EWS/Exchange.asmx"), data=b"z", timeout=10)
        assert r.status_code == 200
    assert [q.user for q in rec.requests] == ["svc"] * 4
    assert len({q.connection_id for q in rec.requests}) == 1
    assert [q.auth_scheme for q in rec.requests] == ["NTLM"] * 4


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_winrm_message_encryption_round_trip(server: tuple[LabHTTPServer, Recorder], auth: str) -> None:
    srv, rec = server
    transport = _TransportHTTP(
        "127.0.0.1", srv.port, "reader@contoso.com", ACCOUNTS["reader"], ssl=False, path="PowerShell", auth=auth
    )
    try:
        for i in range(3):
            body = b"<env n='%d'>" % i + "é".encode() * 100 + b"</env>"
            assert transport.send(body) == b"<echo user='reader'>" + body + b"</echo>"
    finally:
        transport.close()
    # The handler saw plaintext, the wire carried multipart/encrypted.
    assert rec.requests[0].body.startswith(b"<env n='0'>")
    assert rec.requests[0].headers["Content-Type"].startswith("multipart/encrypted;")


def test_tls_with_generated_ca_and_refused_without() -> None:
    rec = Recorder()
    with LabHTTPServer({"/PowerShell": Route(rec, ("Negotiate", "Basic"))}, lambda: ACCOUNTS, tls=True) as srv:
        assert srv.base_url.startswith("https://127.0.0.1:")
        assert srv.ca_path is not None
        r = requests.post(
            _url(srv, "/PowerShell"),
            data=b"x",
            auth=("reader", ACCOUNTS["reader"]),
            verify=str(srv.ca_path),
            timeout=10,
        )
        assert r.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.post(_url(srv, "/PowerShell"), data=b"x", auth=("reader", ACCOUNTS["reader"]), timeout=10)
        # NTLM over HTTPS binds the TLS channel (CBT) as IIS Extended Protection checks, and still works.
        transport = _TransportHTTP(
            "127.0.0.1",
            srv.port,
            "reader",
            ACCOUNTS["reader"],
            ssl=True,
            path="PowerShell",
            auth="ntlm",
            cert_validation=str(srv.ca_path),
        )
        try:
            assert transport.send(b"<tls/>") == b"<echo user='reader'><tls/></echo>"
        finally:
            transport.close()
        ca = srv.ca_path
    assert not ca.exists()


def test_routes_match_case_insensitively_on_segments(server: tuple[LabHTTPServer, Recorder]) -> None:
    srv, rec = server
    auth = ("reader", ACCOUNTS["reader"])
    assert requests.post(_url(srv, "/powershell?serializationLevel=Full"), data=b"", auth=auth, timeout=10).ok
    assert rec.requests[-1].query == {"serializationLevel": "Full"}
    assert requests.post(_url(srv, "/PowerShellX"), data=b"", auth=auth, timeout=10).status_code == 404
    assert requests.get(_url(srv, "/open"), timeout=10).status_code == 200


def test_handler_exception_is_a_500_fault_and_server_lives(server: tuple[LabHTTPServer, Recorder]) -> None:
    srv, _ = server
    r = requests.post(_url(srv, "/boom"), data=b"x", auth=("reader", ACCOUNTS["reader"]), timeout=10)
    assert r.status_code == 500
    assert b"w:InternalError" in r.content
    assert requests.get(_url(srv, "/open"), timeout=10).status_code == 200


def _raw(srv: LabHTTPServer, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\xff garbage\r\n\r\n",
        b"POST /PowerShell HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /PowerShell HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        b"POST /PowerShell HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
        b"POST /PowerShell HTTP/1.1\r\nAuthorization: Negotiate !!!notbase64\r\nContent-Length: 0\r\n\r\n",
        b"POST /PowerShell HTTP/1.1\r\nAuthorization: Negotiate "
        + base64.b64encode(b"NTLMSSP\x00\x03junk")
        + b"\r\n\r\n",
        b"POST /PowerShell HTTP/1.1\r\nAuthorization: Basic " + base64.b64encode(b"nocolon") + b"\r\n\r\n",
        b"POST /EWS HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /" + b"A" * 70000 + b" HTTP/1.1\r\n\r\n",
    ],
)
def test_garbage_never_crashes_the_server(server: tuple[LabHTTPServer, Recorder], payload: bytes) -> None:
    srv, _ = server
    reply = _raw(srv, payload)
    assert reply == b"" or reply.startswith(b"HTTP/1.")
    assert requests.get(_url(srv, "/open"), timeout=10).status_code == 200


def test_fault_actions(server: tuple[LabHTTPServer, Recorder], faults: dict[str, FaultAction]) -> None:
    srv, rec = server
    auth = ("reader", ACCOUNTS["reader"])
    faults["/powershell"] = FaultAction("status", status=503, body=b"busy")
    r = requests.post(_url(srv, "/PowerShell"), data=b"x", auth=auth, timeout=10)
    assert (r.status_code, r.content) == (503, b"busy")
    faults["/powershell"] = FaultAction("drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(_url(srv, "/PowerShell"), data=b"x", auth=auth, timeout=10)
    faults["/powershell"] = FaultAction("malformed")
    r = requests.post(_url(srv, "/PowerShell"), data=b"<abc>" * 10, auth=auth, timeout=10)
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert b"\x00" in r.content
    faults["/powershell"] = FaultAction("delay", delay_seconds=0.01)
    assert requests.post(_url(srv, "/PowerShell"), data=b"d", auth=auth, timeout=10).content.endswith(b"d</echo>")
    assert rec.requests[-1].body == b"d"


def test_hang_ends_when_the_server_stops(accounts: dict[str, str]) -> None:
    rec = Recorder()
    srv = LabHTTPServer({"/x": Route(rec, ())}, lambda: accounts, lambda r: FaultAction("hang")).start()
    outcome: dict[str, Any] = {}

    def client() -> None:
        try:
            requests.get(_url(srv, "/x"), timeout=30)
        except requests.exceptions.RequestException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=client)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive()  # headers arrived, the promised body never does
    srv.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), requests.exceptions.RequestException)


def test_tls_handshake_garbage_does_not_block_other_clients() -> None:
    rec = Recorder()
    with LabHTTPServer({"/open": Route(rec, ())}, lambda: ACCOUNTS, tls=True) as srv:
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=10)  # never says hello
        try:
            ctx = ssl.create_default_context(cafile=str(srv.ca_path))
            assert requests.get(_url(srv, "/open"), verify=str(srv.ca_path), timeout=10).status_code == 200
            assert ctx.verify_mode == ssl.CERT_REQUIRED
        finally:
            idle.close()
