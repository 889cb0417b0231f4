"""Whatever bytes a client sends, the EWS handler answers with a well-formed SOAP response and never raises."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.lab.ews import EwsHandler
from audit.lab.http import Headers, LabRequest
from audit.lab.server import scenario_path
from audit.lab.tenant import load_tenant
from tests.lab.ews_wire import response_code, sample, with_header

TENANT = load_tenant(scenario_path("compliant"))
HANDLER = EwsHandler(TENANT)
SEEDS = [
    sample("getfolder-request-calendar.xml"),
    sample("finditem-request-calendarview.xml"),
    sample("createitem-request-calendaritem.xml"),
    sample("resolvenames-request.xml"),
    with_header("header-exchangeimpersonation-primarysmtpaddress.xml").replace("alisa", "ad.viseur"),
]


def _call(body: bytes) -> tuple[int, bytes]:
    request = LabRequest(
        "POST",
        "/EWS/Exchange.asmx",
        {},
        Headers({"X-AnchorMailbox": "ad.viseur@contoso.com"}),
        body,
        "svcServiceAccount",
        "Basic",
        1,
        ("127.0.0.1", 1),
    )
    response = HANDLER(request)
    return response.status, response.body


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(SEEDS)).encode()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "insert", "replace", "dup"]))
        at = draw(st.integers(0, len(text)))
        if kind == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif kind == "insert":
            text = text[:at] + draw(st.binary(min_size=1, max_size=12)) + text[at:]
        elif kind == "replace":
            text = (
                text[:at] + draw(st.sampled_from([b"<", b">", b"&", b'"', b"&amp;", b"]]>", b"\xff"])) + text[at + 1 :]
            )
        else:
            text = text[:at] + text[at : at + 30] + text[at:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_requests_always_get_a_soap_answer(body: bytes) -> None:
    status, answer = _call(body)
    assert status in (200, 500)
    ET.fromstring(answer)  # well-formed
    assert response_code(answer)


def test_seeds_succeed() -> None:
    for seed in SEEDS:
        status, answer = _call(seed.encode())
        assert status == 200, answer
    TENANT.calendars.clear()
