"""Faults on demand through the control endpoint: drop, 401/500/503, a reply that never ends, malformed XML."""

from __future__ import annotations

import http.client
import json
import socket
import xml.etree.ElementTree as ET

import pytest

from audit.lab import LabError
from audit.lab.faults import FaultPlan
from audit.lab.server import CONTROL_TOKEN_HEADER, LabServer
from tests.lab.ews_wire import post, response_code, sample

GOOD = sample("getfolder-request-calendar.xml")


def _control(
    lab: LabServer, method: str, action: str, payload: object = None, token: str | None = None
) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=10)
    headers = {CONTROL_TOKEN_HEADER: lab.control_token if token is None else token}
    body = json.dumps(payload).encode() if payload is not None else None
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, f"/lab/control/{action}", body=body, headers=headers)
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, data


def _svc(lab: LabServer) -> tuple[str, str]:
    return lab.credentials.service_username, lab.credentials.service_password


def test_control_needs_the_token(compliant_lab: LabServer) -> None:
    status, _ = _control(compliant_lab, "GET", "stats", token="wrong")
    assert status == 403
    status, stats = _control(compliant_lab, "GET", "stats")
    assert status == 200
    assert stats["scenario"] == "compliant"


@pytest.mark.parametrize("status_code", [401, 500, 503])
def test_http_status_faults(compliant_lab: LabServer, status_code: int) -> None:
    status, _ = _control(
        compliant_lab,
        "POST",
        "faults",
        {"rules": [{"route": "ews", "kind": "status", "status": status_code, "count": 1}]},
    )
    assert status == 200
    assert post(compliant_lab.port, GOOD, *_svc(compliant_lab))[0] == status_code
    assert post(compliant_lab.port, GOOD, *_svc(compliant_lab))[0] == 200  # count 1: the next one is normal


def test_dropped_connection(compliant_lab: LabServer) -> None:
    _control(compliant_lab, "POST", "faults", {"rules": [{"route": "ews", "kind": "drop", "count": 1}]})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        post(compliant_lab.port, GOOD, *_svc(compliant_lab))
    assert post(compliant_lab.port, GOOD, *_svc(compliant_lab))[0] == 200


def test_reply_that_never_ends_does_not_block_others(compliant_lab: LabServer) -> None:
    _control(compliant_lab, "POST", "faults", {"rules": [{"route": "ews", "kind": "hang", "count": 1}]})
    conn = http.client.HTTPConnection("127.0.0.1", compliant_lab.port, timeout=1)
    import base64

    token = base64.b64encode(":".join(_svc(compliant_lab)).encode()).decode()
    conn.request("POST", "/EWS/Exchange.asmx", body=GOOD, headers={"Authorization": f"Basic {token}"})
    response = conn.getresponse()
    with pytest.raises((TimeoutError, socket.timeout)):
        response.read()
    conn.close()
    assert post(compliant_lab.port, GOOD, *_svc(compliant_lab))[0] == 200


def test_malformed_xml_reply(compliant_lab: LabServer) -> None:
    _control(compliant_lab, "POST", "faults", {"rules": [{"route": "ews", "kind": "malformed", "count": 1}]})
    status, body = post(compliant_lab.port, GOOD, *_svc(compliant_lab))
    assert status == 200
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)


def test_throttling_and_latency_through_control_then_reset(compliant_lab: LabServer) -> None:
    _control(compliant_lab, "POST", "faults", {"throttling": {"next": 2, "backoff_ms": 50}, "latency_ms": {"ews": 1}})
    codes = [response_code(post(compliant_lab.port, GOOD, *_svc(compliant_lab))[1]) for _ in range(3)]
    assert codes == ["ErrorServerBusy", "ErrorServerBusy", "NoError"]
    status, _ = _control(compliant_lab, "POST", "reset")
    assert status == 200
    _, stats = _control(compliant_lab, "GET", "stats")
    assert stats["faults"]["latency_ms"] == {}  # type: ignore[index]
    assert stats["ews"]["requests"] == 0  # type: ignore[index]


def test_bad_fault_descriptions_are_refused(compliant_lab: LabServer) -> None:
    status, data = _control(compliant_lab, "POST", "faults", {"rules": [{"kind": "explode"}]})
    assert status == 400
    assert "unknown fault kind" in str(data["error"])
    with pytest.raises(LabError):
        FaultPlan().apply({"latency": 5})
    with pytest.raises(LabError):
        FaultPlan().set_latency(5, "smtp")


def test_powershell_route_faults_are_separate(compliant_lab: LabServer) -> None:
    plan = compliant_lab.faults
    plan.apply({"rules": [{"route": "powershell", "kind": "status", "status": 503, "count": None}]})
    assert post(compliant_lab.port, GOOD, *_svc(compliant_lab))[0] == 200  # EWS unaffected
    assert plan.to_dict()["rules"][0]["count"] is None


def test_fault_on_one_operation_only(compliant_lab: LabServer) -> None:
    # E.g. between the write probe's CreateItem and its DeleteItem: the delete fails, everything else works.
    compliant_lab.faults.apply(
        {"rules": [{"route": "ews", "kind": "status", "status": 503, "operation": "DeleteItem"}]}
    )
    user, password = _svc(compliant_lab)
    status, body = post(compliant_lab.port, sample("createitem-request-calendaritem.xml"), user, password)
    assert status == 200
    item = ET.fromstring(body).find(".//{http://schemas.microsoft.com/exchange/services/2006/types}ItemId")
    assert item is not None
    delete = sample("deleteitem-request.xml").replace("AS4AUn==", item.get("Id", ""))
    assert post(compliant_lab.port, delete, user, password)[0] == 503
    assert compliant_lab.tenant.calendars.total() == 1
    assert post(compliant_lab.port, delete, user, password)[0] == 200  # count 1 by default
    assert compliant_lab.tenant.calendars.total() == 0
