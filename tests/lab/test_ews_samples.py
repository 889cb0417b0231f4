"""EWS requests exactly as Microsoft's samples write them, and the lab's answers held against the response samples.

Conformance is structural: every element path (namespace-qualified) of Microsoft's response sample must occur in
the lab's response to the same request; values (ids, counts, versions) differ by nature.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from audit.lab.server import LabServer
from tests.lab.ews_wire import E, T, paths, post, response_code, sample, with_header

SVC_ALLOWED = ("alfred@contoso.com", "alisa@contoso.com")


def _svc(lab: LabServer) -> tuple[str, str]:
    creds = lab.credentials
    return creds.service_username, creds.service_password


def _conforms(lab_xml: bytes, sample_file: str) -> None:
    missing = paths(sample(sample_file)) - paths(lab_xml)
    assert not missing, f"elements of {sample_file} missing from the lab's answer: {sorted(missing)}"


def _folder_id(xml: bytes) -> tuple[str, str]:
    element = ET.fromstring(xml).find(f".//{{{T}}}FolderId")
    assert element is not None
    return element.get("Id", ""), element.get("ChangeKey", "")


def test_getfolder_inbox_sample(samples_lab: LabServer) -> None:
    status, body = post(samples_lab.port, sample("getfolder-request.xml"), *_svc(samples_lab))
    assert status == 200
    _conforms(body, "getfolder-response.xml")
    assert b"<t:DisplayName>Inbox</t:DisplayName>" in body


def test_getfolder_calendar_sample(samples_lab: LabServer) -> None:
    status, body = post(samples_lab.port, sample("getfolder-request-calendar.xml"), *_svc(samples_lab))
    assert status == 200
    _conforms(body, "getfolder-response-calendar.xml")


@pytest.mark.parametrize(
    ("fragment", "mailbox"),
    [
        ("header-exchangeimpersonation-primarysmtpaddress.xml", "alisa@contoso.com"),  # PrimarySmtpAddress
        ("header-exchangeimpersonation-principalname.xml", "alisa@contoso.com"),  # UPN alisa@billing.contoso.com
        ("header-exchangeimpersonation-sid.xml", "alisa@contoso.com"),  # SID S-1-5-21-...-1118
    ],
)
def test_impersonation_header_forms(samples_lab: LabServer, fragment: str, mailbox: str) -> None:
    status, body = post(samples_lab.port, with_header(fragment), *_svc(samples_lab), anchor=mailbox)
    assert status == 200, body
    _conforms(body, "getfolder-response-calendar.xml")
    assert samples_lab.stats()["ews"]["impersonated_mailboxes"] == 1
    assert samples_lab.stats()["ews"]["impersonated_without_anchor"] == 0


def test_impersonation_header_forms_outside_scope(samples_lab: LabServer) -> None:
    for fragment, value, replacement in [
        ("header-exchangeimpersonation-primarysmtpaddress.xml", "alisa@contoso.com", "ceo@contoso.com"),
        ("header-exchangeimpersonation-principalname.xml", "alisa@billing.contoso.com", "ceo@contoso.com"),
        ("header-exchangeimpersonation-sid.xml", "S-1-5-21-1493619105-1843311271-3936346804-1118", "SID"),
    ]:
        ceo = samples_lab.tenant.resolve_recipient("ceo@contoso.com")
        assert ceo is not None
        text = with_header(fragment).replace(value, ceo.sid if replacement == "SID" else replacement)
        status, body = post(samples_lab.port, text, *_svc(samples_lab))
        assert status == 500
        assert response_code(body) == "ErrorImpersonateUserDenied"


def test_createitem_with_smtpaddress_impersonation_sample(samples_lab: LabServer) -> None:
    status, body = post(
        samples_lab.port,
        sample("createitem-request-impersonation.xml"),
        *_svc(samples_lab),
        anchor="alfred@contoso.com",
    )
    assert status == 200, body
    _conforms(body, "createitem-response-impersonation.xml")
    assert samples_lab.tenant.calendars.counts() == {"alfred@contoso.com": 1}


def test_createitem_baseline_finditem_and_deleteitem_samples(samples_lab: LabServer) -> None:
    port, (user, password) = samples_lab.port, _svc(samples_lab)
    # CreateItem in the caller's own calendar (no impersonation), as the reference page writes it.
    status, body = post(port, sample("createitem-request-calendaritem.xml"), user, password)
    assert status == 200, body
    _conforms(body, "createitem-response-calendaritem.xml")
    # Items in the FindItem sample's window, so its CalendarView returns some; then the sample with the FolderId
    # the lab handed out (the docs shorten ids to "AAMk").
    for day in (21, 22):
        samples_lab.tenant.calendars.create(
            "svcServiceAccount@contoso.com",
            subject=f"day {day}",
            start=f"2013-08-{day}T19:30:00Z",
            end=f"2013-08-{day}T20:00:00Z",
        )
    _, folder = post(port, sample("getfolder-request-calendar.xml"), user, password)
    folder_id, change_key = _folder_id(folder)
    find = sample("finditem-request-calendar.xml").replace(
        'Id="AAMk" ChangeKey="AgAA"', f'Id="{folder_id}" ChangeKey="{change_key}"'
    )
    status, body = post(port, find, user, password)
    assert status == 200, body
    _conforms(body, "finditem-response-calendar.xml")
    assert b'TotalItemsInView="2"' in body
    # CalendarView reference sample (DistinguishedFolderId, -08:00 offsets): nothing in that window.
    status, body = post(port, sample("finditem-request-calendarview.xml"), user, password)
    assert status == 200
    assert b'TotalItemsInView="0"' in body
    # DeleteItem: the sample's shortened id is not in the store; a real one is deleted.
    status, body = post(port, sample("deleteitem-request-calendar.xml"), user, password)
    assert status == 200
    _conforms(body, "deleteitem-response-error.xml")
    assert response_code(body) == "ErrorItemNotFound"
    item_id = ET.fromstring(find_items := post(port, find, user, password)[1]).find(f".//{{{T}}}ItemId")
    assert item_id is not None, find_items
    status, body = post(
        port, sample("deleteitem-request.xml").replace("AS4AUn==", item_id.get("Id", "")), user, password
    )
    assert status == 200
    _conforms(body, "deleteitem-response.xml")
    assert samples_lab.tenant.calendars.total() == 2


def test_convertid_samples(samples_lab: LabServer) -> None:
    status, body = post(samples_lab.port, sample("convertid-request.xml"), *_svc(samples_lab))
    assert status == 200
    # The sample's own response uses an unprefixed messages namespace: compare paths, prefixes do not matter.
    _conforms(body, "convertid-response.xml")
    dummy = sample("convertid-request.xml").replace("AAMkAGZhN2IxYTA0LWNiNzItN=", "DUMMY")
    status, body = post(samples_lab.port, dummy, *_svc(samples_lab))
    assert status == 200
    # The error sample's ServerVersionInfo is in the default (types) namespace: the same qualified path.
    _conforms(body, "convertid-response-error.xml")
    assert response_code(body) == "ErrorInvalidIdMalformed"


def test_resolvenames_samples(samples_lab: LabServer) -> None:
    status, body = post(samples_lab.port, sample("resolvenames-request.xml"), *_svc(samples_lab))
    assert status == 200
    _conforms(body, "resolvenames-response.xml")
    missing = sample("resolvenames-request.xml").replace("User2", "Nobody Atall")
    status, body = post(samples_lab.port, missing, *_svc(samples_lab))
    assert status == 200
    _conforms(body, "resolvenames-response-error.xml")


def test_getfolder_error_sample_shape(samples_lab: LabServer) -> None:
    bad = sample("getfolder-request.xml").replace('<t:DistinguishedFolderId Id="inbox"/>', '<t:FolderId Id="%%%"/>')
    status, body = post(samples_lab.port, bad, *_svc(samples_lab))
    assert status == 200
    _conforms(body, "getfolder-response-error.xml")
    assert response_code(body) == "ErrorInvalidIdMalformed"


# The fault shape exchangelib's own tests use for a real Exchange fault (exchange-rbac.md 8.2).
FAULT_FIXTURE = f"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
<faultcode xmlns:a="{T}">a:ErrorServerBusy</faultcode>
<faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
<detail><e:ResponseCode xmlns:e="{E}">ErrorServerBusy</e:ResponseCode>
<e:Message xmlns:e="{E}">The server cannot service this request right now. Try again later.</e:Message>
<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">297749</t:Value></t:MessageXml>
</detail></s:Fault></s:Body></s:Envelope>"""


