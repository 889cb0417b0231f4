"""RBAC for Applications reads: Get-ServicePrincipal, Test-ServicePrincipalAuthorization, Get-ApplicationAccessPolicy.

Exchange Online only (domain/exo-2026.md sections 1.1, 1.4, 1.7). Test-ServicePrincipalAuthorization reports
Exchange's grants only: "This method excludes permissions that might be granted separately in Microsoft Entra ID"
(APPRBAC); it "bypasses" the permission cache (section 1.5), so it always answers from the current tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from audit.lab.cmdlets.common import _CREATED, _text
from audit.lab.cmdlets.objects import ADPRESENTATION_CHAIN, ExchangeObject, M, Value, mvp_string
from audit.lab.exo import APPLICATION_ROLES, ExoState, ServicePrincipalPointer
from audit.lab.exo_authz import AppAuthorizer

if TYPE_CHECKING:
    from audit.lab.cmdlets.host import ExchangeSession

_RBAC_TASKS = "Microsoft.Exchange.Management.RbacTasks."


def _exo(s: ExchangeSession) -> ExoState:
    state = s.tenant.exo
    if state is None:  # the registry only exposes these cmdlets in Exchange Online tenants
        raise AssertionError("not an Exchange Online tenant")
    return state


def pointer_object(s: ExchangeSession, p: ServicePrincipalPointer) -> ExchangeObject:
    """Get-ServicePrincipal output (property set as seen in `| fl`, UNVERIFIED beyond AppId/ObjectId/DisplayName)."""
    props: list[tuple[str, Value]] = [
        ("AppId", p.app_id),
        ("ObjectId", p.object_id),
        ("DisplayName", p.display_name),
        # -ServiceId is "being deprecated. Use ObjectId" (OPD New-ServicePrincipal): the same value.
        ("ServiceId", p.object_id),
        ("Organization", _exo(s).initial_domain),
        ("Identity", p.object_id),
        ("Name", p.object_id),
        ("DistinguishedName", p.dn),
        ("Guid", uuid.UUID(p.guid)),
        ("WhenChanged", p.when_changed),
        ("WhenCreated", min(p.when_changed, _CREATED)),
        ("WhenChangedUTC", p.when_changed),
        ("WhenCreatedUTC", min(p.when_changed, _CREATED)),
        ("IsValid", True),
        ("ObjectState", "Unchanged"),
    ]
    return ExchangeObject((M + "ServicePrincipal", *ADPRESENTATION_CHAIN), p.display_name, tuple(props))


def _get_service_principal(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    state = _exo(s)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = state.pointer(wanted)
        if found is None:
            s.not_found(wanted)
            return
        yield pointer_object(s, found)
        return
    for pointer in state.pointers:
        yield pointer_object(s, pointer)


def _authorization_row(role: str, scope: str, scope_type: str, in_scope: Value) -> ExchangeObject:
    props: list[tuple[str, Value]] = [
        ("RoleName", role),
        # One value per permission; the composites list their bundle here (exo-2026.md 1.2). Whether the wire
        # carries a list or a comma string is UNVERIFIED: the lab sends a list.
        ("GrantedPermissions", mvp_string(APPLICATION_ROLES.get(role, ()))),
        ("AllowedResourceScope", scope),
        ("ScopeType", scope_type),
        # True/False with -Resource, the string "Not Run" without (OPD example 2; wire type UNVERIFIED, 1.4).
        ("InScope", in_scope),
    ]
    return ExchangeObject((_RBAC_TASKS + "ServicePrincipalAuthorizationResult", "System.Object"), role, tuple(props))


def _test_service_principal_authorization(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    state = _exo(s)
    wanted = _text(p.get("Identity"))
    pointer = state.pointer(wanted) if wanted else None
    if pointer is None:
        s.not_found(wanted, "ServicePrincipalIdParameter")
        return
    resource = None
    if p.get("Resource") is not None:
        ref = _text(p["Resource"])
        resource = s.tenant.resolve_recipient(ref)
        if resource is None:
            s.not_found(ref, "UserIdParameter")
            return
    authz = AppAuthorizer(s.tenant)
    for a in authz.assignments_of(pointer):
        if a.recipient_administrative_unit_scope:
            scope, scope_type = a.recipient_administrative_unit_scope, "AdministrativeUnit"
        elif a.custom_recipient_write_scope:
            scope, scope_type = a.custom_recipient_write_scope, "CustomRecipientScope"
        else:
            scope, scope_type = "Organization", "Organization"
        in_scope: Value = "Not Run" if resource is None else authz.in_scope(a, resource)
        yield _authorization_row(a.role, scope, scope_type, in_scope)


def _get_application_access_policy(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    state = _exo(s)
    policies = list(state.access_policies)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"]).lower()
        policies = [x for x in policies if wanted in (x.identity.lower(), x.app_id.lower())]
        if not policies:
            s.not_found(_text(p["Identity"]))
            return
    for policy in policies:
        group = s.tenant.by_dn(policy.group_dn)
        props: list[tuple[str, Value]] = [
            ("ScopeName", policy.group_name),
            ("ScopeIdentity", group.identity if group is not None else policy.group_name),
            ("Identity", policy.identity),
            ("AppId", mvp_string((policy.app_id,))),
            ("ScopeIdentityRaw", policy.group_dn),
            ("Description", policy.description),
            ("AccessRight", policy.access_right),
            ("ShardType", "All"),
            ("IsValid", True),
            ("ObjectState", "Unchanged"),
        ]
        yield ExchangeObject((M + "ApplicationAccessPolicy", "System.Object"), policy.identity, tuple(props))
