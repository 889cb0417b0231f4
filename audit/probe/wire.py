"""The read probe on the wire: SOAP requests built once per run, replies classified from their bytes.

A read probe sends the same request for every mailbox but for the address, so the envelope is serialised once and
only the (XML-escaped) address is put in per probe. The reply is parsed once into an element tree and read where
the outcome is: the SOAP Fault or the one ``*ResponseMessage`` (class, code, text) and, for FindItem, the ids and
subjects of the items found. No exchangelib Account, service, Folder or Item object is built for a probe;
exchangelib's session pool (NTLM, Kerberos), the exception mapping of its ``post_ratelimited``, its FailFast status
rules and its exception classes are kept, so an outcome means what it meant when the probe went through the
services.

* In-scope mailbox: one FindItem in the impersonated calendar (``DistinguishedFolderId calendar`` naming the
  mailbox) restricted to subjects containing the probe marker. Its success proves the calendar opens under
  impersonation (the ExchangeImpersonation header is checked before any operation, exchange-rbac.md section 8),
  and the same reply lists the marked items an earlier, killed write run left behind: one round trip instead of
  GetFolder then FindItem.
* Canary: one GetFolder of the calendar, as before (a canary is only ever read, and nothing in it is listed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import requests
from exchangelib import errors as ews_errors
from exchangelib import services as ews_services
from exchangelib.util import CONNECTION_ERRORS, MNS, SOAPNS, TLS_ERRORS, TNS, ParseError, to_xml
from requests.structures import CaseInsensitiveDict

from audit.probe.soap import ContradictoryReply, check_consistent

_ADDRESS = b"\x00address\x00"  # never valid in XML, so never part of the envelope text itself
_ENVELOPE = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    f'<s:Envelope xmlns:s="{SOAPNS}" xmlns:m="{MNS}" xmlns:t="{TNS}"><s:Header>'
    '<t:RequestServerVersion Version="{version}"/><t:ExchangeImpersonation><t:ConnectingSID>'
    "<t:PrimarySmtpAddress>\x00address\x00</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"
    '<t:TimeZoneContext><t:TimeZoneDefinition Id="UTC"/></t:TimeZoneContext></s:Header><s:Body>{body}</s:Body>'
    "</s:Envelope>"
)
_CALENDAR = (
    '<t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>\x00address\x00</t:EmailAddress>'
    "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:DistinguishedFolderId>"
)
# The same elements exchangelib's GetFolder and FindItem services write for the calendar (shape IdOnly plus the
# fields the prober reads); EWSFindCountLimit (1000) is the most one FindItem page may hold (exchange-rbac.md
# section 9), and a page that is not the last one sends the prober to the paged search.
_GET_FOLDER = (
    "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
    '<t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURI FieldURI="folder:FolderClass"/>'
    f"</t:AdditionalProperties></m:FolderShape><m:FolderIds>{_CALENDAR}</m:FolderIds></m:GetFolder>"
)
_FIND_ITEM = (
    '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>'
    '<t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape>'
    '<m:IndexedPageItemView MaxEntriesReturned="1000" Offset="0" BasePoint="Beginning"/>'
    '<m:Restriction><t:Contains ContainmentMode="Substring" ContainmentComparison="Exact">'
    '<t:FieldURI FieldURI="item:Subject"/><t:Constant Value={marker}/></t:Contains></m:Restriction>'
    f"<m:ParentFolderIds>{_CALENDAR}</m:ParentFolderIds></m:FindItem>"
)
_M = f"{{{MNS}}}"
_T = f"{{{TNS}}}"
_S = f"{{{SOAPNS}}}"
_ITEM_ID = f"{_T}ItemId"
_SUBJECT = f"{_T}Subject"


class ReadRequest:
    """One operation's envelope, serialised once; :meth:`body` puts a mailbox's address in."""

    __slots__ = ("_parts", "operation")

    def __init__(self, operation: str, envelope: str) -> None:
        self.operation = operation
        self._parts = envelope.encode("utf-8").split(_ADDRESS)

    def body(self, mailbox: str) -> bytes:
        """The request for ``mailbox`` (escaped as XML text: an address is data from outside)."""
        return escape(mailbox).encode("utf-8").join(self._parts)


def get_folder_request(api_version: str) -> ReadRequest:
    """GetFolder of the impersonated mailbox's calendar (the canary probe)."""
    return ReadRequest("GetFolder", _ENVELOPE.format(version=escape(api_version), body=_GET_FOLDER))


def find_item_request(api_version: str, marker: str) -> ReadRequest:
    """FindItem in the impersonated mailbox's calendar for subjects containing ``marker`` (the in-scope probe)."""
    body = _FIND_ITEM.format(marker=quoteattr(marker))
    return ReadRequest("FindItem", _ENVELOPE.format(version=escape(api_version), body=body))


@dataclass(frozen=True, slots=True)
class FoundItem:
    """A marked item a FindItem listed: its id, change key and subject."""

    id: str
    changekey: str
    subject: str


@dataclass(frozen=True, slots=True)
class ReadReply:
    """A NoError reply: the items FindItem found (none for GetFolder) and whether that was every one of them."""

    items: tuple[FoundItem, ...] = ()
    complete: bool = True


