"""The lab's EWS endpoint (/EWS/Exchange.asmx): SOAP 1.1 as Exchange 2019 speaks it, impersonation decided by RBAC.

Operations: GetFolder, FindItem (IndexedPageItemView and CalendarView), GetItem, CreateItem, DeleteItem,
ConvertId, ResolveNames. Header-level problems (impersonation, throttling, schema) come back as SOAP faults
with HTTP 500, the shape exchangelib and the EWS Managed API parse; item-level problems as ResponseClass="Error"
messages, as in Microsoft's samples (https://learn.microsoft.com/exchange/client-developer/web-service-reference/).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from audit.lab.authz import Authorizer, Decision
from audit.lab.faults import FaultPlan
from audit.lab.http import LabRequest, LabResponse
from audit.lab.tenant import CalendarItem, DirectoryObject, Group, Recipient, Tenant

log = logging.getLogger(__name__)

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
# Microsoft's how-to samples declare the envelope as https (a 2020 docs edit, ews-samples README note 1); the
# lab accepts both spellings of the envelope namespace but answers with the real one.
SOAP_NS_DOCS = "https://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
CONTENT_TYPE = "text/xml; charset=utf-8"

_T = "{" + T_NS + "}"
_M = "{" + M_NS + "}"

# RequestServerVersion values an Exchange 2019 server accepts.
# https://learn.microsoft.com/exchange/client-developer/web-service-reference/requestserverversion
SUPPORTED_VERSIONS = frozenset(
    {
        "Exchange2007",
        "Exchange2007_SP1",
        "Exchange2009",
        "Exchange2010",
        "Exchange2010_SP1",
        "Exchange2010_SP2",
        "Exchange2013",
        "Exchange2013_SP1",
        "Exchange2015",
        "Exchange2016",
        "V2015_10_05",
        "V2016_01_06",
        "V2016_04_13",
        "V2016_07_13",
        "V2016_10_10",
        "V2017_01_07",
        "V2017_04_14",
        "V2017_07_11",
    }
)

MESSAGES = {
    "ErrorImpersonateUserDenied": "The account does not have permission to impersonate the requested user.",
    "ErrorImpersonationDenied": "The server to which the application is connected cannot impersonate the requested "
    "user due to insufficient permission.",
    "ErrorNonExistentMailbox": "The SMTP address has no mailbox associated with it.",
    "ErrorNonPrimarySmtpAddress": "The SMTP address isn't the primary SMTP address of the mailbox.",
    "ErrorServerBusy": "The server cannot service this request right now. Try again later.",
    "ErrorInvalidExchangeImpersonationHeaderData": "ExchangeImpersonation SOAP header must contain a user principal "
    "name, user SID, or primary SMTP address.",
    "ErrorInvalidSid": "The SID is not valid.",
    "ErrorInvalidServerVersion": "The specified server version is invalid.",
    "ErrorInvalidIdMalformed": "Id is malformed.",
    "ErrorItemNotFound": "The specified object was not found in the store.",
    "ErrorFolderNotFound": "The specified folder could not be found in the store.",
    "ErrorAccessDenied": "Access is denied. Check credentials and try again.",
    "ErrorNameResolutionNoResults": "No results were found.",
    "ErrorNameResolutionMultipleResults": "Multiple results were found.",
    "ErrorInvalidOperation": "The operation is not valid.",
    "ErrorInvalidRequest": "The request is invalid.",
    "ErrorSchemaValidation": "The request failed schema validation.",
    "ErrorUnsupportedPathForQuery": "The property path is not supported for a query.",
}

# Distinguished folders: id -> (element, display name, folder class).
FOLDERS: dict[str, tuple[str, str, str]] = {
    "root": ("Folder", "Root", ""),
    "msgfolderroot": ("Folder", "Top of Information Store", ""),
    "calendar": ("CalendarFolder", "Calendar", "IPF.Appointment"),
    "inbox": ("Folder", "Inbox", "IPF.Note"),
    "sentitems": ("Folder", "Sent Items", "IPF.Note"),
    "deleteditems": ("Folder", "Deleted Items", "IPF.Note"),
    "drafts": ("Folder", "Drafts", "IPF.Note"),
    "outbox": ("Folder", "Outbox", "IPF.Note"),
    "junkemail": ("Folder", "Junk Email", "IPF.Note"),
    "contacts": ("ContactsFolder", "Contacts", "IPF.Contact"),
    "tasks": ("TasksFolder", "Tasks", "IPF.Task"),
    "notes": ("Folder", "Notes", "IPF.StickyNote"),
    "journal": ("Folder", "Journal", "IPF.Journal"),
}
_FOLDER_PARENT = {"root": None, "msgfolderroot": "root"}


class EwsFault(Exception):
    """A header-level problem answered as a SOAP fault with HTTP 500."""

    def __init__(self, code: str, message: str | None = None, values: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, code)
        self.values = values or {}
        super().__init__(f"{code}: {self.message}")


@dataclass(frozen=True, slots=True)
class _Context:
    """Who is acting on which mailbox in one request."""

    caller: Recipient | None
    mailbox: Recipient | None
    impersonating: bool


class EwsStats:
    """Counters the control endpoint and the tests read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_operation: Counter[str] = Counter()
        self.by_account: Counter[str] = Counter()
        self.by_response: Counter[str] = Counter()
        self.by_mailbox: Counter[str] = Counter()
        self.by_identity_form: Counter[str] = Counter()  # ConnectingSID child element sent (PrimarySmtpAddress, ...)
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight = 0
        self.max_in_flight_by_account: Counter[str] = Counter()
        self.total = 0
        self.missing_anchor = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the counters as JSON-ready data."""
        with self.lock:
            return {
                "requests": self.total,
                "by_operation": dict(self.by_operation),
                "by_account": dict(self.by_account),
                "by_response": dict(self.by_response),
                "impersonated_mailboxes": len(self.by_mailbox),
                "by_identity_form": dict(self.by_identity_form),
                "max_in_flight": self.max_in_flight,
                "max_in_flight_by_account": dict(self.max_in_flight_by_account),
                "in_flight": sum(self.in_flight.values()),
                "impersonated_without_anchor": self.missing_anchor,
            }


class EwsHandler:
    """The /EWS/Exchange.asmx handler: call it with a LabRequest, get a LabResponse."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        authorizer: Authorizer | None = None,
        faults: FaultPlan | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tenant = tenant
        self.authorizer = authorizer or Authorizer(tenant)
        self.faults = faults or FaultPlan()
        self.stats = EwsStats()
        self._sleep = sleep
        org = tenant.organization
        major, minor, build, revision = org.build
        self._version_header = (
            f'<h:ServerVersionInfo MajorVersion="{major}" MinorVersion="{minor}" MajorBuildNumber="{build}" '
            f'MinorBuildNumber="{revision}" Version="V2017_07_11" xmlns:h="{T_NS}" xmlns="{T_NS}" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
        )

    def reset_stats(self) -> None:
        """Zero the counters."""
        self.stats = EwsStats()

    # -- entry point ---------------------------------------------------------------------------------------

    def __call__(self, request: LabRequest) -> LabResponse:
        """Serve one EWS request."""
        if request.method != "POST":
            # IIS answers a browser's GET of Exchange.asmx with a service page; clients only POST.
            return LabResponse(405, b"", "text/plain", {"Allow": "POST"})
        login = request.user or ""
        stats = self.stats
        caller = self.tenant.account_user(login) if login else None
        limit = self.tenant.ews_max_concurrency(caller) if caller is not None else None
        account_key = caller.sam_account_name if caller is not None else login
        with stats.lock:
            stats.total += 1
            stats.by_account[account_key] += 1
            stats.in_flight[account_key] += 1
            current = stats.in_flight[account_key]
            stats.max_in_flight = max(stats.max_in_flight, sum(stats.in_flight.values()))
            stats.max_in_flight_by_account[account_key] = max(stats.max_in_flight_by_account[account_key], current)
        try:
            operation = "?"
            try:
                latency = self.faults.latency_seconds("ews")
                if latency:
                    self._sleep(latency)
                # EWSMaxConcurrency: more requests in flight for one account than its policy allows are
                # refused with ErrorServerBusy (ews-throttling-in-exchange, "Throttling policy parameters").
                if limit is not None and current > limit:
                    raise EwsFault("ErrorServerBusy", values={"BackOffMilliseconds": str(self.faults.backoff_ms)})
                forced = self.faults.take_busy()
                if forced is not None:
                    raise EwsFault("ErrorServerBusy", values={"BackOffMilliseconds": str(forced)})
                envelope = _parse(request.body)
                header, body_op = _split_envelope(envelope)
                operation = body_op.tag.rsplit("}", 1)[-1]
                _check_version(header)
                context = self._context(caller, header, request)
                body = self._dispatch(operation, body_op, context)
                status = 200
                code = "NoError"
            except EwsFault as fault:
                body = self._fault(fault)
                status = 500
                code = fault.code
            with stats.lock:
                stats.by_operation[operation] += 1
                stats.by_response[code] += 1
            return LabResponse(status, body, CONTENT_TYPE)
        finally:
            with stats.lock:
                stats.in_flight[account_key] -= 1

    # -- header ------------------------------------------------------------------------------------------

    def _context(self, caller: Recipient | None, header: ET.Element | None, request: LabRequest) -> _Context:
        impersonation = header.find(_T + "ExchangeImpersonation") if header is not None else None
        if impersonation is None:
            own = caller if caller is not None and caller.has_mailbox else None
            return _Context(caller, own, False)
        connecting = impersonation.find(_T + "ConnectingSID")
        if connecting is None or len(connecting) != 1:
            raise EwsFault("ErrorInvalidExchangeImpersonationHeaderData")
        element = connecting[0]
        form = element.tag.rsplit("}", 1)[-1]
        value = (element.text or "").strip()
        if not value or form not in ("PrincipalName", "SID", "PrimarySmtpAddress", "SmtpAddress"):
            raise EwsFault("ErrorInvalidExchangeImpersonationHeaderData")
        login = request.user or ""
        with self.stats.lock:
            self.stats.by_identity_form[form] += 1
        # Each ConnectingSID form names the account by its own attribute: PrincipalName by userPrincipalName,
        # SID by objectSid, PrimarySmtpAddress and SmtpAddress by an SMTP proxy address ("cost an extra Active
        # Directory lookup in order to obtain the SID of the user"). Source: ODX web-service-reference
        # connectingsid.md (/work/shared/domain/exchange-rbac.md 8.1, wire-notes.md "Identity forms"). One
        # user's UPN may be another user's address; looking both up in one table answers for the wrong user.
        found: DirectoryObject | None
        if form == "SID":
            if not value.upper().startswith("S-1-"):
                raise EwsFault("ErrorInvalidSid")
            found = self.tenant.by_sid(value)
        elif form == "PrincipalName":
            found = self.tenant.by_upn(value)
        else:
            found = self.tenant.by_smtp(value)
            if (
                form == "PrimarySmtpAddress"
                and isinstance(found, Recipient)
                and found.primary_smtp
                and found.primary_smtp.casefold() != value.casefold()
            ):
                # PrimarySmtpAddress takes the primary address only; a proxy address is refused with
                # ErrorNonPrimarySmtpAddress, whose response names the primary (ODX primarysmtpaddress.md;
                # responsecode.md). SmtpAddress accepts any proxy address.
                raise EwsFault("ErrorNonPrimarySmtpAddress", values={"Primary": found.primary_smtp})
        target = found if isinstance(found, Recipient) else None
        if target is not None and not target.has_mailbox:
            target = None
        result = self.authorizer.decide_for(login, target)
        if result.decision is Decision.ALLOWED:
            # "When EWS Impersonation is used, the X-AnchorMailbox should always be correctly set"
            # (impersonation-and-ews-in-exchange); the lab counts requests that do not, so tests can tell.
            anchor = request.headers.get("X-AnchorMailbox", "").strip().lower()
            assert target is not None
            anchored = bool(anchor) and _has_address(target, anchor)
            with self.stats.lock:
                self.stats.by_mailbox[target.primary_smtp or ""] += 1
                if not anchored:
                    self.stats.missing_anchor += 1
            return _Context(caller, target, True)
        values = {"SmtpAddress": value} if result.decision is Decision.NO_MAILBOX and "Smtp" in form else None
        raise EwsFault(result.decision.value, values=values)

    # -- operations --------------------------------------------------------------------------------------

    def _dispatch(self, operation: str, op: ET.Element, ctx: _Context) -> bytes:
        handler = {
            "GetFolder": self._get_folder,
            "FindItem": self._find_item,
            "GetItem": self._get_item,
            "CreateItem": self._create_item,
            "DeleteItem": self._delete_item,
            "ConvertId": self._convert_id,
            "ResolveNames": self._resolve_names,
        }.get(operation)
        if handler is None:
            raise EwsFault(
                "ErrorInvalidRequest" if op.tag.startswith(_M) else "ErrorSchemaValidation",
                f"The request is invalid or the operation {operation!r} is not supported by this server.",
            )
        messages = handler(op, ctx)
        return self._envelope(f"{operation}Response", "".join(messages))

    def _mailbox_for(self, ctx: _Context, folder_id: ET.Element) -> tuple[Recipient | None, str | None]:
        """Return (mailbox, error code) for a DistinguishedFolderId that may name a Mailbox."""
        mailbox = ctx.mailbox
        explicit = folder_id.find(f"{_T}Mailbox/{_T}EmailAddress")
        if explicit is not None and (explicit.text or "").strip():
            # Mailbox/EmailAddress is an SMTP address (EmailAddressType), looked up by proxy address only.
            found = self.tenant.by_smtp((explicit.text or "").strip())
            named = found if isinstance(found, Recipient) and found.has_mailbox else None
            if named is None:
                return None, "ErrorNonExistentMailbox"
            if mailbox is None or named.dn != mailbox.dn:
                return None, "ErrorAccessDenied"  # delegate access to another mailbox is not granted here
            return named, None
        if mailbox is None:
            return None, "ErrorNonExistentMailbox"
        return mailbox, None

    def _resolve_folder(self, ctx: _Context, element: ET.Element) -> tuple[Recipient | None, str, str | None]:
        """Return (mailbox, distinguished name, error) for a DistinguishedFolderId or FolderId element."""
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "DistinguishedFolderId":
            name = element.get("Id", "")
            if name not in FOLDERS:
                return None, name, "ErrorFolderNotFound"
            mailbox, error = self._mailbox_for(ctx, element)
            return mailbox, name, error
        decoded = _decode_id(element.get("Id", ""), "F")
        if decoded is None:
            return None, "", "ErrorInvalidIdMalformed"
        guid, name = decoded
        if ctx.mailbox is None or ctx.mailbox.guid != guid:
            owner = self.tenant.resolve(guid)
            return None, name, "ErrorAccessDenied" if owner is not None else "ErrorFolderNotFound"
        return ctx.mailbox, name, None

    def _get_folder(self, op: ET.Element, ctx: _Context) -> list[str]:
        shape = op.find(_M + "FolderShape")
        base = (shape.findtext(_T + "BaseShape") or "Default") if shape is not None else "Default"
        requested = _requested_fields(shape)
        ids = op.find(_M + "FolderIds")
        if ids is None or len(ids) == 0:
            raise EwsFault("ErrorSchemaValidation", "The request failed schema validation: FolderIds is required.")
        out = []
        for element in ids:
            mailbox, name, error = self._resolve_folder(ctx, element)
            if error is not None or mailbox is None:
                out.append(
                    _error_message("GetFolderResponseMessage", error or "ErrorNonExistentMailbox", "<m:Folders/>")
                )
                continue
            out.append(
                '<m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
                f"<m:Folders>{self._folder_xml(mailbox, name, base, requested)}</m:Folders>"
                "</m:GetFolderResponseMessage>"
            )
        return out

    def _folder_xml(self, mailbox: Recipient, name: str, base: str, requested: set[str]) -> str:
        element, display, folder_class = FOLDERS[name]
        everything = base in ("Default", "AllProperties")
        parts = [f'<t:FolderId Id={quoteattr(_encode_id("F", mailbox.guid, name))} ChangeKey="AQAAABYAAAA="/>']

        def want(field: str) -> bool:
            return everything or field in requested

        parent = _FOLDER_PARENT.get(name, "msgfolderroot")
        if parent is not None and (base == "AllProperties" or "ParentFolderId" in requested):
            parts.append(
                f'<t:ParentFolderId Id={quoteattr(_encode_id("F", mailbox.guid, parent))} ChangeKey="AQAAAA=="/>'
            )
        if folder_class and (base == "AllProperties" or "FolderClass" in requested):
            parts.append(f"<t:FolderClass>{folder_class}</t:FolderClass>")
        if want("DisplayName"):
            parts.append(f"<t:DisplayName>{escape(display)}</t:DisplayName>")
        if want("TotalCount"):
            count = len(self.tenant.calendars.items(mailbox.primary_smtp or "")) if name == "calendar" else 0
            parts.append(f"<t:TotalCount>{count}</t:TotalCount>")
        if want("ChildFolderCount"):
            children = len(FOLDERS) - 2 if name == "msgfolderroot" else 1 if name == "root" else 0
            parts.append(f"<t:ChildFolderCount>{children}</t:ChildFolderCount>")
        if base == "AllProperties" or "EffectiveRights" in requested:
            parts.append(
                "<t:EffectiveRights><t:CreateAssociated>true</t:CreateAssociated><t:CreateContents>true"
                "</t:CreateContents><t:CreateHierarchy>true</t:CreateHierarchy><t:Delete>true</t:Delete>"
                "<t:Modify>true</t:Modify><t:Read>true</t:Read><t:ViewPrivateItems>true</t:ViewPrivateItems>"
                "</t:EffectiveRights>"
            )
        if "DistinguishedFolderId" in requested:
            parts.append(f"<t:DistinguishedFolderId>{name}</t:DistinguishedFolderId>")
        if element == "Folder" and want("UnreadCount"):
            parts.append("<t:UnreadCount>0</t:UnreadCount>")
        return f"<t:{element}>{''.join(parts)}</t:{element}>"

    def _find_item(self, op: ET.Element, ctx: _Context) -> list[str]:
        parents = op.find(_M + "ParentFolderIds")
        if parents is None or len(parents) == 0:
            raise EwsFault(
                "ErrorSchemaValidation", "The request failed schema validation: ParentFolderIds is required."
            )
        shape = op.find(_M + "ItemShape")
        base = (shape.findtext(_T + "BaseShape") or "Default") if shape is not None else "Default"
        requested = _requested_fields(shape)
        view = op.find(_M + "CalendarView")
        paged = op.find(_M + "IndexedPageItemView")
        out = []
        for element in parents:
            mailbox, name, error = self._resolve_folder(ctx, element)
            if error is not None or mailbox is None:
                out.append(_error_message("FindItemResponseMessage", error or "ErrorNonExistentMailbox"))
                continue
            items = self.tenant.calendars.items(mailbox.primary_smtp or "") if name == "calendar" else []
            restriction = op.find(_M + "Restriction")
            if restriction is not None and len(restriction):
                try:
                    test = _restriction(restriction[0])
                except _UnsupportedQuery:
                    out.append(_error_message("FindItemResponseMessage", "ErrorUnsupportedPathForQuery"))
                    continue
                items = [i for i in items if test(i)]
            offset = 0
            limit: int | None = None
            if view is not None:
                start, end = view.get("StartDate", ""), view.get("EndDate", "")
                try:
                    lo, hi = _parse_time(start), _parse_time(end)
                except ValueError:
                    out.append(_error_message("FindItemResponseMessage", "ErrorInvalidRequest"))
                    continue
                items = [i for i in items if _overlaps(i, lo, hi)]
                items.sort(key=lambda i: i.start)
                limit = int(view.get("MaxEntriesReturned", "0") or 0) or None
            elif paged is not None:
                offset = int(paged.get("Offset", "0") or 0)
                limit = int(paged.get("MaxEntriesReturned", "0") or 0) or None
            total = len(items)
            window = items[offset : offset + limit if limit is not None else None]
            last = offset + len(window) >= total
            paging = f' IndexedPagingOffset="{offset + len(window)}"' if paged is not None else ""
            rendered = "".join(_item_xml(i, base, requested) for i in window)
            out.append(
                '<m:FindItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
                f'<m:RootFolder{paging} TotalItemsInView="{total}" IncludesLastItemInRange="{str(last).lower()}">'
                f"<t:Items>{rendered}</t:Items></m:RootFolder></m:FindItemResponseMessage>"
            )
        return out

    def _get_item(self, op: ET.Element, ctx: _Context) -> list[str]:
        ids = op.find(_M + "ItemIds")
        shape = op.find(_M + "ItemShape")
        base = (shape.findtext(_T + "BaseShape") or "Default") if shape is not None else "Default"
        requested = _requested_fields(shape)
        out = []
        for element in ids if ids is not None else []:
            item = self._item_for(ctx, element.get("Id", ""))
            if isinstance(item, str):
                out.append(_error_message("GetItemResponseMessage", item, "<m:Items/>"))
                continue
            out.append(
                '<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
                f"<m:Items>{_item_xml(item, base, requested)}</m:Items>"
                "</m:GetItemResponseMessage>"
            )
        return out

    def _item_for(self, ctx: _Context, item_id: str) -> CalendarItem | str:
        if ctx.mailbox is None:
            return "ErrorNonExistentMailbox"
        if not item_id.startswith("AAMk"):
            return "ErrorInvalidIdMalformed"
        item = self.tenant.calendars.get(ctx.mailbox.primary_smtp or "", item_id)
        return item if item is not None else "ErrorItemNotFound"

    def _create_item(self, op: ET.Element, ctx: _Context) -> list[str]:
        items = op.find(_M + "Items")
        if items is None or len(items) == 0:
            raise EwsFault("ErrorSchemaValidation", "The request failed schema validation: Items is required.")
        saved = op.find(_M + "SavedItemFolderId")
        out = []
        for element in items:
            if ctx.mailbox is None:
                out.append(_error_message("CreateItemResponseMessage", "ErrorNonExistentMailbox", "<m:Items/>"))
                continue
            if saved is not None and len(saved):
                _mailbox, folder, error = self._resolve_folder(ctx, saved[0])
                if error is not None or folder != "calendar":
                    out.append(
                        _error_message("CreateItemResponseMessage", error or "ErrorInvalidRequest", "<m:Items/>")
                    )
                    continue
            if element.tag != _T + "CalendarItem":
                out.append(_error_message("CreateItemResponseMessage", "ErrorInvalidRequest", "<m:Items/>"))
                continue
            start = element.findtext(_T + "Start") or ""
            end = element.findtext(_T + "End") or ""
            try:
                _parse_time(start)
                _parse_time(end)
            except ValueError:
                out.append(_error_message("CreateItemResponseMessage", "ErrorInvalidRequest", "<m:Items/>"))
                continue
            item = self.tenant.calendars.create(
                ctx.mailbox.primary_smtp or "",
                subject=element.findtext(_T + "Subject") or "",
                start=start,
                end=end,
                legacy_free_busy=element.findtext(_T + "LegacyFreeBusyStatus") or "Busy",
                sensitivity=element.findtext(_T + "Sensitivity") or "Normal",
            )
            out.append(
                '<m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
                f"<m:Items><t:CalendarItem><t:ItemId Id={quoteattr(item.item_id)} "
                f"ChangeKey={quoteattr(item.change_key)}/></t:CalendarItem></m:Items></m:CreateItemResponseMessage>"
            )
        return out

    def _delete_item(self, op: ET.Element, ctx: _Context) -> list[str]:
        ids = op.find(_M + "ItemIds")
        if ids is None or len(ids) == 0:
            raise EwsFault("ErrorSchemaValidation", "The request failed schema validation: ItemIds is required.")
        out = []
        for element in ids:
            item = self._item_for(ctx, element.get("Id", ""))
            if isinstance(item, str):
                out.append(_error_message("DeleteItemResponseMessage", item))
                continue
            assert ctx.mailbox is not None
            self.tenant.calendars.delete(ctx.mailbox.primary_smtp or "", item.item_id)
            out.append(
                '<m:DeleteItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
                "</m:DeleteItemResponseMessage>"
            )
        return out

    def _convert_id(self, op: ET.Element, ctx: _Context) -> list[str]:
        destination = op.get("DestinationFormat", "EwsId")
        source = op.find(_M + "SourceIds")
        out = []
        for element in source if source is not None else []:
            raw = element.get("Id", "")
            mailbox = element.get("Mailbox", "")
            known = raw.startswith("AAMk") or _decode_id(raw, "F") is not None
            if not known:
                # exchangelib's auth and version probe sends Id="DUMMY"; Exchange answers this error message
                # (and the ServerVersionInfo header, which is all the probe reads).
                out.append(_error_message("ConvertIdResponseMessage", "ErrorInvalidIdMalformed"))
                continue
            out.append(
                '<m:ConvertIdResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
                f'<m:AlternateId xsi:type="t:AlternateIdType" Format={quoteattr(destination)} Id={quoteattr(raw)} '
                f"Mailbox={quoteattr(mailbox)}/></m:ConvertIdResponseMessage>"
            )
        return out

    def _resolve_names(self, op: ET.Element, ctx: _Context) -> list[str]:
        entry = (op.findtext(_M + "UnresolvedEntry") or "").strip()
        full = op.get("ReturnFullContactData", "false").lower() == "true"
        needle = entry.lower().removeprefix("smtp:")
        found: list[Recipient | Group] = []
        if needle:
            for user in self.tenant.recipients:
                # Hidden recipients are not in the address lists ResolveNames searches.
                if not user.has_mailbox or user.hidden_from_address_lists:
                    continue
                keys = (user.name, user.display_name, user.alias, user.primary_smtp or "")
                if any(k.lower().startswith(needle) for k in keys) or any(
                    a.split(":", 1)[1].lower() == needle for a in user.email_addresses
                ):
                    found.append(user)
                    if len(found) >= 100:
                        break
            for group in self.tenant.groups:
                if group.primary_smtp is None or group.hidden_from_address_lists:
                    continue
                if any(k.lower().startswith(needle) for k in (group.name, group.display_name, group.alias)):
                    found.append(group)
        if not found:
            return [_error_message("ResolveNamesResponseMessage", "ErrorNameResolutionNoResults")]
        resolutions = []
        for obj in found:
            smtp = escape(obj.primary_smtp or "")
            is_group = not isinstance(obj, Recipient)
            mailbox_type = "PublicDL" if is_group else "Mailbox"
            contact = ""
            if full:
                contact = (
                    f"<t:Contact><t:DisplayName>{escape(obj.display_name)}</t:DisplayName><t:EmailAddresses>"
                    f'<t:Entry Key="EmailAddress1">SMTP:{smtp}</t:Entry></t:EmailAddresses>'
                    "<t:ContactSource>ActiveDirectory</t:ContactSource></t:Contact>"
                )
            resolutions.append(
                f"<t:Resolution><t:Mailbox><t:Name>{escape(obj.display_name)}</t:Name><t:EmailAddress>{smtp}"
                f"</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>{mailbox_type}</t:MailboxType>"
                f"</t:Mailbox>{contact}</t:Resolution>"
            )
        if len(found) > 1:
            head = (
                '<m:ResolveNamesResponseMessage ResponseClass="Warning"><m:MessageText>'
                f"{MESSAGES['ErrorNameResolutionMultipleResults']}</m:MessageText>"
                "<m:ResponseCode>ErrorNameResolutionMultipleResults</m:ResponseCode>"
                "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
            )
        else:
            head = '<m:ResolveNamesResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        return [
            f'{head}<m:ResolutionSet TotalItemsInView="{len(found)}" IncludesLastItemInRange="true">'
            f"{''.join(resolutions)}</m:ResolutionSet></m:ResolveNamesResponseMessage>"
        ]

    # -- rendering --------------------------------------------------------------------------------------

    def _envelope(self, response: str, messages: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{SOAP_NS}"><s:Header>{self._version_header}</s:Header>'
            '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
            f'<m:{response} xmlns:m="{M_NS}" xmlns:t="{T_NS}"><m:ResponseMessages>{messages}</m:ResponseMessages>'
            f"</m:{response}></s:Body></s:Envelope>"
        ).encode()

    def _fault(self, fault: EwsFault) -> bytes:
        values = "".join(f"<t:Value Name={quoteattr(k)}>{escape(v)}</t:Value>" for k, v in fault.values.items())
        message_xml = f'<t:MessageXml xmlns:t="{T_NS}">{values}</t:MessageXml>' if values else ""
        faultcode = "s:Client" if fault.code == "ErrorSchemaValidation" else f"a:{fault.code}"
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{SOAP_NS}"><s:Header>{self._version_header}</s:Header><s:Body><s:Fault>'
            f'<faultcode xmlns:a="{T_NS}">{faultcode}</faultcode>'
            f'<faultstring xml:lang="en-US">{escape(fault.message)}</faultstring><detail>'
            f'<e:ResponseCode xmlns:e="{E_NS}">{fault.code}</e:ResponseCode>'
            f'<e:Message xmlns:e="{E_NS}">{escape(fault.message)}</e:Message>{message_xml}'
            "</detail></s:Fault></s:Body></s:Envelope>"
        ).encode()


