"""The lab's WSMan replies held, operation by operation, against real WinRM exchanges (tests/data/winrm).

Structure is compared, not bytes: the set of element paths (namespace-qualified) with their attribute names,
the Action, RelatesTo = the request's MessageID, and for faults the subcode and the WSManFault code. GUIDs, ids,
timestamps and base64 payloads differ by nature and are not compared.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import requests
import yaml
from pypsrp.powershell import PowerShell, RunspacePool

from .conftest import WINRM_DATA, PSLab

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
IGNORED_ATTRIBUTES = {"{http://www.w3.org/XML/1998/namespace}lang"}
# Diagnostic header WinRM adds to some replies and not to others, even within one recording.
IGNORED_ELEMENTS = {"{http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd}ActivityId"}


def _messages(name: str) -> list[dict[str, str]]:
    doc = yaml.safe_load((WINRM_DATA / name).read_text(encoding="utf-8"))
    return [m for m in doc["messages"] if m.get("response")]


def _shape(xml: bytes | str) -> set[str]:
    root = ET.fromstring(xml)
    paths: set[str] = set()

    def walk(el: ET.Element, prefix: str) -> None:
        if el.tag in IGNORED_ELEMENTS:
            return
        path = f"{prefix}/{el.tag}"
        attrs = sorted(a for a in el.attrib if a not in IGNORED_ATTRIBUTES)
        paths.add(path + (f"[{','.join(attrs)}]" if attrs else ""))
        for child in el:
            walk(child, path)

    walk(root, "")
    return paths


def _action(xml: bytes | str) -> str:
    return ET.fromstring(xml).findtext("s:Header/a:Action", "", NS)


def _relates_to(xml: bytes | str) -> str:
    return ET.fromstring(xml).findtext("s:Header/a:RelatesTo", "", NS)


def _message_id(xml: bytes | str) -> str:
    return ET.fromstring(xml).findtext("s:Header/a:MessageID", "", NS)


def _recorded(action_suffix: str, *, contains: str | None = None, excludes: str | None = None) -> str:
    for name in sorted(p.name for p in Path(WINRM_DATA).glob("*.yml")):
        for message in _messages(name):
            response = message["response"]
            if not _action(response).endswith("/" + action_suffix):
                continue
            if contains is not None and contains not in response:
                continue
            if excludes is not None and excludes in response:
                continue
            return response
    raise AssertionError(f"no recorded {action_suffix}")


@pytest.fixture
def session(lab: PSLab) -> list[tuple[bytes, bytes]]:
    """One pypsrp session against the lab covering every operation; yields (request, response) pairs."""
    pool = RunspacePool(lab.wsman(), configuration_name="Microsoft.Exchange")
    pool.open()
    pool.exchange_keys()
    ps = PowerShell(pool)
    ps.add_cmdlet("Get-OrganizationConfig")
    ps.invoke()
    ps.close()
    assert pool.is_alive()
    lab.wsman().update_max_payload_size()
    pool.close()
    return lab.exchanges


def _lab_reply(
    exchanges: list[tuple[bytes, bytes]],
    action_suffix: str,
    *,
    contains: bytes | None = None,
    excludes: bytes | None = None,
) -> tuple[bytes, bytes]:
    for request, response in exchanges:
        if not _action(response).endswith("/" + action_suffix):
            continue
        if contains is not None and contains not in response:
            continue
        if excludes is not None and excludes in response:
            continue
        return request, response
    raise AssertionError(f"the lab sent no {action_suffix}")


CASES = [
    # (operation, lab selector, recorded selector)
    ("CreateResponse", {}, {}),
    ("ReceiveResponse", {"excludes": "CommandId"}, {"excludes": "CommandId"}),
    ("ReceiveResponse", {"contains": "CommandState/Done"}, {"contains": "CommandState/Done"}),
    ("CommandResponse", {}, {}),
    ("SendResponse", {}, {}),
    ("SignalResponse", {}, {}),
    ("DeleteResponse", {}, {}),
    ("GetResponse", {"contains": "rsp:Shell"}, {"contains": "rsp:Shell"}),
    ("GetResponse", {"contains": "cfg:Config"}, {"contains": "cfg:Config"}),
]


@pytest.mark.parametrize(("operation", "lab_sel", "rec_sel"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_reply_structure_matches_winrm(
    session: list[tuple[bytes, bytes]], operation: str, lab_sel: dict[str, str], rec_sel: dict[str, str]
) -> None:
    request, response = _lab_reply(session, operation, **{k: v.encode() for k, v in lab_sel.items()})
    recorded = _recorded(operation, **rec_sel)
    assert _action(response) == _action(recorded)
    assert _relates_to(response) == _message_id(request)
    assert _shape(response) == _shape(recorded)


def _replay(lab: PSLab, request: str, **changes: str) -> requests.Response:
    body = request.replace(
        "http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
        "http://schemas.microsoft.com/powershell/Microsoft.Exchange",
    )
    for old, new in changes.items():
        body = body.replace(old, new)
    return requests.post(
        lab.server.base_url + "/PowerShell",
        data=body.encode(),
        auth=(lab.reader, lab.password(lab.reader)),
        headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
        timeout=30,
    )


def _assert_fault_like(response: requests.Response, recorded: str, request: str) -> None:
    assert response.status_code == 500
    lab_root = ET.fromstring(response.content)
    rec_root = ET.fromstring(recorded)
    assert _action(response.content) == _action(recorded)
    assert _relates_to(response.content) == _message_id(request)
    for path in ("s:Body/s:Fault/s:Code/s:Value", "s:Body/s:Fault/s:Code/s:Subcode/s:Value"):
        assert lab_root.findtext(path, "", NS) == rec_root.findtext(path, "", NS)
    lab_fault = lab_root.find("s:Body/s:Fault/s:Detail/f:WSManFault", NS)
    rec_fault = rec_root.find("s:Body/s:Fault/s:Detail/f:WSManFault", NS)
    assert lab_fault is not None
    assert rec_fault is not None
    assert lab_fault.get("Code") == rec_fault.get("Code")
    assert _shape(response.content) == _shape(recorded)


def _first(name: str, action: str) -> str:
    return next(m["request"] for m in _messages(name) if f"/{action}<" in m["request"])


def test_get_on_an_unknown_shell(lab: PSLab) -> None:
    message = next(m for m in _messages("test_psrp_is_alive_invalid_selectors.yml") if "Fault" in m["response"])
    response = _replay(lab, message["request"])
    _assert_fault_like(response, message["response"], message["request"])
    assert b"2150858843" in response.content


def test_invalid_operation_timeout(lab: PSLab) -> None:
    message = next(m for m in _messages("test_psrp_is_alive_other_wsman_error.yml") if "Fault" in m["response"])
    response = _replay(lab, message["request"])
    _assert_fault_like(response, message["response"], message["request"])
    assert b"invalid timeout field in the SOAP header: PT-1S" in response.content


def test_receive_on_an_unknown_command(lab: PSLab) -> None:
    name = "test_psrp_receive_failure.yml"
    created = _replay(lab, _first(name, "Create"))
    assert created.status_code == 200, created.content
    message = next(m for m in _messages(name) if "Fault" in m["response"])
    response = _replay(lab, message["request"])
    _assert_fault_like(response, message["response"], message["request"])
    lab_message = ET.fromstring(response.content).findtext("s:Body/s:Fault/s:Detail/f:WSManFault/f:Message", "", NS)
    rec_message = ET.fromstring(message["response"]).findtext("s:Body/s:Fault/s:Detail/f:WSManFault/f:Message", "", NS)
    assert lab_message == rec_message


def test_receive_long_poll_times_out(lab: PSLab) -> None:
    name = "test_psrp_long_running_cmdlet.yml"
    create = _first(name, "Create")
    assert _replay(lab, create).status_code == 200
    receive = next(
        m["request"] for m in _messages(name) if "/Receive<" in m["request"] and "CommandId" not in m["request"]
    )
    # The first pool Receive drains the opening messages; the next one has nothing to wait for.
    assert _replay(lab, receive).status_code == 200
    timed = re.sub(
        r"<wsman:OperationTimeout>PT\d+(\.\d+)?S</wsman:OperationTimeout>",
        "<wsman:OperationTimeout>PT1S</wsman:OperationTimeout>",
        receive,
    )
    timed = timed.replace(_message_id(receive), f"uuid:{str(uuid.uuid4()).upper()}")
    recorded = next(m for m in _messages(name) if "2150858793" in m["response"])
    response = _replay(lab, timed)
    _assert_fault_like(response, recorded["response"], timed)
