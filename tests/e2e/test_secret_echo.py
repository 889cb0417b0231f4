"""A server that echoes the credentials back: no password reaches any output, in any form it can take.

A misconfigured proxy or a debugging page can reflect the request's Authorization header (Basic: base64 of
user:password) or the password itself into an error body. pypsrp and exchangelib then put that body into the
exception text, which exaudit turns into an error message. The lab's fault hook is replaced by one that echoes
the credential of the request (Basic header, decoded user:password, DOMAIN\\user:password, the bare password) in
the error body each library reads: a WSMan fault, a plain HTTP 500 page, an EWS SOAP fault and an EWS
ResponseMessage error. Then stdout, stderr, every report, the snapshot and every log record are searched for
the password, base64 of user:password (with the user as typed and as DOMAIN\\user) and the Authorization value.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from audit.lab.faults import route_of
from audit.lab.http import FaultAction, LabRequest
from audit.lab.server import LabCredentials, LabServer

from .conftest import CliRun, run_cli

pytestmark = [
    pytest.mark.e2e,
    # pypsrp's NTLM auth handler leaves the socket of a refused exchange to the garbage collector (see test_faults).
    pytest.mark.filterwarnings(r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"),
]

Body = Callable[[str], bytes]


def _wsman_fault(text: str) -> bytes:
    # The shape of a WinRM fault (MS-WSMV 2.2.4.43 WSManFaultType): pypsrp reads the Reason and the WSManFault.
    t = escape(text)
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"><s:Body><s:Fault>'
        "<s:Code><s:Value>s:Receiver</s:Value></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{t}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault Code="2150858843" Machine="ex01"><f:Message>{t}</f:Message></f:WSManFault>'
        "</s:Detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


def _iis_page(text: str) -> bytes:
    return f"<html><body><h2>500 - Internal server error.</h2><pre>{escape(text)}</pre></body></html>".encode()


def _plain_text(text: str) -> bytes:
    # Not XML: pypsrp cannot read a WSMan fault from it and raises WinRMTransportError with the body as its text.
    # (An HTML page parses as XML and yields an empty fault, so the echo would never reach the message.)
    return f"Server Error in '/PowerShell' Application.\r\n{text}\r\n".encode()


_EWS_HEADER = (
    '<s:Header><h:ServerVersionInfo xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" '
    'MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11"/>'
    "</s:Header>"
)


def _ews_soap_fault(text: str) -> bytes:
    t = escape(text)
    return (
        '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        f"{_EWS_HEADER}<s:Body><s:Fault>"
        '<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorInternalServerError'
        f'</faultcode><faultstring xml:lang="en-US">{t}</faultstring><detail>'
        '<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
        "ErrorInternalServerError</e:ResponseCode>"
        f'<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{t}</e:Message>'
        "</detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


def _ews_denied(text: str) -> bytes:
    # A well-formed GetFolder answer whose ResponseMessage is ErrorImpersonateUserDenied with the echo as its text.
    ns = (
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        f"{_EWS_HEADER}<s:Body><m:GetFolderResponse {ns}><m:ResponseMessages>"
        '<m:GetFolderResponseMessage ResponseClass="Error">'
        f"<m:MessageText>{escape(text)}</m:MessageText>"
        "<m:ResponseCode>ErrorImpersonateUserDenied</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        "<m:Folders/></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"
    ).encode()


def _forms(creds: LabCredentials) -> list[str]:
    """Every form of each password that must never be printed or written."""
    forms: list[str] = []
    for user, password in (
        (creds.auditor_username, creds.auditor_password),
        (creds.service_username, creds.service_password),
    ):
        forms.append(password)
        for name in (user, f"{creds.domain}\\{user.split('@')[0]}", user.split("@")[0]):
            forms.append(base64.b64encode(f"{name}:{password}".encode()).decode())
    return forms


def _echo(lab: LabServer, route: str, status: int, body: Body) -> Callable[[LabRequest], FaultAction | None]:
    creds = lab.credentials

    def hook(request: LabRequest) -> FaultAction | None:
        if route_of(request.path) != route:
            return None
        header = request.headers.get("Authorization", "")
        decoded = ""
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:]).decode("utf-8", "replace")
        user, password = (
            (creds.auditor_username, creds.auditor_password)
            if route == "powershell"
            else (creds.service_username, creds.service_password)
        )
        short = user.split("@")[0]
        text = (
            f"request rejected; Authorization: {header} (decoded {decoded}); configured credential "
            f"{creds.domain}\\{short}:{password} password={password}"
        )
        return FaultAction(kind="status", status=status, body=body(text))

    return hook


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    # What a user running with logging on would see: exaudit's records at every level, the libraries' from INFO.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="audit")
    return caplog


def _run_echoing(tmp_path: Path, auth: str, route: str, status: int, body: Body) -> tuple[CliRun, list[str]]:
    # Basic is offered only over TLS (exaudit refuses Basic over http, as it should), so the Basic cases run on https.
    lab = LabServer("compliant", tls=auth == "basic", basic=auth == "basic")
    lab.faults.hook = _echo(lab, route, status, body)  # type: ignore[method-assign]  # before start: the server binds it
    with lab:
        run = run_cli(lab, tmp_path, auth=auth)
        forms = _forms(lab.credentials)
    return run, forms


def _assert_masked(run: CliRun, forms: list[str], logs: pytest.LogCaptureFixture, auth: str) -> None:
    outputs = {"stdout": run.stdout, "stderr": run.stderr}
    for path in run.written_files():
        outputs[str(path.relative_to(run.out_dir))] = path.read_text(encoding="utf-8", errors="replace")
    for record in logs.records:
        outputs[f"log record of {record.name}"] = record.getMessage()
    for where, text in outputs.items():
        for form in forms:
            assert form not in text, f"a credential form reached {where}"
    # The echo itself is still reported, masked rather than dropped: the test did put the password in the error.
    everything = "".join(outputs.values())
    assert "password=********" in everything
    if auth == "basic":
        assert "Authorization: Basic ********" in everything


PSRP_BODIES = {"wsman-fault": _wsman_fault, "plain-text": _plain_text}
EWS_BODIES = {"soap-fault": (500, _ews_soap_fault), "iis-page": (500, _iis_page), "denied-text": (200, _ews_denied)}


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
@pytest.mark.parametrize("shape", list(PSRP_BODIES))
def test_powershell_error_echoing_the_credential_is_masked(
    tmp_path: Path, logs: pytest.LogCaptureFixture, auth: str, shape: str
) -> None:
    run, forms = _run_echoing(tmp_path, auth, "powershell", 500, PSRP_BODIES[shape])
    assert run.code == 3, run.stderr
    assert ("WSMan fault" if shape == "wsman-fault" else "WinRM error") in run.stderr
    _assert_masked(run, forms, logs, auth)


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
@pytest.mark.parametrize("shape", list(EWS_BODIES))
def test_ews_error_echoing_the_credential_is_masked(
    tmp_path: Path, logs: pytest.LogCaptureFixture, auth: str, shape: str
) -> None:
    status, body = EWS_BODIES[shape]
    run, forms = _run_echoing(tmp_path, auth, "ews", status, body)
    assert run.code in (1, 3), run.stderr
    assert run.statuses()["EXA050"] != "PASS"
    _assert_masked(run, forms, logs, auth)