@pytest.mark.parametrize(
    ("mailbox", "auditor", "code"),
    [
        ("ceo@contoso.com", False, "ErrorImpersonateUserDenied"),
        ("alfred@contoso.com", True, "ErrorImpersonationDenied"),
        ("nobody@contoso.com", False, "ErrorNonExistentMailbox"),
    ],
)
def test_fault_shapes(samples_lab: LabServer, mailbox: str, auditor: bool, code: str) -> None:
    creds = samples_lab.credentials
    login = (creds.auditor_username, creds.auditor_password) if auditor else _svc(samples_lab)
    request = sample("createitem-request-impersonation.xml").replace("alfred@contoso.com", mailbox)
    status, body = post(samples_lab.port, request, *login)
    assert status == 500
    fixture = paths(FAULT_FIXTURE) - {p for p in paths(FAULT_FIXTURE) if "MessageXml" in p}
    assert not fixture - paths(body)
    assert response_code(body) == code
    root = ET.fromstring(body)
    assert root.findtext(".//faultcode") == f"a:{code}"
    assert samples_lab.tenant.calendars.total() == 0


def test_busy_fault_shape(samples_lab: LabServer) -> None:
    samples_lab.faults.set_throttling(next_requests=1, backoff_ms=297749)
    status, body = post(samples_lab.port, sample("getfolder-request.xml"), *_svc(samples_lab))
    assert status == 500
    assert not paths(FAULT_FIXTURE) - paths(body)
    assert re.search(rb'<t:Value Name="BackOffMilliseconds">297749</t:Value>', body)


def test_every_response_carries_server_version_info(samples_lab: LabServer) -> None:
    for request in ("getfolder-request.xml", "resolvenames-request.xml", "convertid-request.xml"):
        _, body = post(samples_lab.port, sample(request), *_svc(samples_lab))
        info = ET.fromstring(body).find(f".//{{{T}}}ServerVersionInfo")
        assert info is not None
        assert (info.get("MajorVersion"), info.get("MinorVersion"), info.get("MajorBuildNumber")) == ("15", "2", "1544")
