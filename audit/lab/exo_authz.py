"""The lab's own access decision for an app in Exchange Online: Entra app roles, RBAC for Applications, AAPs.

"the assigned permissions are a union operation on the permissions from Microsoft Entra ID and the permissions
assigned in Exchange Online RBAC" and "Application Access Policies constrain ONLY the permissions assigned in
Microsoft Entra ID" (APPRBAC FAQ, domain/exo-2026.md section 1.6). "Exclusive management scopes don't restrict app
access" (APPRBAC Limitations, section 1.1). Management scope filters are evaluated with the lab's own OPATH subset
(audit.lab.authz), never the auditor's.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from audit.lab.authz import ROLE_CMDLETS, Authorizer
from audit.lab.exo import APPLICATION_ROLES, EntraApp, ServicePrincipalPointer, pointer_roles
from audit.lab.tenant import Recipient, RoleAssignment, Tenant

# What each Graph operation accepts (learn calendar-get, user-post-events; exo-2026.md section 3).
OPERATION_PERMISSIONS: dict[str, frozenset[str]] = {
    "calendarRead": frozenset({"Calendars.ReadBasic.All", "Calendars.Read", "Calendars.ReadWrite"}),
    "calendarWrite": frozenset({"Calendars.ReadWrite"}),
}


class AppOutcome(enum.Enum):
    """How the lab answers an app's request for one mailbox."""

    ALLOWED = "allowed"
    DENIED = "denied"  # 403 ErrorAccessDenied "Access is denied. Check credentials and try again."
    DENIED_BY_POLICY = "denied-by-policy"  # 403 ErrorAccessDenied "Access to OData is disabled." (AAP)
    NO_USER = "no-user"  # 404 ErrorInvalidUser
    NO_MAILBOX = "no-mailbox"  # 404 MailboxNotEnabledForRESTAPI


@dataclass(frozen=True, slots=True)
class AppDecision:
    """An outcome and why (for logs and tests)."""

    outcome: AppOutcome
    target: Recipient | None
    via: tuple[str, ...]
    reason: str


class AppAuthorizer:
    """Decisions for apps over one tenant value (a new tenant gets a new AppAuthorizer)."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.rbac = Authorizer(tenant)

    # -- Exchange's side (what Test-ServicePrincipalAuthorization reports) ------------------------------

    def pointer_for(self, app: EntraApp) -> ServicePrincipalPointer | None:
        """Exchange's pointer to this app's service principal; a pointer with other ids points at nothing."""
        exo = self.tenant.exo
        if exo is None:
            return None
        for pointer in exo.pointers:
            if pointer.app_id.lower() == app.app_id.lower() and pointer.object_id.lower() == app.object_id.lower():
                return pointer
        return None

    def assignments_of(self, pointer: ServicePrincipalPointer) -> tuple[RoleAssignment, ...]:
        """The enabled Application-role assignments to this pointer."""
        return tuple(
            a
            for a in self.tenant.role_assignments
            if a.assignee_type == "ServicePrincipal"
            and a.assignee.lower() == pointer.dn.lower()
            and a.enabled
            and a.role in APPLICATION_ROLES
        )

    def in_scope(self, assignment: RoleAssignment, target: Recipient) -> bool:
        """Whether a mailbox lies in an app assignment's resource scope (exclusive scopes do not restrict)."""
        if assignment.recipient_administrative_unit_scope:
            exo = self.tenant.exo
            unit = exo.admin_unit(assignment.recipient_administrative_unit_scope) if exo else None
            return unit is not None and target.dn.lower() in {m.lower() for m in unit.members}
        if assignment.custom_recipient_write_scope:
            scope = self.tenant.scope(assignment.custom_recipient_write_scope)
            if scope is None:
                return False
            # Evaluated as a regular scope even when Exclusive is set: "Exclusive management scopes don't
            # restrict app access" (APPRBAC).
            return self.rbac.in_write_scope(_as_regular(assignment), target, target)
        return True

    def rbac_allows(self, app: EntraApp, target: Recipient, permissions: Iterable[str]) -> tuple[str, ...]:
        """Names of the app's Exchange assignments that grant one of ``permissions`` on ``target``."""
        pointer = self.pointer_for(app)
        if pointer is None:
            return ()
        wanted = set(permissions)
        return tuple(
            a.name
            for a in self.assignments_of(pointer)
            if wanted & set(APPLICATION_ROLES[a.role]) and self.in_scope(a, target)
        )

    # -- Entra's side, confined by Application Access Policies -----------------------------------------

    def policy_allows(self, app: EntraApp, target: Recipient) -> bool:
        """Whether the Application Access Policies let the app's Entra grants reach ``target`` (Deny wins)."""
        exo = self.tenant.exo
        policies = [p for p in exo.access_policies if p.app_id.lower() == app.app_id.lower()] if exo else []
        if not policies:
            return True
        # The policy's group may be nested (exchange-rbac.md section 6.4).
        reach = self.rbac.groups_of(target.dn)
        member = {p.group_dn.lower(): p.group_dn.lower() in reach for p in policies}
        if any(p.access_right == "DenyAccess" and member[p.group_dn.lower()] for p in policies):
            return False
        restricts = [p for p in policies if p.access_right == "RestrictAccess"]
        return not restricts or any(member[p.group_dn.lower()] for p in restricts)

    # -- the union ----------------------------------------------------------------------------------------

    def decide(self, app: EntraApp, identity: str, operation: str, token_roles: Iterable[str]) -> AppDecision:
        """Decide a Graph mailbox request by ``app`` for ``identity`` (UPN, SMTP address or object id)."""
        obj = self.tenant.resolve_recipient(identity)  # UPN, address or object id (the lab's GUID)
        if obj is None:
            return AppDecision(AppOutcome.NO_USER, None, (), "no such user")
        if not obj.has_mailbox:
            return AppDecision(AppOutcome.NO_MAILBOX, obj, (), "the user has no Exchange Online mailbox")
        permissions = OPERATION_PERMISSIONS[operation]
        rbac = self.rbac_allows(app, obj, permissions)
        if rbac:
            return AppDecision(AppOutcome.ALLOWED, obj, rbac, "RBAC for Applications")
        entra = tuple(sorted(permissions & set(token_roles)))
        if entra:
            if self.policy_allows(app, obj):
                return AppDecision(AppOutcome.ALLOWED, obj, tuple(f"entra:{r}" for r in entra), "Entra app role")
            return AppDecision(AppOutcome.DENIED_BY_POLICY, obj, (), "Entra grant confined by an access policy")
        return AppDecision(AppOutcome.DENIED, obj, (), "no grant reaches this mailbox")


def _as_regular(assignment: RoleAssignment) -> RoleAssignment:
    return dataclasses.replace(assignment, recipient_write_scope="CustomRecipientScope")


def app_visible_cmdlets(tenant: Tenant, object_id: str) -> frozenset[str]:
    """The cmdlets an app's InvokeCommand session exposes: those of its pointer's role groups' roles."""
    out: set[str] = set()
    for role in pointer_roles(tenant, object_id):
        out |= ROLE_CMDLETS.get(role, frozenset())
    return frozenset(out)
