"""Malformed requests get the fault Exchange sends; nothing a client sends crashes the lab or leaks to another."""

from __future__ import annotations

import base64
import threading
import xml.etree.ElementTree as ET

import pytest

from audit.lab.server import LabServer
from tests.lab.ews_wire import SOAP, T, post, response_code, sample, with_header

GOOD = sample("getfolder-request-calendar.xml")
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>&lol2;</soap:Body></soap:Envelope>'
)


def _creds(lab: LabServer) -> tuple[str, str]:
    return lab.credentials.service_username, lab.credentials.service_password


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "ErrorSchemaValidation"),
        (b"not xml at all", "ErrorSchemaValidation"),
        (GOOD[: len(GOOD) // 2].encode(), "ErrorSchemaValidation"),
        (BOMB.encode(), "ErrorSchemaValidation"),
        (b"\x00\xff\xfe garbage", "ErrorSchemaValidation"),
        (GOOD.replace('encoding="utf-8"', 'encoding="tf-8"').encode(), "ErrorSchemaValidation"),  # found by fuzzing
        (
            GOOD.replace(
                "https://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"
            ).encode(),
            "ErrorSchemaValidation",
        ),  # a SOAP 1.2 envelope
        (
            GOOD.replace("<m:GetFolder>", "<m:NoSuchOperation>")
            .replace("</m:GetFolder>", "</m:NoSuchOperation>")
            .encode(),
            "ErrorInvalidRequest",
        ),
        (
            GOOD.replace("<m:FolderIds>", "<m:Other>").replace("</m:FolderIds>", "</m:Other>").encode(),
            "ErrorSchemaValidation",
        ),
        (GOOD.replace("Exchange2007_SP1", "Exchange207_SP1").encode(), "ErrorInvalidServerVersion"),
        (
            with_header("header-exchangeimpersonation-sid.xml").replace("S-1-5-21", "X-1-5-21").encode(),
            "ErrorInvalidSid",
        ),
        (
            with_header("header-exchangeimpersonation-primarysmtpaddress.xml")
            .replace("alisa@contoso.com", "")
            .encode(),
            "ErrorInvalidExchangeImpersonationHeaderData",
        ),
    ],
)
def test_malformed_requests_get_faults(compliant_lab: LabServer, body: bytes, code: str) -> None:
    status, answer = post(compliant_lab.port, body, *_creds(compliant_lab))
    assert status == 500
    assert response_code(answer) == code
    # ... and the lab still answers a good request.
    status, answer = post(compliant_lab.port, GOOD, *_creds(compliant_lab))
    assert status == 200
    assert response_code(answer) == "NoError"


def test_get_is_refused_without_a_crash(compliant_lab: LabServer) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", compliant_lab.port, timeout=10)
    token = base64.b64encode(":".join(_creds(compliant_lab)).encode()).decode()
    conn.request("GET", "/EWS/Exchange.asmx", headers={"Authorization": f"Basic {token}"})
    assert conn.getresponse().status == 405
    conn.close()


def test_unauthenticated_request_is_401(compliant_lab: LabServer) -> None:
    status, _ = post(compliant_lab.port, GOOD, "svcServiceAccount", "wrong")
    assert status == 401


def test_concurrent_clients_never_get_each_others_answers(compliant_lab: LabServer) -> None:
    tenant = compliant_lab.tenant
    mailboxes = ["ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field"]
    errors: list[str] = []
    creds = _creds(compliant_lab)

    def worker(alias: str) -> None:
        user = tenant.resolve_recipient(alias)
        assert user is not None
        request = with_header("header-exchangeimpersonation-primarysmtpaddress.xml").replace(
            "alisa@contoso.com", f"{alias}@contoso.com"
        )
        for n in range(15):
            if n % 3 == 0:
                status, body = post(compliant_lab.port, b"<broken", *creds)
                if status != 500 or response_code(body) != "ErrorSchemaValidation":
                    errors.append(f"{alias}: malformed request answered {status}")
                continue
            status, body = post(compliant_lab.port, request, *creds)
            folder = ET.fromstring(body).find(f".//{{{T}}}FolderId")
            if status != 200 or folder is None:
                errors.append(f"{alias}: {status}")
                continue
            owner = base64.b64decode(folder.get("Id", "")).decode().split(":")[1]
            if owner != user.guid:
                errors.append(f"{alias}: got the folder of {owner}")

    threads = [threading.Thread(target=worker, args=(a,)) for a in mailboxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = compliant_lab.stats()["ews"]
    assert stats["by_response"]["ErrorSchemaValidation"] == 5 * len(mailboxes)
    assert stats["in_flight"] == 0
