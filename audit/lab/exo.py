"""The Exchange Online side of a lab tenant: Entra apps, service principal pointers, RBAC for Applications.

A tenant file says ``platform: exchange-online`` (top level or under ``organization``) and describes, under
``exchange_online:``, what an admin sets up in Entra ID and Exchange Online (domain/exo-2026.md sections 1.1-1.7):

- ``apps``: app registrations with their service principals (``app_id``, ``object_id``), the Entra app roles
  consented to them (``entra_roles: [graph:Calendars.ReadWrite, exchange:full_access_as_app]``), whether
  Exchange holds a service principal pointer (``exchange_pointer``: true, or a mapping to model a pointer made
  with the wrong ids) and which Exchange role groups that pointer belongs to;
- ``app_role_assignments``: ``Application *`` roles assigned to a pointer, scoped by a management scope
  (``scope``), an administrative unit (``admin_unit``) or nothing, with ``when_changed``;
- ``administrative_units``, ``application_access_policies`` (RestrictAccess/DenyAccess over a group),
  ``ews_enabled`` and ``ews_allowed_app_ids`` (Set-OrganizationConfig), ``scope_changes`` (WhenChanged of scopes).

The result is a value (``ExoState``) held by the Tenant; changing it means building a new Tenant, so the server
can keep answering from the previous one for a while (the propagation-delay fault).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.lab import LabError
from audit.lab.tenant import (
    BUILTIN_ROLE_GROUPS,
    ManagementRole,
    Recipient,
    RoleAssignment,
    Tenant,
    _where,
    stable_guid,
)

PLATFORM_EXO = "exchange-online"

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
EXCHANGE_AUDIENCE = "https://outlook.office365.com"


@dataclass(frozen=True, slots=True)
class Resource:
    """A first-party resource service principal and the app roles it offers (value -> appRole id)."""

    key: str
    app_id: str
    display_name: str
    audience: str
    app_roles: Mapping[str, str]

    @property
    def object_id(self) -> str:
        """The resource's service principal object id in this lab (per tenant in Entra; stable here)."""
        return stable_guid("resource-sp", self.app_id)


# appRole ids. Calendars.* and full_access_as_app: domain/exo-2026.md section 1.6. The others are Microsoft's
# published ids as remembered (UNVERIFIED here: no primary source was read for them); the lab only needs them
# to be stable and distinct, an auditor must resolve them through the resource's appRoles anyway.
RESOURCES: dict[str, Resource] = {
    "graph": Resource(
        "graph",
        GRAPH_APP_ID,
        "Microsoft Graph",
        GRAPH_AUDIENCE,
        {
            "Calendars.ReadWrite": "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
            "Calendars.Read": "798ee544-9d2d-430c-a058-570e29e34338",
            "Calendars.ReadBasic.All": "8ba4a692-bc31-4128-9094-475872af8a53",
            "Mail.Read": "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
            "Mail.ReadWrite": "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
            "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
            "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
            "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
            "AdministrativeUnit.Read.All": "134fd756-38ce-4afd-ba33-e9623dbe66c2",
            "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
            "User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca",
        },
    ),
    "exchange": Resource(
        "exchange",
        EXCHANGE_APP_ID,
        "Office 365 Exchange Online",
        EXCHANGE_AUDIENCE,
        {
            "full_access_as_app": "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
            "Exchange.ManageAsApp": "dc50a0fb-09a3-484d-be87-e023b12c6440",
            # The resource's own legacy Outlook REST roles (exo-2026.md 1.6); ids made by the lab.
            "Calendars.ReadWrite.All": stable_guid("exo-approle", "Calendars.ReadWrite.All"),
            "Mail.Read": stable_guid("exo-approle", "Mail.Read"),
        },
    ),
}
_AUDIENCES = {r.audience: r for r in RESOURCES.values()}

