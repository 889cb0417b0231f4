"""Exchange Online cmdlets over the Admin API REST transport the ExchangeOnlineManagement v3 module itself uses.

``POST {base}/adminapi/beta/{tenant}/InvokeCommand`` with ``{"CmdletInput": {"CmdletName", "Parameters"}}`` and an
app-only bearer token for ``https://outlook.office365.com``; the reply is ``{"value": [...], "@odata.nextLink"}``
and the next page is read by POSTing the same body to the link (exo-2026.md §2b: ScubaGear ``EXORestHelper.psm1``,
CIPP ``New-ExoRequest.ps1``). The transport is undocumented; everything here reads it defensively.

Read-only is enforced before anything is sent: only the verbs the plan allows (Get, and Test for
Test-ServicePrincipalAuthorization) ever leave the process.
"""

from __future__ import annotations

import time
import urllib.parse
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any

import requests

from audit.collect import https
from audit.collect.interface import CmdletResult, ErrorKind, TransportFailure, require_read_only
from audit.errors import CmdletUnavailableError
from audit.target.tokens import MANAGE_AS_APP, token_roles

ANCHOR_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
"""The arbitration mailbox the module anchors app-only calls on (CIPP: ``APP:SystemMailbox{bb558c35-...}@<tenant>``)."""

PAGE_SIZE = 1000
MAX_PAGES = 10_000
MAX_THROTTLE_RETRIES = 10  # each within the call's deadline, which is the real bound

_READ_ROLE_GROUP = "View-Only Organization Management"

TokenProvider = Callable[[], str]
"""Returns a bearer token for the Admin API (raises CollectionError when none can be had)."""


def missing_role(cmdlet: str) -> tuple[str, str]:
    """The role (and the role group holding it) that exposes ``cmdlet`` to the auditing app's service principal.

    Test-ServicePrincipalAuthorization's role entry is UNVERIFIED for View-Only Organization Management
    (exo-2026.md §2a); Organization Management holds it for certain.
    """
    noun = cmdlet.partition("-")[2].lower()
    if cmdlet.lower() == "test-serviceprincipalauthorization":
        return "Role Management", "Organization Management (or a custom read-only group holding this cmdlet)"
    if noun in {"recipient", "mailbox", "user", "group", "distributiongroup"}:
        return "View-Only Recipients", _READ_ROLE_GROUP
    return "View-Only Configuration", _READ_ROLE_GROUP


class AppCmdletUnavailableError(CmdletUnavailableError):
    """The auditing app's service principal lacks the Exchange role exposing a cmdlet (InvokeCommand 401)."""

    def __init__(self, cmdlet: str, role: str, role_group: str) -> None:
        super().__init__(cmdlet, role, role_group)
        self.args = (
            f"{cmdlet} is not available to the auditing app (InvokeCommand 401 'not allowed to call'): it needs the "
            f"'{role}' role; add the app's service principal to '{role_group}' (New-ServicePrincipal, then "
            "Add-RoleGroupMember -Member <its ObjectId>)",
        )

    def __str__(self) -> str:
        return str(self.args[0])


