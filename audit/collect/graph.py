"""Read the Entra side of an app's mailbox access from Microsoft Graph: GET only, paged, bounded.

Entra app roles and Exchange's RBAC for Applications are a union: one consented ``Calendars.ReadWrite`` removes every
Exchange scope (https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac, "independent of the
unscoped grants in Microsoft Entra ID"). So the auditor reads the app's service principal, its
``appRoleAssignments``, and the resource service principals' ``appRoles`` to name each grant (exo-2026.md §2c).
Each logical read is one :class:`audit.snapshot.CollectionCall` (``Graph:servicePrincipal``,
``Graph:appRoleAssignments``, ``Graph:resourceAppRoles``, ``Graph:administrativeUnitMembers``) so the checks'
``needs`` turn into ERROR when one failed. Reading service principals needs ``Application.Read.All``.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests

from audit.collect import https
from audit.collect.interface import ErrorKind, TransportFailure
from audit.errors import CollectionError
from audit.snapshot import (
    AdministrativeUnit,
    AppRoleGrant,
    CollectionCall,
    EntraServicePrincipal,
    RawOutput,
)

SERVICE_PRINCIPAL = "Graph:servicePrincipal"
APP_ROLE_ASSIGNMENTS = "Graph:appRoleAssignments"
RESOURCE_APP_ROLES = "Graph:resourceAppRoles"
AU_MEMBERS = "Graph:administrativeUnitMembers"

MAX_PAGES = 1000
MAX_THROTTLE_RETRIES = 10  # each within the call's deadline, which is the real bound
_DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"  # appRoleId of "default access": no permission

TokenProvider = Callable[[], str]


class GraphFailure(TransportFailure):
    """A Graph read failed; ``status`` is the HTTP status (0 when no reply came)."""

    def __init__(self, message: str, kind: str, *, fatal: bool, status: int = 0) -> None:
        super().__init__(message, kind, fatal=fatal)
        self.status = status


class GraphReader:
    """GET-only Microsoft Graph client (``{base}/v1.0/...``): follows ``@odata.nextLink`` on the same origin."""

    def __init__(
        self,
        base_url: str,
        token: TokenProvider,
        *,
        verify: bool | str = True,
        timeout: float = 60.0,
        max_reply_bytes: int = https.DEFAULT_MAX_REPLY_BYTES,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self.session = session or https.make_session(verify, pool=4)
        self.requests = 0

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """The absolute URL of ``path`` under ``/v1.0`` (path segments quoted by the caller)."""
        query = f"?{urllib.parse.urlencode(params, quote_via=urllib.parse.quote)}" if params else ""
        return f"{self.base_url}/v1.0/{path.lstrip('/')}{query}"

    def _get(self, url: str, what: str, deadline: float) -> Any:
        token = self._token()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                reply = https.send(
                    self.session, "GET", url, deadline=deadline, headers=headers, max_bytes=self.max_reply_bytes
                )
            except https.ReplyTooLarge as exc:
                raise GraphFailure(f"{what}: {exc}", ErrorKind.TRANSPORT, fatal=False) from None
            except (TimeoutError, requests.exceptions.Timeout):
                raise GraphFailure(
                    f"{what}: Microsoft Graph did not answer in time", ErrorKind.TIMEOUT, fatal=False
                ) from None
            except requests.exceptions.SSLError:
                raise GraphFailure(
                    f"TLS verification of {self.base_url} failed: pass --ca-bundle", ErrorKind.TLS, fatal=True
                ) from None
            except requests.exceptions.RequestException as exc:
                raise GraphFailure(
                    f"cannot reach Microsoft Graph at {self.base_url} ({type(exc).__name__}): check --graph-url",
                    ErrorKind.CONNECTION,
                    fatal=True,
                ) from None
            if reply.status in (429, 503) and attempt <= MAX_THROTTLE_RETRIES:
                wait = reply.retry_after if reply.retry_after is not None else float(attempt)
                if time.monotonic() + wait < deadline:
                    time.sleep(wait)
                    continue
            if reply.status == 200 and isinstance(reply.body, dict):
                return reply.body
            code, message = https.error_message(reply.body, reply.text)
            code, message = https.scrub(code, token)[:100], https.scrub(message, token)
            if reply.status in (401, 403):
                raise GraphFailure(
                    f"Microsoft Graph refused {what} (HTTP {reply.status} {code}): the auditing app needs the "
                    "Microsoft Graph application permission Application.Read.All (grant it with admin consent)",
                    ErrorKind.AUTH,
                    fatal=True,
                    status=reply.status,
                )
            if reply.status == 404:
                raise GraphFailure(
                    f"{what}: not found in Entra (HTTP 404 {code})", ErrorKind.NON_TERMINATING, fatal=False, status=404
                )
            raise GraphFailure(
                f"{what}: HTTP {reply.status} {code} {message[:200]}".rstrip(),
                ErrorKind.TRANSPORT,
                fatal=False,
                status=reply.status,
            )

    def get(self, path: str, what: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One object."""
        body: dict[str, Any] = self._get(self.url(path, params), what, time.monotonic() + self.timeout)
        return body

    def get_all(self, path: str, what: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every object of a collection, following ``@odata.nextLink`` (same origin only) within the timeout."""
        deadline = time.monotonic() + self.timeout
        url = self.url(path, params)
        out: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = self._get(url, what, deadline)
            values = page.get("value")
            if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
                raise GraphFailure(
                    f"{what}: the reply is not a collection of objects", ErrorKind.TRANSPORT, fatal=False
                )
            out.extend(values)
            link = page.get("@odata.nextLink")
            if not link:
                return out
            url = urllib.parse.urljoin(url, str(link))
            if not https.same_origin(self.base_url, url):
                raise GraphFailure(
                    f"{what}: the next page link points to another host; refusing to send the token there",
                    ErrorKind.TRANSPORT,
                    fatal=True,
                )
        raise GraphFailure(f"{what}: more than {MAX_PAGES} pages", ErrorKind.TRANSPORT, fatal=False)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()


@dataclass(frozen=True, slots=True)
class AppRef:
    """An app whose Entra grants are read: its application (client) id and, when known, its object id."""

    app_id: str
    object_id: str = ""


@dataclass
class EntraState:
    """What the Graph reads gave, with every logical read recorded."""

    service_principals: list[EntraServicePrincipal] = field(default_factory=list)
    grants: list[AppRoleGrant] = field(default_factory=list)
    administrative_units: list[AdministrativeUnit] = field(default_factory=list)
    calls: list[CollectionCall] = field(default_factory=list)
    evidence: list[RawOutput] = field(default_factory=list)


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class _Reads:
    """Runs logical reads, recording each as one CollectionCall; stops reading after a fatal failure."""

    def __init__(self, state: EntraState, listener: Callable[[CollectionCall], None] | None) -> None:
        self.state = state
        self.listener = listener
        self.fatal: TransportFailure | None = None

    def read(
        self, name: str, params: dict[str, str], body: Callable[[], list[dict[str, Any]]]
    ) -> list[dict[str, Any]] | None:
        start = time.perf_counter()
        if self.fatal is not None:
            call = CollectionCall(name, params, False, 0, 0.0, f"not attempted: {self.fatal}", self.fatal.kind)
            self.record(call)
            return None
        error: str | None = None
        kind: str | None = None
        objects: list[dict[str, Any]] | None = None
        try:
            objects = body()
        except TransportFailure as exc:
            error, kind = str(exc), exc.kind
            if exc.fatal:
                self.fatal = exc
        except CollectionError as exc:
            error, kind = str(exc), ErrorKind.TRANSPORT
        elapsed = round((time.perf_counter() - start) * 1000.0, 3)
        count = len(objects) if objects is not None else 0
        if objects is not None:
            self.state.evidence.append(RawOutput(name, params, tuple(objects)))
        self.record(CollectionCall(name, params, error is None, count, elapsed, error, kind))
        return objects if error is None else None

    def record(self, call: CollectionCall) -> None:
        self.state.calls.append(call)
        if self.listener is not None:
            self.listener(call)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _service_principal(reader: GraphReader, app_id: str) -> list[dict[str, Any]]:
    return [reader.get(f"servicePrincipals(appId='{_quote(app_id)}')", f"the service principal of app {app_id}")]


def _assignments(reader: GraphReader, sp_id: str) -> list[dict[str, Any]]:
    path = f"servicePrincipals/{_quote(sp_id)}/appRoleAssignments"
    return reader.get_all(path, f"the app role assignments of {sp_id}")


def _resources(reader: GraphReader, resource_ids: Sequence[str]) -> list[dict[str, Any]]:
    select = {"$select": "id,appId,displayName,appRoles"}
    return [
        reader.get(f"servicePrincipals/{_quote(r)}", f"the resource service principal {r}", select)
        for r in resource_ids
    ]


def _au_members(reader: GraphReader, au: str) -> list[dict[str, Any]]:
    path = f"directory/administrativeUnits/{_quote(au)}/members"
    return reader.get_all(path, f"the members of administrative unit {au}")


def _skipped(name: str, params: dict[str, str], why: str) -> CollectionCall:
    return CollectionCall(name, params, False, 0, 0.0, f"not attempted: {why}", ErrorKind.NON_TERMINATING)


def read_entra(
    reader: GraphReader,
    apps: Sequence[AppRef],
    administrative_units: Sequence[str] = (),
    *,
    on_call: Callable[[CollectionCall], None] | None = None,
) -> EntraState:
    """Read each app's Entra grants and the members of the administrative units given.

    For each app: its service principal, its app role assignments, and the resources' appRoles that name them;
    a fixed number of logical reads per app and unit, however many mailboxes exist.
    """
    state = EntraState()
    reads = _Reads(state, on_call)
    for app in apps:
        found = reads.read(SERVICE_PRINCIPAL, {"AppId": app.app_id}, partial(_service_principal, reader, app.app_id))
        sp = found[0] if found else None
        sp_id = _text(sp.get("id")) if sp is not None else ""
        if sp is not None:
            enabled = sp.get("accountEnabled")
            state.service_principals.append(
                EntraServicePrincipal(
                    id=sp_id,
                    app_id=_text(sp.get("appId")),
                    display_name=_text(sp.get("displayName")),
                    account_enabled=enabled if isinstance(enabled, bool) else None,
                )
            )
        if not sp_id:
            # Without the app's service principal its grants cannot be listed: say so instead of "no grant".
            why = f"the service principal of app {app.app_id} was not read"
            reads.record(_skipped(APP_ROLE_ASSIGNMENTS, {"AppId": app.app_id}, why))
            reads.record(_skipped(RESOURCE_APP_ROLES, {"AppId": app.app_id}, why))
            continue
        params = {"ServicePrincipalId": sp_id}
        assignments = reads.read(APP_ROLE_ASSIGNMENTS, params, partial(_assignments, reader, sp_id))
        if assignments is None:
            reads.record(_skipped(RESOURCE_APP_ROLES, params, "the app role assignments were not read"))
            continue
        ids = sorted({_text(a.get("resourceId")) for a in assignments if a.get("resourceId")})
        resources = reads.read(
            RESOURCE_APP_ROLES, {**params, "Resources": ",".join(ids)}, partial(_resources, reader, ids)
        )
        state.grants.extend(_grants(assignments, resources, sp_id))
    for au in dict.fromkeys(administrative_units):
        members = reads.read(AU_MEMBERS, {"AdministrativeUnit": au}, partial(_au_members, reader, au))
        if members is not None:
            names = [_text(m.get("userPrincipalName") or m.get("mail")) for m in members]
            state.administrative_units.append(
                AdministrativeUnit(id=au, display_name="", members=tuple(n for n in names if n))
            )
    return state


def _grants(
    assignments: Sequence[Mapping[str, Any]], resources: Sequence[Mapping[str, Any]] | None, sp_id: str
) -> list[AppRoleGrant]:
    """Name each assignment through its resource's appRoles; an unresolved role keeps permission ""."""
    by_id = {_text(r.get("id")): r for r in resources or ()}
    out = []
    for a in assignments:
        resource = by_id.get(_text(a.get("resourceId")), {})
        role_id = _text(a.get("appRoleId"))
        values = {
            _text(r.get("id")).lower(): _text(r.get("value"))
            for r in resource.get("appRoles") or []
            if isinstance(r, Mapping)
        }
        out.append(
            AppRoleGrant(
                resource_app_id=_text(resource.get("appId")),
                resource_display_name=_text(resource.get("displayName") or a.get("resourceDisplayName")),
                app_role_id=role_id,
                permission="" if role_id == _DEFAULT_ACCESS else values.get(role_id.lower(), ""),
                principal_id=_text(a.get("principalId")) or sp_id,
                created=_text(a.get("createdDateTime")) or None,
            )
        )
    return out