# The `Application *` roles and the Graph permissions each grants (exo-2026.md section 1.2, APPRBAC).
APPLICATION_ROLES: dict[str, tuple[str, ...]] = {
    "Application Mail.Read": ("Mail.Read",),
    "Application Mail.ReadBasic": ("Mail.ReadBasic",),
    "Application Mail.ReadWrite": ("Mail.ReadWrite",),
    "Application Mail.Send": ("Mail.Send",),
    "Application MailboxSettings.Read": ("MailboxSettings.Read",),
    "Application MailboxSettings.ReadWrite": ("MailboxSettings.ReadWrite",),
    "Application Calendars.Read": ("Calendars.Read",),
    "Application Calendars.ReadWrite": ("Calendars.ReadWrite",),
    "Application Contacts.Read": ("Contacts.Read",),
    "Application Contacts.ReadWrite": ("Contacts.ReadWrite",),
    "Application MailboxFolder.Read": ("MailboxFolder.Read.All",),
    "Application MailboxFolder.ReadWrite": ("MailboxFolder.ReadWrite.All",),
    "Application MailboxItem.Read": ("MailboxItem.Read.All",),
    "Application MailboxItem.ReadWrite": ("MailboxItem.ReadWrite.All",),
    "Application Mail Full Access": ("Mail.ReadWrite", "Mail.Send"),
    "Application Exchange Full Access": (
        "Mail.ReadWrite",
        "Mail.Send",
        "MailboxSettings.ReadWrite",
        "Calendars.ReadWrite",
        "Contacts.ReadWrite",
    ),
    "Application EWS.AccessAsApp": ("EWS.AccessAsApp",),
    "Application SMTP.SendAsApp": ("SMTP.SendAsApp",),
}

APP_ROLES = ("integration", "auditor", "admin")
ACCESS_RIGHTS = ("RestrictAccess", "DenyAccess")
_RELATIVE = re.compile(r"^now(?:-(\d+)([smhd]))?$")


@dataclass(frozen=True, slots=True)
class EntraApp:
    """An app registration and its Entra service principal, with the app roles consented to it."""

    display_name: str
    app_id: str
    object_id: str  # the service principal's object id
    role: str | None = None  # integration | auditor | admin
    entra_roles: tuple[tuple[str, str], ...] = ()  # (resource key, app role value)
    certificate: bool = False
    secret: str | None = dataclasses.field(default=None, repr=False)
    account_enabled: bool = True
    consented: datetime.datetime = datetime.datetime(2025, 3, 3, 9, 0, tzinfo=datetime.UTC)

    def roles_for(self, audience: str) -> tuple[str, ...]:
        """The app role values consented on the resource that ``audience`` names (what a token's roles hold)."""
        resource = _AUDIENCES.get(audience.rstrip("/"))
        if resource is None:
            return ()
        return tuple(value for key, value in self.entra_roles if key == resource.key)


@dataclass(frozen=True, slots=True)
class ServicePrincipalPointer:
    """Exchange's pointer to an Entra service principal (New-ServicePrincipal)."""

    display_name: str
    app_id: str
    object_id: str
    guid: str
    dn: str
    when_changed: datetime.datetime


@dataclass(frozen=True, slots=True)
class AdministrativeUnit:
    """An Entra administrative unit and its member users' DNs."""

    id: str
    display_name: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """An Application Access Policy: confines the app's Entra grants to (or away from) a group's members."""

    identity: str
    app_id: str
    access_right: str
    group_dn: str
    group_name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ExoState:
    """Everything Exchange Online adds to a tenant; a value (replace it, never edit it)."""

    tenant_id: str
    initial_domain: str
    apps: tuple[EntraApp, ...] = ()
    pointers: tuple[ServicePrincipalPointer, ...] = ()
    pointer_groups: tuple[tuple[str, str], ...] = ()  # (pointer object id, role group name)
    admin_units: tuple[AdministrativeUnit, ...] = ()
    access_policies: tuple[AccessPolicy, ...] = ()
    ews_enabled: bool | None = None
    ews_allowed_app_ids: tuple[str, ...] = ()
    scope_changes: tuple[tuple[str, datetime.datetime], ...] = ()
    deleted_grants: frozenset[str] = frozenset()  # ids of Entra app role assignments removed through Graph

    def app(self, ident: str) -> EntraApp | None:
        """The app whose appId, service principal object id or display name is ``ident``."""
        key = ident.strip().lower()
        for app in self.apps:
            if key in (app.app_id.lower(), app.object_id.lower(), app.display_name.lower()):
                return app
        return None

    def app_with_role(self, role: str) -> EntraApp | None:
        """The first app marked ``role`` (integration, auditor, admin)."""
        return next((a for a in self.apps if a.role == role), None)

    def pointer(self, ident: str) -> ServicePrincipalPointer | None:
        """The Exchange pointer named by ObjectId, AppId, DisplayName, Guid or DN."""
        key = ident.strip().lower()
        for p in self.pointers:
            if key in (p.object_id.lower(), p.app_id.lower(), p.display_name.lower(), p.guid.lower(), p.dn.lower()):
                return p
        return None

    def admin_unit(self, ident: str) -> AdministrativeUnit | None:
        """The administrative unit with this id or display name."""
        key = ident.strip().lower()
        return next((u for u in self.admin_units if key in (u.id.lower(), u.display_name.lower())), None)

    def scope_changed(self, name: str) -> datetime.datetime | None:
        """WhenChanged of a management scope, when the tenant says."""
        return next((when for n, when in self.scope_changes if n.lower() == name.lower()), None)

    def grant_id(self, app: EntraApp, resource: str, value: str) -> str:
        """The stable id of one Entra app role assignment."""
        return stable_guid("app-role-assignment", f"{app.object_id}:{resource}:{value}")

    def entra_grants(self, app: EntraApp) -> tuple[tuple[str, str, str], ...]:
        """(assignment id, resource key, value) of the app's live Entra app role assignments."""
        out = []
        for resource, value in app.entra_roles:
            gid = self.grant_id(app, resource, value)
            if gid not in self.deleted_grants:
                out.append((gid, resource, value))
        return tuple(out)


