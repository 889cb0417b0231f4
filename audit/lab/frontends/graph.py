"""Microsoft Graph (/v1.0 and /beta): the Entra reads an auditor needs, and mailbox calendar access for apps.

Entra: ``servicePrincipals(appId='…')``, ``servicePrincipals?$filter=appId eq '…'``, ``servicePrincipals/{id}``,
``servicePrincipals/{id}/appRoleAssignments`` (DELETE of one: admin app only), the resource service principals
with their ``appRoles``, ``directory/administrativeUnits/{id}/members``. Mailboxes: ``users/{id}/calendar``,
``users/{id}/calendar/events`` (``$filter`` on subject), ``POST users/{id}/events``, ``DELETE
users/{id}/events/{eid}``, decided by the union of the token's Entra roles, RBAC for Applications and Application
Access Policies (audit.lab.exo_authz). ``$batch``: at most 20 requests, dispatched four at a time ("Microsoft Graph
dispatches up to four individual requests from a batch to the Outlook service simultaneously"), each answered with
its own status, headers and body (domain/exo-2026.md section 3).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import threading
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from audit.lab.exo import GRAPH_AUDIENCE, RESOURCES, EntraApp, ExoState, replace_state
from audit.lab.exo_authz import AppAuthorizer, AppOutcome
from audit.lab.frontends import ExoContext, json_response, read_json
from audit.lab.http import LabRequest, LabResponse
from audit.lab.tenant import CalendarItem, Recipient, Tenant
from audit.lab.tokens import TokenError, bearer

MAX_BATCH = 20
BATCH_CONCURRENCY = 4
READ_SP = frozenset({"Application.Read.All", "Directory.Read.All", "AppRoleAssignment.ReadWrite.All"})
READ_AU = frozenset({"AdministrativeUnit.Read.All", "Directory.Read.All"})
WRITE_GRANTS = frozenset({"AppRoleAssignment.ReadWrite.All"})
WRITE_USERS = frozenset({"User.ReadWrite.All"})
_SUBJECT_FILTER = re.compile(r"^\s*(?:subject\s+eq\s+'(.*)'|startswith\(\s*subject\s*,\s*'(.*)'\s*\))\s*$", re.I)


@dataclass(frozen=True, slots=True)
class Caller:
    """The app behind a verified token."""

    app: EntraApp
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class Reply:
    """One Graph answer, before it becomes an HTTP response or a $batch sub-response."""

    status: int
    body: Any = None
    headers: Mapping[str, str] | None = None


def graph_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    """Graph's error shape."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    inner = {"date": now, "request-id": "00000000-0000-0000-0000-000000000000", "client-request-id": ""}
    return Reply(status, {"error": {"code": code, "message": message, "innerError": inner}}, headers)


# The two 403 bodies (exo-2026.md section 3): the common refusal, and the one documented for an AAP refusal.
ACCESS_DENIED = "Access is denied. Check credentials and try again."
ODATA_DISABLED = "Access to OData is disabled."


