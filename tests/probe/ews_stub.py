"""A tiny EWS responder on 127.0.0.1 for the prober's unit tests (the e2e tests use the real lab)."""

from __future__ import annotations

import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_HEADER = (
    '<s:Header><h:ServerVersionInfo xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" '
    'MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11"/>'
    "</s:Header>"
)
_ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    + _HEADER
    + "<s:Body>{}</s:Body></s:Envelope>"
)
_NS = (
    'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
    'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'
)


def _ok(op: str, inner: str) -> str:
    return (
        f'<m:{op}Response {_NS}><m:ResponseMessages><m:{op}ResponseMessage ResponseClass="Success">'
        f"<m:ResponseCode>NoError</m:ResponseCode>{inner}</m:{op}ResponseMessage></m:ResponseMessages></m:{op}Response>"
    )


def _fault(code: str, backoff_ms: int | None = None) -> str:
    extra = ""
    if backoff_ms is not None:
        extra = (
            '<t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
            f'<t:Value Name="BackOffMilliseconds">{backoff_ms}</t:Value></t:MessageXml>'
        )
    return (
        '<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">'
        f'a:{code}</faultcode><faultstring xml:lang="en-US">{code}</faultstring><detail>'
        f'<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}</e:ResponseCode>'
        f'<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}</e:Message>'
        f"{extra}</detail></s:Fault>"
    )


class EwsStub:
    """Answers GetFolder/CreateItem/DeleteItem/FindItem; behaviour per mailbox; counts items and concurrency."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        # mailbox -> "deny" | "no_right" | "missing" | "busy" | "hang" | "401" | "nosearch"
        self.behaviour: dict[str, str] = {}
        self.items: dict[str, dict[str, str]] = {}  # mailbox -> item id -> subject
        self.anchors: list[str | None] = []
        self.operations: list[str] = []  # the operation of every request, in order
        self.in_flight = 0
        self.max_in_flight = 0
        # When set, a request waits (up to 2 s) until this many are in flight: concurrency is then measured
        # without depending on how the threads happen to be scheduled on a loaded machine.
        self.gather: int | None = None
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with stub._arrived:
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                    stub.anchors.append(self.headers.get("X-AnchorMailbox"))
                    op = re.search(r"<m:(\w+)[ >]", body)
                    stub.operations.append(op.group(1) if op else "")
                    stub._arrived.notify_all()
                    if stub.gather is not None:
                        gather = stub.gather
                        stub._arrived.wait_for(lambda: stub.in_flight >= gather, timeout=2.0)
                try:
                    status, text = stub.answer(body)
                    if status == 0:
                        time.sleep(30)
                        return
                    if stub.latency:
                        time.sleep(stub.latency)
                finally:
                    with stub._lock:
                        stub.in_flight -= 1
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/EWS/Exchange.asmx"

    def answer(self, body: str) -> tuple[int, str]:
        smtp = re.search(r"PrimarySmtpAddress>([^<]+)<", body)
        mailbox = smtp.group(1).lower() if smtp else ""
        b = self.behaviour.get(mailbox, "")
        if b == "hang":
            return 0, ""
        if b == "401":
            return 401, ""
        if b in {"deny", "no_right", "missing", "busy"}:
            code = {
                "deny": "ErrorImpersonateUserDenied",
                "no_right": "ErrorImpersonationDenied",
                "missing": "ErrorNonExistentMailbox",
                "busy": "ErrorServerBusy",
            }[b]
            return 500, _ENVELOPE.format(_fault(code, 200 if b == "busy" else None))
        box = self.items.setdefault(mailbox, {})
        if b == "nosearch" and "<m:FindItem" in body:  # the calendar opens, but the server refuses the search
            message = (
                '<m:FindItemResponseMessage ResponseClass="Error"><m:MessageText>unsupported</m:MessageText>'
                "<m:ResponseCode>ErrorUnsupportedPathForQuery</m:ResponseCode></m:FindItemResponseMessage>"
            )
            return 200, _ENVELOPE.format(
                f"<m:FindItemResponse {_NS}><m:ResponseMessages>{message}</m:ResponseMessages></m:FindItemResponse>"
            )
        if "<m:GetFolder" in body:
            inner = (
                f'<m:Folders><t:CalendarFolder><t:FolderId Id="CAL-{mailbox}" ChangeKey="ck"/>'
                "<t:DisplayName>Calendar</t:DisplayName></t:CalendarFolder></m:Folders>"
            )
            return 200, _ENVELOPE.format(_ok("GetFolder", inner))
        if "<m:CreateItem" in body:
            subject = re.search(r"<t:Subject>([^<]*)</t:Subject>", body)
            item_id = str(uuid.uuid4())
            box[item_id] = subject.group(1) if subject else ""
            inner = f'<m:Items><t:CalendarItem><t:ItemId Id="{item_id}" ChangeKey="ck"/></t:CalendarItem></m:Items>'
            return 200, _ENVELOPE.format(_ok("CreateItem", inner))
        if "<m:DeleteItem" in body:
            for item_id in re.findall(r'<t:ItemId Id="([^"]+)"', body):
                box.pop(item_id, None)
            return 200, _ENVELOPE.format(_ok("DeleteItem", ""))
        if "<m:FindItem" in body:
            rows = "".join(
                f'<t:CalendarItem><t:ItemId Id="{i}" ChangeKey="ck"/><t:Subject>{s}</t:Subject></t:CalendarItem>'
                for i, s in box.items()
            )
            inner = (
                f'<m:RootFolder TotalItemsInView="{len(box)}" IncludesLastItemInRange="true">'
                f"<t:Items>{rows}</t:Items></m:RootFolder>"
            )
            return 200, _ENVELOPE.format(_ok("FindItem", inner))
        return 500, _ENVELOPE.format(_fault("ErrorInvalidRequest"))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