# -- building --------------------------------------------------------------------------------------------


def is_exchange_online(tenant: Tenant) -> bool:
    """Whether the tenant file asked for the Exchange Online platform."""
    return tenant.exo is not None


def parse_when(value: Any, where: tuple[str, int | None], now: datetime.datetime | None = None) -> datetime.datetime:
    """An ISO time, or ``now`` / ``now-15m`` (s, m, h, d) relative to when the lab loads the tenant."""
    now = now or datetime.datetime.now(datetime.UTC)
    if isinstance(value, datetime.datetime):  # ruamel's TimeStamp subclass included: made a plain UTC datetime
        plain = datetime.datetime.fromisoformat(value.isoformat())
        return plain.astimezone(datetime.UTC) if plain.tzinfo else plain.replace(tzinfo=datetime.UTC)
    text = str(value).strip()
    match = _RELATIVE.match(text)
    if match:
        if match.group(1) is None:
            return now
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return now - datetime.timedelta(**{unit: int(match.group(1))})
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise LabError(f"invalid time {text!r} (ISO 8601 or now-<n><s|m|h|d>)", *where) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def with_exchange_online(tenant: Tenant, spec: Mapping[str, Any] | None = None) -> Tenant:
    """Return a new Tenant with the ``exchange_online`` section applied (app assignments, roles, pointers)."""
    section = dict(spec if spec is not None else tenant.meta.get("exchange_online") or {})
    source = tenant.source
    where = _where(section, source)
    base = _without_exchange_online(tenant)
    org = base.organization
    tenant_id = str(section.get("tenant_id") or stable_guid("tenant", org.name))
    initial = str(section.get("initial_domain") or f"{org.name.lower()}.onmicrosoft.com")
    apps = tuple(_app(entry, source) for entry in _entries(section, "apps", source))
    pointers: list[ServicePrincipalPointer] = []
    pointer_groups: list[tuple[str, str]] = []
    for entry, app in zip(_entries(section, "apps", source), apps, strict=True):
        pointer_spec = entry.get("exchange_pointer", True)
        if not pointer_spec:
            continue
        extra = pointer_spec if isinstance(pointer_spec, Mapping) else {}
        object_id = str(extra.get("object_id", app.object_id))
        pointer = ServicePrincipalPointer(
            display_name=str(extra.get("display_name", app.display_name)),
            app_id=str(extra.get("app_id", app.app_id)),
            object_id=object_id,
            guid=stable_guid("sp-pointer", object_id),
            dn=f"CN={object_id},OU={initial},OU=Microsoft Exchange Hosted Organizations,{org.domain_dn}",
            when_changed=parse_when(extra.get("when_changed", "2025-03-03T09:05:00Z"), _where(entry, source)),
        )
        pointers.append(pointer)
        for group in entry.get("role_groups") or []:
            if base.role_group(str(group)) is None:
                raise LabError(f"role group {group!r} does not exist", *_where(entry, source))
            pointer_groups.append((object_id, str(group)))
    units = tuple(_admin_unit(entry, base, source) for entry in _entries(section, "administrative_units", source))
    policies = tuple(
        _access_policy(entry, base, apps, source) for entry in _entries(section, "application_access_policies", source)
    )
    state = ExoState(
        tenant_id=tenant_id,
        initial_domain=initial,
        apps=apps,
        pointers=tuple(pointers),
        pointer_groups=tuple(pointer_groups),
        admin_units=units,
        access_policies=policies,
        ews_enabled=None if section.get("ews_enabled") is None else bool(section["ews_enabled"]),
        ews_allowed_app_ids=tuple(str(a) for a in section.get("ews_allowed_app_ids") or ()),
        scope_changes=tuple(
            (str(name), parse_when(when, where))
            for name, when in dict(section.get("scope_changes") or {}).items()
            if name != "__loc__"
        ),
    )
    with_roles = dataclasses.replace(base, roles=(*base.roles, *_application_roles(base)))
    assignments = list(base.role_assignments)
    for entry in _entries(section, "app_role_assignments", source):
        assignments.append(_app_assignment(entry, with_roles, state, source))
    org = dataclasses.replace(org, is_exchange_online=True)
    new = dataclasses.replace(with_roles, organization=org, role_assignments=tuple(assignments))
    new.exo = state
    new.meta = {**base.meta, "exchange_online": section}
    return new