# ----------------------------------------------------------------------------------------------------------
# helpers


def _parse(body: bytes) -> ET.Element:
    if not body.strip():
        raise _schema_error("The request body is empty.", 0, 0)
    head = body[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise _schema_error("DTDs are not allowed.", 1, 1)
    try:
        return ET.fromstring(body)  # noqa: S314 - DOCTYPE/ENTITY refused above; expat does not fetch anything
    except ET.ParseError as exc:
        line, column = exc.position
        raise _schema_error(f"The XML is not well-formed: {exc}", line, column) from exc
    except (LookupError, ValueError) as exc:  # an unknown encoding in the XML declaration, bad code points
        raise _schema_error(f"The XML cannot be decoded: {exc}", 1, 1) from exc


def _schema_error(violation: str, line: int, column: int) -> EwsFault:
    return EwsFault(
        "ErrorSchemaValidation",
        f"The request failed schema validation: {violation}",
        {"LineNumber": str(line), "LinePosition": str(column), "Violation": violation},
    )


def _split_envelope(envelope: ET.Element) -> tuple[ET.Element | None, ET.Element]:
    if envelope.tag not in (f"{{{SOAP_NS}}}Envelope", f"{{{SOAP_NS_DOCS}}}Envelope"):
        raise _schema_error(f"The root element must be a SOAP 1.1 Envelope, not {envelope.tag!r}.", 1, 1)
    ns = envelope.tag[1:].split("}", 1)[0]
    header = envelope.find(f"{{{ns}}}Header")
    body = envelope.find(f"{{{ns}}}Body")
    if body is None or len(body) != 1:
        raise _schema_error("The SOAP Body must hold exactly one operation element.", 1, 1)
    return header, body[0]


def _check_version(header: ET.Element | None) -> None:
    element = header.find(_T + "RequestServerVersion") if header is not None else None
    if element is None:
        return  # no header: Exchange assumes Exchange2007 (RequestServerVersion remarks)
    if element.get("Version", "") not in SUPPORTED_VERSIONS:
        raise EwsFault("ErrorInvalidServerVersion")


def _requested_fields(shape: ET.Element | None) -> set[str]:
    if shape is None:
        return set()
    return {f.get("FieldURI", "").split(":", 1)[-1] for f in shape.iter(_T + "FieldURI")}


def _has_address(user: Recipient, address: str) -> bool:
    wanted = address.lower().removeprefix("smtp:")
    return any(a.split(":", 1)[1].lower() == wanted for a in user.email_addresses)


def _encode_id(kind: str, guid: str, name: str) -> str:
    return base64.b64encode(f"{kind}:{guid}:{name}".encode()).decode("ascii")


def _decode_id(value: str, kind: str) -> tuple[str, str] | None:
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != kind or parts[2] not in FOLDERS:
        return None
    return parts[1], parts[2]


def _error_message(element: str, code: str, trailer: str = "") -> str:
    return (
        f'<m:{element} ResponseClass="Error"><m:MessageText>{escape(MESSAGES.get(code, code))}</m:MessageText>'
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{trailer}</m:{element}>"
    )


def _parse_time(value: str) -> datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _overlaps(item: CalendarItem, lo: datetime, hi: datetime) -> bool:
    try:
        return _parse_time(item.start) < hi and _parse_time(item.end) > lo
    except ValueError:
        return False


class _UnsupportedQuery(Exception):
    """A FindItem restriction names a property or operator the lab does not evaluate."""


_ITEM_FIELDS: dict[str, Callable[[CalendarItem], str]] = {
    "item:Subject": lambda i: i.subject,
    "calendar:Start": lambda i: i.start,
    "calendar:End": lambda i: i.end,
    "calendar:LegacyFreeBusyStatus": lambda i: i.legacy_free_busy,
    "item:Sensitivity": lambda i: i.sensitivity,
}
_COMPARISONS: dict[str, Callable[[int], bool]] = {
    "IsEqualTo": lambda c: c == 0,
    "IsNotEqualTo": lambda c: c != 0,
    "IsGreaterThan": lambda c: c > 0,
    "IsGreaterThanOrEqualTo": lambda c: c >= 0,
    "IsLessThan": lambda c: c < 0,
    "IsLessThanOrEqualTo": lambda c: c <= 0,
}


def _restriction(element: ET.Element) -> Callable[[CalendarItem], bool]:
    """Compile the subset of an EWS search expression the lab evaluates (Contains, comparisons, And/Or/Not)."""
    tag = element.tag.rsplit("}", 1)[-1]
    children = list(element)
    if tag in ("And", "Or"):
        parts = [_restriction(c) for c in children]
        return (lambda i: all(p(i) for p in parts)) if tag == "And" else (lambda i: any(p(i) for p in parts))
    if tag == "Not" and len(children) == 1:
        inner = _restriction(children[0])
        return lambda i: not inner(i)
    field_uri = element.find(_T + "FieldURI")
    getter = _ITEM_FIELDS.get(field_uri.get("FieldURI", "")) if field_uri is not None else None
    if getter is None:
        raise _UnsupportedQuery(tag)
    if tag == "Exists":
        return lambda i: bool(getter(i))
    constant = element.find(f"{_T}Constant")
    if constant is None:
        constant = element.find(f"{_T}FieldURIOrConstant/{_T}Constant")
    if constant is None:
        raise _UnsupportedQuery(tag)
    value = constant.get("Value", "")
    if tag == "Contains":
        # https://learn.microsoft.com/exchange/client-developer/web-service-reference/contains
        mode = element.get("ContainmentMode", "Substring")
        fold = element.get("ContainmentComparison", "Exact") != "Exact"
        wanted = value.lower() if fold else value

        def contains(i: CalendarItem) -> bool:
            text = getter(i).lower() if fold else getter(i)
            if mode == "FullString":
                return text == wanted
            if mode == "Prefixed":
                return text.startswith(wanted)
            return wanted in text

        return contains
    compare = _COMPARISONS.get(tag)
    if compare is None:
        raise _UnsupportedQuery(tag)
    timed = field_uri is not None and field_uri.get("FieldURI") in ("calendar:Start", "calendar:End")

    def comparison(i: CalendarItem) -> bool:
        left, right = getter(i), value
        if timed:
            try:
                a, b = _parse_time(left), _parse_time(right)
            except ValueError:
                return False
            return compare((a > b) - (a < b))
        return compare((left > right) - (left < right))

    return comparison


def _item_xml(item: CalendarItem, base: str, requested: set[str]) -> str:
    parts = [f"<t:ItemId Id={quoteattr(item.item_id)} ChangeKey={quoteattr(item.change_key)}/>"]
    full = base in ("Default", "AllProperties")
    if full or "Subject" in requested:
        parts.append(f"<t:Subject>{escape(item.subject)}</t:Subject>")
    if full or "Sensitivity" in requested:
        parts.append(f"<t:Sensitivity>{escape(item.sensitivity)}</t:Sensitivity>")
    if full or "Start" in requested:
        parts.append(f"<t:Start>{escape(item.start)}</t:Start>")
    if full or "End" in requested:
        parts.append(f"<t:End>{escape(item.end)}</t:End>")
    if full or "LegacyFreeBusyStatus" in requested:
        parts.append(f"<t:LegacyFreeBusyStatus>{escape(item.legacy_free_busy)}</t:LegacyFreeBusyStatus>")
    return f"<t:CalendarItem>{''.join(parts)}</t:CalendarItem>"
