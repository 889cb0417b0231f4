"""Exchange Online cmdlet output (InvokeCommand JSON) -> snapshot records.

The Admin API sends the same properties as remote PowerShell, as JSON values: booleans and numbers native, ids and
enums as strings, multi-valued properties as arrays. Where a form is UNVERIFIED (exo-2026.md: InScope as a bool or
"True"/"Not Run", GrantedPermissions as an array or a comma-separated string) every plausible form is read; the raw
objects are kept as evidence by the collector either way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from audit.collect import mapping
from audit.collect.mapping import Props
from audit.errors import CollectionError
from audit.snapshot import (
    ApplicationAccessPolicy,
    AuthorizationRow,
    ManagementScope,
    Organization,
    RoleAssignment,
    ServicePrincipal,
)

USER_PROPERTIES = (
    "Name", "Identity", "DistinguishedName", "UserPrincipalName", "SamAccountName", "RecipientTypeDetails",
    "AccountDisabled", "Sid", "WindowsEmailAddress",
)  # fmt: skip
"""Get-User over the whole tenant keeps only what the User record needs (10,000 users x 100 properties otherwise)."""

_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def when(value: Any) -> str | None:
    """A date as ISO 8601 UTC from ISO text (no zone: UTC, as Exchange's *UTC properties) or ``/Date(ms)/``."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    match = _DATE.fullmatch(text)
    if match:
        moment = dt.datetime.fromtimestamp(int(match.group(1)) / 1000.0, dt.UTC)
    else:
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _when(p: Props) -> str | None:
    return when(p.raw("WhenChangedUTC")) or when(p.raw("WhenChanged"))


def permissions(value: Any) -> tuple[str, ...]:
    """GrantedPermissions: an array, a comma- or semicolon-separated string, or ``{a, b}`` as ``fl`` prints it."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(part for item in value for part in permissions(item))
    text = mapping.to_text(value).strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return tuple(part.strip() for part in re.split(r"[,;]", text) if part.strip())


def in_scope(value: Any) -> bool | None:
    """InScope: a bool, "True"/"False", or anything else ("Not Run", blank) as None: undecided, never a pass."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def role_assignments(objects: Iterable[Mapping[str, Any]]) -> tuple[RoleAssignment, ...]:
    """Get-ManagementRoleAssignment, with the RBAC for Applications scope and the change date."""
    objs = list(objects)
    base = mapping.role_assignments(objs)
    out = []
    for record, obj in zip(base, objs, strict=True):
        p = Props("Get-ManagementRoleAssignment", obj)
        out.append(
            dataclasses.replace(
                record,
                recipient_administrative_unit_scope=p.opt_text("RecipientAdministrativeUnitScope"),
                when_changed=_when(p),
            )
        )
    return tuple(out)


def management_scopes(objects: Iterable[Mapping[str, Any]]) -> tuple[ManagementScope, ...]:
    """Get-ManagementScope, with the change date (a filter edited < 2 h ago may not apply yet)."""
    objs = list(objects)
    return tuple(
        dataclasses.replace(record, when_changed=_when(Props("Get-ManagementScope", obj)))
        for record, obj in zip(mapping.management_scopes(objs), objs, strict=True)
    )


def organization(objects: Sequence[Mapping[str, Any]]) -> Organization | None:
    """Get-OrganizationConfig -RetrieveEwsOperationAccessPolicy: EWSEnabled and the EWS app allow list."""
    org = mapping.organization(objects)
    if org is None:
        return None
    p = Props("Get-OrganizationConfig", objects[0])
    allowed: tuple[str, ...] | None = None
    for name in ("EwsAllowedAppIDs", "EwsAllowedAppIds", "EwsAllowedApplicationIds"):
        if p.has(name):
            allowed = permissions(p.raw(name))  # a list, or "<guid>,<guid>" as Set-OrganizationConfig takes it
            break
    return dataclasses.replace(org, is_exchange_online=True, ews_allowed_app_ids=allowed)


def service_principals(objects: Iterable[Mapping[str, Any]]) -> tuple[ServicePrincipal, ...]:
    """Get-ServicePrincipal: AppId, and ObjectId (formerly ServiceId, deprecated: OPD New-ServicePrincipal.md)."""
    out = []
    for p in (Props("Get-ServicePrincipal", o) for o in objects):
        object_id = p.opt_text("ObjectId") or p.opt_text("ServiceId")
        if object_id is None:
            raise CollectionError("Get-ServicePrincipal returned an object without 'ObjectId'; cannot map it")
        out.append(
            ServicePrincipal(
                display_name=p.text("DisplayName") or p.text("Name"),
                app_id=p.req_text("AppId"),
                object_id=object_id,
                identity=p.text("Identity"),
                name=p.text("Name"),
                when_changed=_when(p),
            )
        )
    return tuple(out)


def authorizations(objects: Iterable[Mapping[str, Any]], resource: str | None) -> tuple[AuthorizationRow, ...]:
    """Test-ServicePrincipalAuthorization rows; ``resource`` is the mailbox given with -Resource (None without)."""
    out = []
    for p in (Props("Test-ServicePrincipalAuthorization", o) for o in objects):
        raw = p.raw("InScope")
        out.append(
            AuthorizationRow(
                resource=resource,
                role_name=p.req_text("RoleName"),
                granted_permissions=permissions(p.raw("GrantedPermissions")),
                allowed_resource_scope=p.text("AllowedResourceScope"),
                scope_type=p.text("ScopeType"),
                in_scope=in_scope(raw),
                raw_in_scope="" if raw is None else mapping.to_text(raw),
            )
        )
    return tuple(out)


def application_access_policies(objects: Iterable[Mapping[str, Any]]) -> tuple[ApplicationAccessPolicy, ...]:
    """Get-ApplicationAccessPolicy (AppId may be one id or several)."""
    out = []
    for p in (Props("Get-ApplicationAccessPolicy", o) for o in objects):
        ids = permissions(p.raw("AppId")) or permissions(p.raw("AppIds"))
        out.append(
            ApplicationAccessPolicy(
                identity=p.req_text("Identity"),
                app_ids=ids,
                scope_name=p.text("ScopeName"),
                scope_identity=p.text("ScopeIdentity"),
                access_right=p.req_text("AccessRight"),
                description=p.text("Description"),
            )
        )
    return tuple(out)