def replace_state(tenant: Tenant, **changes: Any) -> Tenant:
    """Return a new Tenant whose ExoState has ``changes`` (the calendars stay shared)."""
    if tenant.exo is None:
        raise LabError("the tenant is not an Exchange Online tenant")
    new = dataclasses.replace(tenant)
    new.exo = dataclasses.replace(tenant.exo, **changes)
    return new


def app_assignment(
    tenant: Tenant,
    *,
    name: str | None,
    role: str,
    pointer: ServicePrincipalPointer,
    scope: str | None = None,
    admin_unit: str | None = None,
    when_changed: datetime.datetime | None = None,
) -> RoleAssignment:
    """An ``Application *`` role assigned to a service principal pointer (RoleAssigneeType ServicePrincipal)."""
    role_record = tenant.role(role)
    if role_record is None or role_record.name not in APPLICATION_ROLES:
        raise LabError(f"{role!r} is not an Application role")
    final = name or f"{role_record.name}-{pointer.object_id}"
    write = "CustomRecipientScope" if scope else ("AdministrativeUnit" if admin_unit else "Organization")
    return RoleAssignment(
        name=final,
        role=role_record.name,
        assignee=pointer.dn,
        # APPRBAC's Example One shows the service principal's ObjectId as RoleAssigneeName (exo-2026.md 1.1).
        assignee_name=pointer.object_id,
        assignee_type="ServicePrincipal",
        recipient_write_scope=write,
        custom_recipient_write_scope=scope,
        config_write_scope="None",
        config_read_scope="None",
        dn=f"CN={final},CN=Role Assignments,CN=RBAC,{tenant.organization.config_dn}",
        guid=stable_guid("assignment", final),
        recipient_administrative_unit_scope=admin_unit,
        when_changed=when_changed or datetime.datetime.now(datetime.UTC),
    )


def _without_exchange_online(tenant: Tenant) -> Tenant:
    roles = tuple(r for r in tenant.roles if r.name not in APPLICATION_ROLES)
    assignments = tuple(a for a in tenant.role_assignments if a.assignee_type != "ServicePrincipal")
    new = dataclasses.replace(tenant, roles=roles, role_assignments=assignments)
    new.exo = None
    return new


def _entries(section: Mapping[str, Any], key: str, source: str) -> list[Mapping[str, Any]]:
    raw = section.get(key) or []
    if not isinstance(raw, list) or not all(isinstance(e, Mapping) for e in raw):
        raise LabError(f"exchange_online.{key} must be a list of mappings", *_where(section, source))
    return [e for e in raw if not e.get("remove")]


def _app(entry: Mapping[str, Any], source: str) -> EntraApp:
    where = _where(entry, source)
    try:
        name = str(entry["name"])
        app_id = str(uuid.UUID(str(entry.get("app_id") or stable_guid("app", name))))
        object_id = str(uuid.UUID(str(entry.get("object_id") or stable_guid("sp", name))))
    except (KeyError, ValueError) as exc:
        raise LabError(f"an app needs a name and GUID app_id/object_id: {exc}", *where) from exc
    role = entry.get("role")
    if role is not None and role not in APP_ROLES:
        raise LabError(f"app role must be one of {', '.join(APP_ROLES)}, not {role!r}", *where)
    grants = []
    for item in entry.get("entra_roles") or []:
        resource, _, value = str(item).partition(":")
        if resource not in RESOURCES or value not in RESOURCES[resource].app_roles:
            raise LabError(f"unknown Entra app role {item!r} (resource:value, e.g. graph:Calendars.Read)", *where)
        grants.append((resource, value))
    return EntraApp(
        display_name=name,
        app_id=app_id,
        object_id=object_id,
        role=role,
        entra_roles=tuple(grants),
        certificate=bool(entry.get("certificate", False)),
        secret=None if entry.get("secret") is None else str(entry["secret"]),
        account_enabled=bool(entry.get("account_enabled", True)),
    )