class Graph:
    """The /v1.0 and /beta handler."""

    def __init__(self, ctx: ExoContext) -> None:
        self.ctx = ctx
        # One pool for every batch; each batch keeps at most BATCH_CONCURRENCY of its sub-requests in it.
        self._pool = ThreadPoolExecutor(MAX_BATCH * 8, thread_name_prefix="lab-graph-batch")
        self._lock = threading.Lock()
        self.max_in_flight_per_batch = 0

    def close(self) -> None:
        """Stop the batch workers."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __call__(self, request: LabRequest) -> LabResponse:
        """Authenticate, then answer one request or a $batch."""
        token = bearer(request.headers.get("Authorization", ""))
        caller = None
        if token is not None:
            try:
                claims = self.ctx.authority.verify(token, GRAPH_AUDIENCE)
                exo = self.ctx.tenant().exo
                app = exo.app(str(claims.get("appid", ""))) if exo is not None else None
                if app is not None:
                    caller = Caller(app, frozenset(str(r) for r in claims.get("roles") or []))
            except TokenError:
                caller = None
        if caller is None:
            reply = graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
            return self._http(reply)
        version, _, rest = request.path.lstrip("/").partition("/")
        if rest == "$batch" and request.method == "POST":
            self.ctx.log.count("graph", "$batch")
            return self._http(self._batch(caller, version, request.body))
        query = dict(request.query)
        return self._http(self._one(caller, request.method, "/" + rest, query, request.body))

    def _http(self, reply: Reply) -> LabResponse:
        return json_response(reply.status, reply.body, reply.headers)

    # -- one request (alone or inside a batch) -----------------------------------------------------------

    def _one(self, caller: Caller, method: str, path: str, query: Mapping[str, str], body: bytes) -> Reply:
        route = _route_name(method, path)
        self.ctx.log.count("graph", route)
        retry = self.ctx.faults.take_429("graph")
        if retry is not None:
            return graph_error(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": str(retry)},
            )
        latency = self.ctx.faults.latency_seconds("graph")
        if latency:
            self.ctx.sleep(latency)
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        head = parts[0] if parts else ""
        if head == "users" and len(parts) == 2 and method == "PATCH":
            return self._patch_user(caller, parts[1], body)
        if head == "users" and len(parts) >= 3:
            return self._mailbox(caller, method, parts[1], parts[2:], query, body)
        if head.lower().startswith("serviceprincipals"):
            return self._service_principals(caller, method, parts, query)
        if parts[:2] == ["directory", "administrativeUnits"] and len(parts) == 4 and parts[3] == "members":
            return self._admin_unit_members(caller, parts[2])
        return graph_error(400, "BadRequest", f"Resource not found for the segment '{head}'.")

    # -- Entra ----------------------------------------------------------------------------------------------

    def _service_principals(self, caller: Caller, method: str, parts: list[str], query: Mapping[str, str]) -> Reply:
        if not caller.roles & READ_SP:
            return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        tenant = self.ctx.tenant()
        exo = tenant.exo
        assert exo is not None
        head = parts[0]
        if head == "servicePrincipals" and len(parts) == 1:
            wanted = _app_id_filter(query.get("$filter", ""))
            if wanted is None:
                return graph_error(400, "BadRequest", "The lab supports only $filter=appId eq '<id>'.")
            found = _sp_json(exo, wanted)
            return Reply(200, {"@odata.context": "$metadata#servicePrincipals", "value": [found] if found else []})
        match = re.fullmatch(r"servicePrincipals\(appId='([^']*)'\)", head)
        key = match.group(1) if match else (parts[1] if len(parts) > 1 else "")
        sp = _sp_json(exo, key, by_object_id=match is None)
        if sp is None:
            return graph_error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
            )
        rest = parts[1:] if match else parts[2:]
        if not rest and method == "GET":
            return Reply(200, sp)
        if rest == ["appRoleAssignments"] and method == "GET":
            app = exo.app(sp["appId"])
            rows = [_grant_json(exo, app, gid, r, v) for gid, r, v in exo.entra_grants(app)] if app else []
            return Reply(200, {"@odata.context": "$metadata#appRoleAssignments", "value": rows})
        if len(rest) == 2 and rest[0] == "appRoleAssignments" and method == "DELETE":
            return self._delete_grant(caller, tenant, exo, sp["appId"], rest[1])
        return graph_error(405, "Request_BadRequest", "The lab does not support this request.")

    def _delete_grant(self, caller: Caller, tenant: Tenant, exo: ExoState, app_id: str, grant_id: str) -> Reply:
        if not caller.roles & WRITE_GRANTS:
            return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        app = exo.app(app_id)
        if app is None or grant_id not in {g for g, _r, _v in exo.entra_grants(app)}:
            return graph_error(404, "Request_ResourceNotFound", f"Resource '{grant_id}' does not exist.")
        new = replace_state(tenant, deleted_grants=exo.deleted_grants | {grant_id})
        self.ctx.commit(new)
        return Reply(204)

    def _patch_user(self, caller: Caller, identity: str, body: bytes) -> Reply:
        """PATCH /users/{id} {"accountEnabled": false} (Update-MgUser, the how-to's service account clean-up)."""
        if not caller.roles & WRITE_USERS:
            return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        try:
            enabled = read_json(body)["accountEnabled"]
            if not isinstance(enabled, bool):
                raise TypeError("accountEnabled must be a boolean")
        except (ValueError, KeyError, TypeError):
            return graph_error(400, "Request_BadRequest", "The lab only changes accountEnabled.")
        tenant = self.ctx.tenant()
        user = tenant.resolve_recipient(identity)
        if user is None:
            return graph_error(404, "Request_ResourceNotFound", f"Resource '{identity}' does not exist.")
        recipients = tuple(
            dataclasses.replace(r, account_disabled=not enabled) if r.dn == user.dn else r for r in tenant.recipients
        )
        new = dataclasses.replace(tenant, recipients=recipients)
        new.exo = tenant.exo
        self.ctx.commit(new)
        return Reply(204)

    def _admin_unit_members(self, caller: Caller, unit_id: str) -> Reply:
        if not caller.roles & READ_AU:
            return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        tenant = self.ctx.tenant()
        unit = tenant.exo.admin_unit(unit_id) if tenant.exo else None
        if unit is None:
            return graph_error(404, "Request_ResourceNotFound", f"Resource '{unit_id}' does not exist.")
        members = [r for dn in unit.members if isinstance(r := tenant.by_dn(dn), Recipient)]
        return Reply(200, {"@odata.context": "$metadata#directoryObjects", "value": [_user_json(r) for r in members]})

    # -- mailboxes ------------------------------------------------------------------------------------------

    def _mailbox(
        self, caller: Caller, method: str, identity: str, rest: list[str], query: Mapping[str, str], body: bytes
    ) -> Reply:
        operation = _operation(method, rest)
        if operation is None:
            return graph_error(400, "BadRequest", "The lab does not support this mailbox request.")
        tenant = self.ctx.data_tenant()
        decision = AppAuthorizer(tenant).decide(caller.app, identity, operation, caller.roles)
        refused = self._refusal(decision.outcome, identity)
        if refused is not None:
            return refused
        user = decision.target
        assert user is not None
        mailbox = user.primary_smtp or user.upn
        store = self.ctx.tenant().calendars
        if rest == ["calendar"]:
            return Reply(200, _calendar_json(user))
        if method == "GET":
            items = store.items(mailbox)
            wanted = _subject_filter(query.get("$filter", ""))
            if wanted is not None:
                items = [i for i in items if wanted(i.subject)]
            return Reply(200, {"value": [_event_json(i) for i in items]})
        if method == "POST":
            return self._create(store, mailbox, body)
        if store.delete(mailbox, _from_graph_id(rest[1])):
            return Reply(204)
        return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def _refusal(self, outcome: AppOutcome, identity: str) -> Reply | None:
        if outcome is AppOutcome.ALLOWED:
            return None
        if outcome is AppOutcome.NO_USER:
            return graph_error(404, "ErrorInvalidUser", f"The requested user '{identity}' is invalid.")
        if outcome is AppOutcome.NO_MAILBOX:
            return graph_error(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        forced = self.ctx.faults.forbidden_body
        odata = forced == "odata-disabled" or (forced == "auto" and outcome is AppOutcome.DENIED_BY_POLICY)
        return graph_error(403, "ErrorAccessDenied", ODATA_DISABLED if odata else ACCESS_DENIED)

    def _create(self, store: Any, mailbox: str, body: bytes) -> Reply:
        try:
            event = read_json(body)
            subject = str(event.get("subject", ""))
            start = str(event["start"]["dateTime"])
            end = str(event["end"]["dateTime"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return graph_error(400, "ErrorInvalidRequest", "The event needs subject, start and end.")
        if event.get("attendees"):
            # exaudit's write probe never invites anyone; the lab refuses so a test notices if it ever did.
            return graph_error(400, "ErrorInvalidRequest", "The lab refuses events with attendees.")
        item = store.create(
            mailbox,
            subject,
            start,
            end,
            legacy_free_busy=str(event.get("showAs", "busy")).capitalize(),
            sensitivity=str(event.get("sensitivity", "normal")).capitalize(),
        )
        return Reply(201, _event_json(item))

    # -- $batch -----------------------------------------------------------------------------------------------

    def _batch(self, caller: Caller, version: str, body: bytes) -> Reply:
        try:
            requests = read_json(body)["requests"]
            if not isinstance(requests, list):
                raise TypeError("requests must be a list")
        except (ValueError, KeyError, TypeError):
            return graph_error(400, "BadRequest", "Invalid batch payload format.")
        if len(requests) > MAX_BATCH:
            return graph_error(400, "BadRequest", f"Invalid batch payload: more than {MAX_BATCH} requests.")
        ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in requests]
        if len(set(ids)) != len(ids) or "" in ids:
            return graph_error(400, "BadRequest", "Batch request ids must be present and unique.")

        def run(sub: dict[str, Any]) -> dict[str, Any]:
            url = str(sub.get("url", ""))
            split = urllib.parse.urlsplit(url if url.startswith("/") else "/" + url)
            path = split.path
            if path.startswith(f"/{version}/"):
                path = path[len(version) + 1 :]
            query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            raw = sub.get("body")
            payload = b"" if raw is None else (raw.encode() if isinstance(raw, str) else _dump(raw))
            reply = self._one(caller, str(sub.get("method", "GET")).upper(), path, query, payload)
            headers = {"Content-Type": "application/json"} | dict(reply.headers or {})
            out: dict[str, Any] = {"id": str(sub["id"]), "status": reply.status, "headers": headers}
            if reply.body is not None:
                out["body"] = reply.body
            return out

        gate = threading.Semaphore(BATCH_CONCURRENCY)
        in_flight = [0]

        def gated(sub: dict[str, Any]) -> dict[str, Any]:
            try:
                with self._lock:
                    in_flight[0] += 1
                    self.max_in_flight_per_batch = max(self.max_in_flight_per_batch, in_flight[0])
                return run(sub)
            finally:
                with self._lock:
                    in_flight[0] -= 1
                gate.release()

        futures = []
        for sub in requests:
            gate.acquire()
            futures.append(self._pool.submit(gated, sub))
        return Reply(200, {"responses": [f.result() for f in futures]})


def _operation(method: str, rest: list[str]) -> str | None:
    """CalendarRead or calendarWrite for a mailbox path below users/{id}, None when the lab has no such route."""
    if method == "GET" and rest in (["calendar"], ["calendar", "events"], ["events"]):
        return "calendarRead"
    if method == "POST" and rest in (["events"], ["calendar", "events"]):
        return "calendarWrite"
    if method == "DELETE" and len(rest) == 2 and rest[0] == "events":
        return "calendarWrite"
    return None


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()


def _route_name(method: str, path: str) -> str:
    parts = path.strip("/").split("/")
    if parts and parts[0] == "users":
        rest = parts[2:]
        if len(rest) == 2 and rest[0] == "events":
            rest = ["events", "{eid}"]
        return f"{method} users/{{id}}/" + "/".join(rest)
    if parts and parts[0].startswith("servicePrincipals("):
        return f"{method} servicePrincipals(appId)" + ("/" + "/".join(parts[1:]) if len(parts) > 1 else "")
    if parts and parts[0] == "servicePrincipals" and len(parts) > 1:
        return f"{method} servicePrincipals/{{id}}" + ("/" + parts[2] if len(parts) > 2 else "")
    if parts[:2] == ["directory", "administrativeUnits"]:
        return f"{method} directory/administrativeUnits/{{id}}/members"
    return f"{method} {parts[0] if parts else ''}"


def _app_id_filter(text: str) -> str | None:
    match = re.fullmatch(r"\s*appId\s+eq\s+'([^']*)'\s*", text)
    return match.group(1) if match else None


def _subject_filter(text: str) -> Any:
    if not text:
        return None
    match = _SUBJECT_FILTER.match(text)
    if match is None:
        return lambda _s: True
    if match.group(1) is not None:
        value = match.group(1).replace("''", "'")
        return lambda s: s == value
    prefix = match.group(2).replace("''", "'")
    return lambda s: s.startswith(prefix)


def _sp_json(exo: ExoState, key: str, *, by_object_id: bool = False) -> dict[str, Any] | None:
    lowered = key.strip().lower()
    for resource in RESOURCES.values():
        if lowered in (resource.app_id, resource.object_id) and (by_object_id or lowered == resource.app_id):
            return {
                "id": resource.object_id,
                "appId": resource.app_id,
                "displayName": resource.display_name,
                "servicePrincipalType": "Application",
                "accountEnabled": True,
                "appRoles": [
                    {
                        "allowedMemberTypes": ["Application"],
                        "description": value,
                        "displayName": value,
                        "id": role_id,
                        "isEnabled": True,
                        "origin": "Application",
                        "value": value,
                    }
                    for value, role_id in resource.app_roles.items()
                ],
            }
    for app in exo.apps:
        ids = (app.object_id.lower(),) if by_object_id else (app.app_id.lower(),)
        if lowered in ids:
            return {
                "id": app.object_id,
                "appId": app.app_id,
                "displayName": app.display_name,
                "servicePrincipalType": "Application",
                "accountEnabled": app.account_enabled,
                "appRoles": [],
            }
    return None


def _grant_json(exo: ExoState, app: EntraApp, grant_id: str, resource_key: str, value: str) -> dict[str, Any]:
    resource = RESOURCES[resource_key]
    return {
        "id": grant_id,
        "deletedDateTime": None,
        "appRoleId": resource.app_roles[value],
        "createdDateTime": app.consented.isoformat().replace("+00:00", "Z"),
        "principalDisplayName": app.display_name,
        "principalId": app.object_id,
        "principalType": "ServicePrincipal",
        "resourceDisplayName": resource.display_name,
        "resourceId": resource.object_id,
    }


def _user_json(user: Recipient) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": user.guid,
        "displayName": user.display_name or user.name,
        "userPrincipalName": user.upn,
        "mail": user.primary_smtp,
    }


def _calendar_json(user: Recipient) -> dict[str, Any]:
    return {
        "id": "AAMkAGI2TG93AAA=",
        "name": "Calendar",
        "color": "auto",
        "isDefaultCalendar": True,
        "canEdit": True,
        "canShare": True,
        "canViewPrivateItems": True,
        "owner": {"name": user.display_name or user.name, "address": user.primary_smtp},
    }


def _to_graph_id(item_id: str) -> str:
    return item_id.replace("/", "-").replace("+", "_")


def _from_graph_id(graph_id: str) -> str:
    return graph_id.replace("-", "/").replace("_", "+")


def _event_json(item: CalendarItem) -> dict[str, Any]:
    return {
        "id": _to_graph_id(item.item_id),
        "subject": item.subject,
        "start": {"dateTime": item.start, "timeZone": "UTC"},
        "end": {"dateTime": item.end, "timeZone": "UTC"},
        "showAs": item.legacy_free_busy.lower(),
        "sensitivity": item.sensitivity.lower(),
        "attendees": [],
    }
