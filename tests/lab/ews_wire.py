"""Raw HTTP helpers for the EWS tests: requests as Microsoft's samples write them, responses as element paths."""

from __future__ import annotations

import base64
import http.client
import xml.etree.ElementTree as ET
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "ews" / "samples"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_DOCS = "https://schemas.xmlsoap.org/soap/envelope/"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def post(port: int, body: bytes | str, user: str, password: str, *, anchor: str | None = None) -> tuple[int, bytes]:
    """POST to /EWS/Exchange.asmx over a fresh connection with Basic auth; return (status, body)."""
    data = body.encode() if isinstance(body, str) else body
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Content-Type": "text/xml; charset=utf-8", "Authorization": f"Basic {token}"}
    if anchor:
        headers["X-AnchorMailbox"] = anchor
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/EWS/Exchange.asmx", body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _norm(tag: str) -> str:
    return tag.replace("{" + SOAP_DOCS + "}", "{" + SOAP + "}")


def paths(xml: bytes | str) -> set[str]:
    """Every element path of a document, namespaces qualified (the docs' https envelope namespace normalized)."""
    root = ET.fromstring(xml)
    out: set[str] = set()

    def walk(element: ET.Element, prefix: str) -> None:
        here = f"{prefix}/{_norm(element.tag)}"
        out.add(here)
        for child in element:
            walk(child, here)

    walk(root, "")
    return out


def response_code(xml: bytes) -> str:
    """The first ResponseCode of a response (message level or fault detail)."""
    root = ET.fromstring(xml)
    for element in root.iter():
        if element.tag in (f"{{{M}}}ResponseCode", f"{{{E}}}ResponseCode"):
            return element.text or ""
    raise AssertionError("no ResponseCode in the response")


def with_header(fragment_file: str) -> str:
    """A GetFolder(calendar) envelope whose SOAP header is one of the docs' header fragments, inserted verbatim."""
    fragment = sample(fragment_file)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:t="{T}" xmlns:m="{M}">\n'
        f"{fragment}\n"
        "<soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
        '<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder></soap:Body>\n'
        "</soap:Envelope>\n"
    )
