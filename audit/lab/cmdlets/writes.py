"""The few write cmdlets the lab accepts (Exchange Online, lab admin app only): enough to apply `exaudit migrate`.

New-ServicePrincipal, New-/Set-/Remove-ManagementRoleAssignment (-App, -CustomResourceScope,
-RecipientAdministrativeUnitScope), New-ManagementScope, Set-OrganizationConfig (-EWSEnabled, -EwsAllowedAppIDs),
Remove-RoleGroup, Set-User/Set-Mailbox -AccountDisabled (domain/exo-2026.md sections 1.1, 1.3, 1.8). Each builds
a new Tenant value and commits it; nothing is edited in place, so the previous tenant stays available to the
propagation-delay fault.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from audit.lab.cmdlets.apps import pointer_object
from audit.lab.cmdlets.common import _as_bool, _text
from audit.lab.cmdlets.objects import ExchangeObject
from audit.lab.cmdlets.rbac import _assignment, _scope
from audit.lab.exo import ExoState, ServicePrincipalPointer, app_assignment
from audit.lab.tenant import ManagementScope, Tenant, stable_guid

if TYPE_CHECKING:
    from audit.lab.cmdlets.host import ExchangeSession


def _state(s: ExchangeSession) -> ExoState:
    state = s.tenant.exo
    if state is None:
        raise AssertionError("not an Exchange Online tenant")
    return state


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _with_state(tenant: Tenant, state: ExoState, **fields: Any) -> Tenant:
    new = dataclasses.replace(tenant, **fields)
    new.exo = state
    return new


def _new_service_principal(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    state = _state(s)
    app_id = _text(p.get("AppId")).strip().lower()
    object_id = _text(p.get("ObjectId") or p.get("ServiceId")).strip().lower()
    app = state.app(app_id) if app_id else None
    # "Exchange prevents the creation of an invalid pointer" (APPRBAC): both ids must name the same Entra SP.
    if app is None or app.app_id.lower() != app_id or app.object_id.lower() != object_id:
        s.fail(f"No service principal with AppId '{app_id}' and ObjectId '{object_id}' exists in Microsoft Entra ID.")
        return
    if state.pointer(app.object_id) is not None:
        s.fail(f"A service principal with ObjectId '{app.object_id}' already exists.", "ADObjectAlreadyExistsException")
        return
    pointer = ServicePrincipalPointer(
        display_name=_text(p.get("DisplayName")) or app.display_name,
        app_id=app.app_id,
        object_id=app.object_id,
        guid=stable_guid("sp-pointer", app.object_id),
        dn=f"CN={app.object_id},OU={state.initial_domain},OU=Microsoft Exchange Hosted Organizations,"
        f"{s.tenant.organization.domain_dn}",
        when_changed=_now(),
    )
    s.commit(_with_state(s.tenant, dataclasses.replace(state, pointers=(*state.pointers, pointer))))
    yield pointer_object(s, pointer)


def _resource_scope(s: ExchangeSession, p: dict[str, Any]) -> tuple[str | None, str | None]:
    scope = _text(p.get("CustomResourceScope")) or None
    unit = _text(p.get("RecipientAdministrativeUnitScope")) or None
    if scope is not None:
        found = s.tenant.scope(scope)
        if found is None:
            s.not_found(scope, "ManagementScopeIdParameter")
            return None, "!"
        scope = found.name
    if unit is not None:
        au = _state(s).admin_unit(unit)
        if au is None:
            s.not_found(unit, "AdministrativeUnitIdParameter")
            return None, "!"
        unit = au.id
    return scope, unit


def _new_role_assignment(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    state = _state(s)
    if p.get("App") is None:
        s.fail("The lab accepts New-ManagementRoleAssignment only with -App (RBAC for Applications).")
        return
    pointer = state.pointer(_text(p["App"]))
    if pointer is None:
        s.not_found(_text(p["App"]), "ServicePrincipalIdParameter")
        return
    scope, unit = _resource_scope(s, p)
    if unit == "!":
        return
    name = _text(p.get("Name")) or None
    if name is not None and any(a.name.lower() == name.lower() for a in s.tenant.role_assignments):
        s.fail(f"The role assignment '{name}' already exists.", "ADObjectAlreadyExistsException")
        return
    try:
        assignment = app_assignment(
            s.tenant,
            name=name,
            role=_text(p.get("Role")),
            pointer=pointer,
            scope=scope,
            admin_unit=unit,
            when_changed=_now(),
        )
    except Exception as exc:
        s.fail(str(exc))
        return
    s.commit(_with_state(s.tenant, state, role_assignments=(*s.tenant.role_assignments, assignment)))
    yield _assignment(s, assignment)


def _find_assignment(s: ExchangeSession, p: dict[str, Any]) -> int | None:
    wanted = _text(p.get("Identity")).lower()
    for i, a in enumerate(s.tenant.role_assignments):
        if wanted in (a.name.lower(), a.guid.lower()):
            return i
    s.not_found(_text(p.get("Identity")), "RoleAssignmentIdParameter")
    return None


def _set_role_assignment(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    index = _find_assignment(s, p)
    if index is None:
        return
    scope, unit = _resource_scope(s, p)
    if unit == "!":
        return
    old = s.tenant.role_assignments[index]
    changes: dict[str, Any] = {"when_changed": _now()}
    if scope is not None:
        changes |= {
            "custom_recipient_write_scope": scope,
            "recipient_write_scope": "CustomRecipientScope",
            "recipient_administrative_unit_scope": None,
        }
    if unit is not None:
        changes |= {
            "recipient_administrative_unit_scope": unit,
            "recipient_write_scope": "AdministrativeUnit",
            "custom_recipient_write_scope": None,
        }
    if p.get("Enabled") is not None:
        changes["enabled"] = _as_bool(p["Enabled"])
    assignments = list(s.tenant.role_assignments)
    assignments[index] = dataclasses.replace(old, **changes)
    s.commit(_with_state(s.tenant, _state(s), role_assignments=tuple(assignments)))
    yield from ()  # writes nothing to the pipeline, as Set-* without -PassThru


def _remove_role_assignment(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    index = _find_assignment(s, p)
    if index is None:
        return
    assignments = list(s.tenant.role_assignments)
    del assignments[index]
    s.commit(_with_state(s.tenant, _state(s), role_assignments=tuple(assignments)))
    yield from ()


def _new_management_scope(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    name = _text(p.get("Name"))
    text = _text(p.get("RecipientRestrictionFilter"))
    if not name or not text:
        s.fail("New-ManagementScope needs -Name and -RecipientRestrictionFilter in the lab.")
        return
    if s.tenant.scope(name) is not None:
        s.fail(f"The management scope '{name}' already exists.", "ADObjectAlreadyExistsException")
        return
    org = s.tenant.organization
    scope = ManagementScope(
        name=name,
        recipient_filter=text,
        dn=f"CN={name},CN=Scopes,CN=RBAC,{org.config_dn}",
        guid=stable_guid("scope", name),
    )
    state = _state(s)
    state = dataclasses.replace(state, scope_changes=(*state.scope_changes, (name, _now())))
    s.commit(_with_state(s.tenant, state, scopes=(*s.tenant.scopes, scope)))
    yield _scope(s, scope)


def _set_organization_config(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    state = _state(s)
    changes: dict[str, Any] = {}
    if "EWSEnabled" in p:
        changes["ews_enabled"] = None if p["EWSEnabled"] is None else _as_bool(p["EWSEnabled"])
    if "EwsAllowedAppIDs" in p:
        raw = p["EwsAllowedAppIDs"]
        items = raw if isinstance(raw, list | tuple) else _text(raw).split(",")
        changes["ews_allowed_app_ids"] = tuple(str(i).strip() for i in items if str(i).strip())
    s.commit(_with_state(s.tenant, dataclasses.replace(state, **changes)))
    yield from ()


def _remove_role_group(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    group = s.tenant.role_group(_text(p.get("Identity")))
    if group is None:
        s.not_found(_text(p.get("Identity")), "RoleGroupIdParameter")
        return
    if group.is_builtin:
        s.fail(f"The built-in role group '{group.name}' can't be removed.")
        return
    role_groups = tuple(g for g in s.tenant.role_groups if g.dn != group.dn)
    assignments = tuple(a for a in s.tenant.role_assignments if a.assignee.lower() != group.dn.lower())
    # Also on premises (no ExoState): the tenant is swapped as a whole value either way.
    s.commit(dataclasses.replace(s.tenant, role_groups=role_groups, role_assignments=assignments))
    yield from ()


def _set_account_disabled(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    # On premises Exchange's Set-User has no -AccountDisabled: there the lab offers it (Administrator only) as
    # the stand-in for AD's Enable-/Disable-ADAccount, which `exaudit plan` marks as a non-Exchange step.
    user = s.tenant.resolve_recipient(_text(p.get("Identity")))
    if user is None:
        s.not_found(_text(p.get("Identity")))
        return
    if "AccountDisabled" not in p:
        s.fail("The lab's Set-User/Set-Mailbox only change -AccountDisabled.")
        return
    disabled = _as_bool(p["AccountDisabled"])
    recipients = tuple(
        dataclasses.replace(r, account_disabled=disabled) if r.dn == user.dn else r for r in s.tenant.recipients
    )
    s.commit(dataclasses.replace(s.tenant, recipients=recipients))
    yield from ()