def send(protocol: Any, request: ReadRequest, mailbox: str) -> ReadReply:
    """POST ``request`` for ``mailbox`` through exchangelib's session pool and classify the reply.

    Raises exchangelib's exception for every failure (transport, HTTP status, SOAP fault, error response code),
    :class:`ContradictoryReply` for a reply that says two things at once.
    """
    session = protocol.get_session()
    # X-AnchorMailbox as exchangelib sends it for impersonation ("the X-AnchorMailbox should always be correctly
    # set", impersonation-and-ews-in-exchange).
    response = _post(protocol, session, request.body(mailbox), {"X-AnchorMailbox": mailbox})
    protocol.release_session(session)
    return read_reply(response.status_code, response.content, request.operation)


def _post(protocol: Any, session: Any, data: bytes, headers: dict[str, str]) -> Any:
    """The POST of exchangelib (``post_ratelimited``, FailFast) without requests' per-call merging of settings.

    ``Session.request`` merges the session's headers, cookies, proxies and hooks into every request through
    ``typing.Protocol`` isinstance checks, about a quarter of a probe's client CPU; the request is prepared here from
    the same session settings (the pool's sessions have ``trust_env`` off and their proxies set once) and sent with
    ``Session.send``, so the session's auth (NTLM, Kerberos), its adapters (bounded replies, TLS verification) and
    response hooks act as before. Exceptions become exchangelib's exactly as ``post_ratelimited`` makes them; the
    session is retired on every failure.
    """
    prepared = requests.PreparedRequest()
    prepared.method = "POST"
    prepared.url = protocol.service_endpoint
    prepared.headers = CaseInsensitiveDict(session.headers)
    prepared.headers.update(headers)
    prepared.prepare_cookies(session.cookies)
    prepared.body = data
    prepared.headers["Content-Length"] = str(len(data))
    prepared.hooks = {"response": []}
    prepared.prepare_auth(session.auth)
    try:
        response = session.send(
            prepared, allow_redirects=False, timeout=protocol.TIMEOUT, proxies=session.proxies, stream=False
        )
    except TLS_ERRORS as exc:
        protocol.retire_session(session)
        raise ews_errors.TransportError(str(exc)) from exc
    except CONNECTION_ERRORS as exc:
        protocol.retire_session(session)
        raise ews_errors.ErrorTimeoutExpired(f"Reraised from {exc.__class__.__name__}({exc})") from exc
    except KeyError as exc:
        protocol.retire_session(session)
        if exc.args[0] != "www-authenticate":
            raise
        # an HTTP error during the NTLM handshake (post_ratelimited's reading)
        raise ews_errors.ErrorInternalServerTransientError(f"Reraised from {exc.__class__.__name__}({exc})") from exc
    except Exception:
        protocol.retire_session(session)
        raise
    try:
        protocol.retry_policy.raise_response_errors(response)
    except Exception:
        response.close()
        protocol.retire_session(session)
        raise
    return response


def read_reply(status: int, content: bytes, operation: str) -> ReadReply:
    """The outcome of one read probe from the reply's status and bytes (see :func:`send` for what it raises)."""
    try:
        root = to_xml(content)
    except ParseError as exc:
        raise ews_errors.SOAPError(f"Bad SOAP response: {exc}") from exc
    body = root.find(f"{_S}Body")
    if body is None:
        raise ews_errors.MalformedResponseError("No Body element in SOAP response")
    check_consistent(status, body)
    response = body[0]  # check_consistent: exactly one element
    if response.tag == f"{_S}Fault":
        ews_services.GetFolder._raise_soap_errors(fault=response)  # exchangelib's own mapping; always raises
    messages = response.find(f"{_M}ResponseMessages")
    found = list(messages) if messages is not None else []
    if len(found) != 1:
        raise ContradictoryReply(f"EWS reply with {len(found)} response messages for 1 requested")
    message = found[0]
    if response.tag != f"{_M}{operation}Response" or message.tag != f"{_M}{operation}ResponseMessage":
        raise ews_errors.SOAPError(f"Unknown SOAP response (expected {operation}Response or Fault)")
    code = (message.findtext(f"{_M}ResponseCode") or "").strip()
    if code != "NoError":
        raise _message_error(code, message)
    if operation != "FindItem":
        return ReadReply()
    return _found(message)


def _message_error(code: str, message: Any) -> Exception:
    text = (message.findtext(f"{_M}MessageText") or "").strip()
    msg_xml = message.find(f"{_M}MessageXml")
    if code == "ErrorServerBusy":
        back_off = None
        value = msg_xml.find(f"{_T}Value") if msg_xml is not None else None
        if value is not None and value.get("Name") == "BackOffMilliseconds" and (value.text or "").isdigit():
            back_off = int(value.text or "0") / 1000.0
        busy: Exception = ews_errors.ErrorServerBusy(text, back_off=back_off)
        return busy
    exc: object = ews_services.GetFolder._get_exception(code=code, text=text, msg_xml=msg_xml)
    return exc if isinstance(exc, Exception) else ews_errors.TransportError(f"EWS error {code}")


def _found(message: Any) -> ReadReply:
    root = message.find(f"{_M}RootFolder")
    if root is None:
        raise ews_errors.MalformedResponseError("No RootFolder element in FindItem response")
    items_element = root.find(f"{_T}Items")
    items = []
    for item in items_element if items_element is not None else ():
        item_id = item.find(_ITEM_ID)
        if item_id is None:
            raise ews_errors.MalformedResponseError("FindItem listed an item without an ItemId")
        items.append(FoundItem(item_id.get("Id", ""), item_id.get("ChangeKey", ""), item.findtext(_SUBJECT) or ""))
    return ReadReply(tuple(items), root.get("IncludesLastItemInRange", "true") == "true")


__all__ = ["FoundItem", "ReadReply", "ReadRequest", "find_item_request", "get_folder_request", "send"]