def _admin_unit(entry: Mapping[str, Any], tenant: Tenant, source: str) -> AdministrativeUnit:
    where = _where(entry, source)
    name = str(entry.get("name", ""))
    members = []
    for ref in entry.get("members") or []:
        user = tenant.resolve_recipient(str(ref))
        if user is None:
            raise LabError(f"administrative unit member {ref!r} is not a user", *where)
        members.append(user.dn)
    return AdministrativeUnit(str(entry.get("id") or stable_guid("admin-unit", name)), name, tuple(members))


def _access_policy(entry: Mapping[str, Any], tenant: Tenant, apps: Sequence[EntraApp], source: str) -> AccessPolicy:
    where = _where(entry, source)
    app_ref = str(entry.get("app", ""))
    app = next((a for a in apps if app_ref.lower() in (a.app_id.lower(), a.display_name.lower())), None)
    group = tenant.group(str(entry.get("group", "")))
    right = str(entry.get("access_right", "RestrictAccess"))
    if app is None or group is None or right not in ACCESS_RIGHTS:
        raise LabError("an application access policy needs a known app, group and RestrictAccess|DenyAccess", *where)
    org = tenant.organization
    return AccessPolicy(
        identity=f"{org.name.lower()}.onmicrosoft.com\\{app.app_id}:{stable_guid('aap', app.app_id + group.dn)}",
        app_id=app.app_id,
        access_right=right,
        group_dn=group.dn,
        group_name=group.name,
        description=str(entry.get("description", "")),
    )


def _app_assignment(entry: Mapping[str, Any], tenant: Tenant, state: ExoState, source: str) -> RoleAssignment:
    where = _where(entry, source)
    pointer = state.pointer(str(entry.get("app", "")))
    if pointer is None:
        raise LabError(f"app {entry.get('app')!r} has no Exchange service principal pointer", *where)
    scope = entry.get("scope")
    if scope is not None and tenant.scope(str(scope)) is None:
        raise LabError(f"scope {scope!r} is not defined in 'scopes'", *where)
    unit = entry.get("admin_unit")
    unit_id = None
    if unit is not None:
        found = state.admin_unit(str(unit))
        if found is None:
            raise LabError(f"administrative unit {unit!r} is not defined", *where)
        unit_id = found.id
    try:
        return app_assignment(
            tenant,
            name=None if entry.get("name") is None else str(entry["name"]),
            role=str(entry.get("role", "")),
            pointer=pointer,
            scope=None if scope is None else str(scope),
            admin_unit=unit_id,
            when_changed=parse_when(entry.get("when_changed", "2025-03-03T09:10:00Z"), where),
        )
    except LabError as exc:
        raise LabError(exc.reason, *where) from exc


def _application_roles(tenant: Tenant) -> list[ManagementRole]:
    # RoleType of the Application roles is not documented in what was read (UNVERIFIED); "ApplicationRole" here.
    base = f"CN=Roles,CN=RBAC,{tenant.organization.config_dn}"
    return [
        ManagementRole(
            name=name,
            role_type="ApplicationRole",
            dn=f"CN={name},{base}",
            guid=stable_guid("role", name),
            identity=name,
        )
        for name in APPLICATION_ROLES
    ]


def pointer_roles(tenant: Tenant, object_id: str) -> frozenset[str]:
    """The management roles a service principal pointer holds through the role groups it belongs to."""
    if tenant.exo is None:
        return frozenset()
    groups = {g.lower() for oid, g in tenant.exo.pointer_groups if oid.lower() == object_id.lower()}
    dns = {rg.dn.lower() for rg in tenant.role_groups if rg.name.lower() in groups}
    roles = {
        a.role for a in tenant.role_assignments if a.enabled and a.delegation == "Regular" and a.assignee.lower() in dns
    }
    for rg in tenant.role_groups:
        if rg.name.lower() in groups and rg.is_builtin:
            roles |= set(BUILTIN_ROLE_GROUPS.get(rg.name, ()))
    return frozenset(roles)


def user_dns(members: Sequence[str], tenant: Tenant) -> list[Recipient]:
    """Resolve member DNs to users, skipping what is gone."""
    out = []
    for dn in members:
        obj = tenant.by_dn(dn)
        if isinstance(obj, Recipient):
            out.append(obj)
    return out