class AdminApiRunner:
    """A :class:`audit.collect.interface.CmdletRunner` over InvokeCommand; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        tenant: str,
        token: TokenProvider,
        *,
        verify: bool | str = True,
        verbs: Collection[str] = ("Get", "Test"),
        page_size: int = PAGE_SIZE,
        max_reply_bytes: int = https.DEFAULT_MAX_REPLY_BYTES,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tenant = tenant
        self.url = f"{self.base_url}/adminapi/beta/{urllib.parse.quote(tenant, safe='')}/InvokeCommand"
        self._token = token
        self.verbs = tuple(verbs)
        self.page_size = page_size
        self.max_reply_bytes = max_reply_bytes
        self.session = session or https.make_session(verify, pool=16)
        self.pages = 0  # POSTs sent, paging included (benchmarks compare it)

    def _headers(self, cmdlet: str, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            # The gateway routes on this hint and refuses a call without it (azapptoolkit; exo-2026.md §2b).
            "X-AnchorMailbox": f"APP:{ANCHOR_MAILBOX}@{self.tenant}",
            "Prefer": f"odata.maxpagesize={self.page_size}",
            "X-ResponseFormat": "json",
            "X-CmdletName": cmdlet,
            "client-request-id": str(uuid.uuid4()),
        }

    def run(
        self, cmdlet: str, params: Mapping[str, object], timeout: float, properties: Collection[str] | None = None
    ) -> CmdletResult:
        """Run one read-only cmdlet, following every page; see :class:`audit.collect.interface.CmdletRunner`."""
        require_read_only(cmdlet, self.verbs)
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(params)}}
        deadline = time.monotonic() + timeout
        token = self._token()
        keep = {p.lower() for p in properties} if properties is not None else None
        objects: list[dict[str, Any]] = []
        warnings: list[str] = []
        url = self.url
        pages = 0
        while True:
            pages += 1
            if pages > MAX_PAGES:
                raise TransportFailure(
                    f"{cmdlet}: more than {MAX_PAGES} pages; refusing to read on", ErrorKind.TRANSPORT, fatal=False
                )
            reply = self._post(cmdlet, url, body, token, deadline)
            if reply.status >= 400:
                return self._failed(cmdlet, reply, token, objects)
            page = reply.body
            if not isinstance(page, dict) or not isinstance(page.get("value", []), (list, type(None))):
                raise TransportFailure(
                    f"{self.url} answered {cmdlet} with a reply that is not an OData collection",
                    ErrorKind.TRANSPORT,
                    fatal=False,
                )
            for item in page.get("value") or []:
                if not isinstance(item, dict):
                    raise TransportFailure(
                        f"{cmdlet} returned a value that is not an object", ErrorKind.TRANSPORT, fatal=False
                    )
                objects.append(
                    {k: v for k, v in item.items() if not k.startswith("@") and (keep is None or k.lower() in keep)}
                )
            for w in page.get("@adminapi.warnings") or []:
                warnings.append(str(w))
            link = page.get("@odata.nextLink") or page.get("odata.nextLink")
            if not link:
                break
            link = urllib.parse.urljoin(url, str(link))
            if not https.same_origin(self.base_url, link):
                # The bearer token is for this origin only: a link elsewhere would hand it to another host.
                raise TransportFailure(
                    f"{cmdlet}: the next page link points to another host ({https.origin(link)[1]}); refusing to "
                    "send the token there",
                    ErrorKind.TRANSPORT,
                    fatal=True,
                )
            url = link
        errors: list[str] = []
        kind: str | None = None
        for text in warnings:
            # Exchange warns instead of failing when -ResultSize cut the result: missing data, never complete.
            if "resultsize" in text.lower() or "more results" in text.lower():
                errors.append(f"{cmdlet} returned a truncated result: {text[:300]}")
                kind = ErrorKind.TRUNCATED
        return CmdletResult(objects=objects, errors=errors, error_kind=kind, type_names=[() for _ in objects])

    def _post(self, cmdlet: str, url: str, body: dict[str, Any], token: str, deadline: float) -> https.Reply:
        """POST one page, waiting out 429/503 Retry-After within the deadline."""
        attempt = 0
        while True:
            attempt += 1
            self.pages += 1
            try:
                reply = https.send(
                    self.session,
                    "POST",
                    url,
                    deadline=deadline,
                    headers=self._headers(cmdlet, token),
                    body=body,
                    max_bytes=self.max_reply_bytes,
                )
            except https.ReplyTooLarge as exc:
                raise TransportFailure(f"{cmdlet}: {exc}; refusing it", ErrorKind.TRANSPORT, fatal=False) from None
            except TimeoutError as exc:
                raise TransportFailure(
                    f"{cmdlet} at {self.url}: {exc} (raise --timeout if it is just slow)",
                    ErrorKind.TIMEOUT,
                    fatal=False,
                ) from None
            except requests.exceptions.SSLError:
                raise TransportFailure(
                    f"TLS verification of {self.base_url} failed: pass --ca-bundle with the CA that issued its "
                    "certificate",
                    ErrorKind.TLS,
                    fatal=True,
                ) from None
            except requests.exceptions.Timeout:
                raise TransportFailure(
                    f"{cmdlet} at {self.url}: no reply in time", ErrorKind.TIMEOUT, fatal=False
                ) from None
            except requests.exceptions.ConnectionError as exc:
                raise TransportFailure(
                    f"cannot connect to {self.base_url} ({type(exc).__name__}): check --adminapi-url",
                    ErrorKind.CONNECTION,
                    fatal=True,
                ) from None
            except requests.exceptions.RequestException as exc:
                raise TransportFailure(
                    f"{cmdlet}: {type(exc).__name__} talking to {self.base_url}", ErrorKind.TRANSPORT, fatal=False
                ) from None
            if reply.status in (429, 503) and attempt <= MAX_THROTTLE_RETRIES:
                wait = reply.retry_after if reply.retry_after is not None else float(attempt)
                if time.monotonic() + wait < deadline:
                    time.sleep(wait)
                    continue
            return reply

    def _failed(self, cmdlet: str, reply: https.Reply, token: str, objects: list[dict[str, Any]]) -> CmdletResult:
        code, message = https.error_message(reply.body, reply.text)
        code, message = https.scrub(code, token)[:100], https.scrub(message, token)
        if reply.status == 401:
            roles = token_roles(token)
            if roles is not None and MANAGE_AS_APP not in roles:
                raise TransportFailure(
                    f"the Admin API refused the auditing app (HTTP 401): its token lacks the Entra app role "
                    f"{MANAGE_AS_APP}; grant it under API permissions > Office 365 Exchange Online > Application "
                    "permissions, with admin consent",
                    ErrorKind.AUTH,
                    fatal=True,
                )
            if "not allowed to call" in message.lower():
                role, group = missing_role(cmdlet)
                raise AppCmdletUnavailableError(cmdlet, role, group)
            raise TransportFailure(
                f"the Admin API refused the auditing app's token (HTTP 401 {code}): {message or 'no reason given'}",
                ErrorKind.AUTH,
                fatal=True,
            )
        if reply.status == 403:
            raise TransportFailure(
                f"the Admin API refused {cmdlet} (HTTP 403 {code}): {message or 'forbidden'}",
                ErrorKind.AUTH,
                fatal=True,
            )
        if reply.status in (429, 503):
            raise TransportFailure(
                f"{cmdlet}: throttled (HTTP {reply.status}) past the call's timeout", ErrorKind.TIMEOUT, fatal=False
            )
        if reply.status >= 500:
            raise TransportFailure(
                f"{cmdlet}: the Admin API failed (HTTP {reply.status} {code}): {message[:200]}",
                ErrorKind.TRANSPORT,
                fatal=False,
            )
        if not isinstance(reply.body, dict) or not isinstance(reply.body.get("error"), dict):
            raise TransportFailure(
                f"{cmdlet}: HTTP {reply.status} without an OData error", ErrorKind.TRANSPORT, fatal=False
            )
        # A 400 with an error is the cmdlet's own error (ManagementObjectNotFound, a bad parameter): it ran.
        return CmdletResult(
            objects=objects,
            errors=[f"{message or code} ({code})" if code else message],
            error_kind=code or ErrorKind.TERMINATING,
            type_names=[() for _ in objects],
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()
