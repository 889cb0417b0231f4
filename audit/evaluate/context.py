"""What every check reads: the policy, the indexed snapshot, ``now``, and the resolutions several checks share.

Resolutions (who the principal is, which role group the policy means, which assignments sit on that path, which
group the scope is about) are computed once per policy and carry their own problem text, so that every check that
depends on them says the same thing when they fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from audit.evaluate.directory import ASSIGNMENT_POLICY, Directory, Hop, describe_path, key
from audit.findings import Severity, Status
from audit.policy import LoadedPolicy
from audit.snapshot import Group, RoleAssignment, Snapshot, User

SERVICE_PRINCIPAL = "serviceprincipal"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check function decided, before the engine adds identity, waivers and severity overrides."""

    status: Status
    message: str
    expected: str = ""
    actual: str = ""
    evidence: tuple[str, ...] = ()
    remediation: str = ""
    severity: Severity | None = None  # None: the registry's severity


def assignment_line(a: RoleAssignment) -> str:
    """One evidence line quoting an assignment as Get-ManagementRoleAssignment shows it."""
    return (
        f"Identity={a.identity!r} Role={a.role!r} RoleAssignee={a.role_assignee!r} "
        f"RoleAssigneeType={a.role_assignee_type} RoleAssignmentDelegationType={a.delegation_type} "
        f"Enabled={a.enabled} RecipientWriteScope={a.recipient_write_scope} "
        f"CustomRecipientWriteScope={a.custom_recipient_write_scope or ''!r}"
        + (f" CustomResourceScope={a.custom_resource_scope!r}" if a.custom_resource_scope else "")
    )


def grants_access(a: RoleAssignment) -> bool:
    """Whether an assignment gives its role's permissions: enabled and Regular.

    Delegating and DelegatingOrgWide assignments only allow assigning the role to others
    (https://learn.microsoft.com/en-us/exchange/permissions/role-assignments#delegating-role-assignments);
    disabled assignments are ignored by RBAC (Set-ManagementRoleAssignment -Enabled).
    """
    return a.enabled and key(a.delegation_type) == "regular"


@dataclass(frozen=True, slots=True)
class Principal:
    """The principal as found in the snapshot."""

    label: str  # what messages call it
    keys: frozenset[str]  # identities an assignment's RoleAssignee may name it by (lower-cased)
    user: User | None = None
    problem: str = ""  # non-empty: not found or ambiguous
    evidence: tuple[str, ...] = ()
    # Cannot tell (ERROR), unlike not found (FAIL): several users answer to the address, or it was never read.
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class Via:
    """The assignee the policy says the role comes through (role group, security group, or the principal)."""

    kind: str  # "roleGroup" | "securityGroup" | "direct"
    name: str
    identity: str = ""  # lower-cased identity the assignments name; "" when unresolved
    label: str = ""
    problem: str = ""
    ambiguous: bool = False
    evidence: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()  # identities of the records an ambiguous name matches


@dataclass(frozen=True, slots=True)
class Reach:
    """One assignment that reaches the principal, and how."""

    assignment: RoleAssignment
    path: str
    hops: tuple[Hop, ...] = ()  # empty: assigned straight to the principal


@dataclass
class Context:
    """Inputs and shared resolutions for evaluating one policy against one snapshot."""

    policy: LoadedPolicy
    snapshot: Snapshot
    directory: Directory
    now: datetime

    @property
    def role(self) -> str:
        """The role the policy grants."""
        return self.policy.spec.grant.role

    @property
    def scope_name(self) -> str:
        """What the assignment must be scoped to: the management scope's name, or the administrative unit's id."""
        grant = self.policy.spec.grant
        if grant.administrative_unit is not None:
            return grant.administrative_unit.id
        assert grant.scope is not None  # the policy model requires exactly one of the two
        return grant.scope

    @property
    def scope_parameter(self) -> str:
        """The New-/Set-ManagementRoleAssignment parameter that sets the expected scope."""
        if self.policy.spec.grant.administrative_unit is not None:
            # https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
            return "-RecipientAdministrativeUnitScope"
        return "-CustomResourceScope" if self.is_app else "-CustomRecipientWriteScope"

    @property
    def is_app(self) -> bool:
        """Whether the principal is an Exchange Online service principal (RBAC for Applications)."""
        return self.policy.spec.principal.app is not None

    @cached_property
    def principal(self) -> Principal:
        """Find the principal: a user by UPN/SMTP address, or a service principal by its ids."""
        spec = self.policy.spec.principal
        if spec.app is not None:
            app = spec.app
            app_ids = {key(app.service_principal_id), key(app.app_id)} | (
                {key(app.display_name)} if app.display_name else set()
            )
            label = app.display_name or app.service_principal_id
            # Get-ServicePrincipal shows the pointer by ObjectId, AppId, Name and Identity; an assignment's
            # RoleAssigneeName may be any of them (the ObjectId in Microsoft's example, the AppId per TRR0019).
            # https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
            pointers = [
                sp
                for sp in self.snapshot.service_principals
                if key(sp.object_id) == key(app.service_principal_id) or key(sp.app_id) == key(app.app_id)
            ]
            for sp in pointers:
                app_ids |= {k for k in (key(sp.object_id), key(sp.app_id), key(sp.identity), key(sp.name)) if k}
            # Without Get-ServicePrincipal the snapshot knows a service principal only through assignments naming it.
            seen = [
                a
                for a in self.snapshot.role_assignments
                if key(a.role_assignee_type) == SERVICE_PRINCIPAL
                and (key(a.role_assignee) in app_ids or key(a.role_assignee_name) in app_ids)
            ]
            if not seen and pointers:
                return Principal(
                    label=label,
                    keys=frozenset(app_ids),
                    evidence=tuple(
                        f"ServicePrincipal AppId={sp.app_id} ObjectId={sp.object_id} DisplayName={sp.display_name!r}"
                        for sp in pointers
                    ),
                )
            if not seen:
                return Principal(
                    label=label,
                    keys=frozenset(app_ids),
                    problem=f"no role assignment names service principal {label} (ObjectId {app.service_principal_id})",
                )
            return Principal(label=label, keys=frozenset(app_ids), evidence=tuple(assignment_line(a) for a in seen[:5]))
        wanted = spec.service_account or ""
        users: list[User] = self.directory.users(wanted)
        if not users:
            for mailbox in self.directory.mailboxes(wanted):
                users.extend(self.directory.users(mailbox.identity))
        unique = list({key(u.identity): u for u in users}.values())
        if not unique:
            asked = [
                c.parameters.get("Identity", "")
                for c in self.snapshot.calls
                if key(c.cmdlet) == "get-user" and key(c.parameters.get("Identity")) == key(wanted)
            ]
            if not asked:
                # The collector reads Get-User -Identity <principal> only for the principals it was given: a
                # snapshot collected for another account says nothing about this one (cannot tell, not absent).
                read = sorted(
                    {c.parameters.get("Identity", "") for c in self.snapshot.calls if key(c.cmdlet) == "get-user"}
                )
                return Principal(
                    label=wanted,
                    keys=frozenset(),
                    problem=f"the snapshot holds no Get-User read of {wanted} "
                    f"(it read {', '.join(read) or 'no user'}); collect with this policy",
                    ambiguous=True,
                )
            return Principal(label=wanted, keys=frozenset(), problem=f"no user has UPN or e-mail address {wanted}")
        if len(unique) > 1:
            ids = ", ".join(repr(u.identity) for u in unique)
            return Principal(
                label=wanted,
                keys=frozenset(),
                problem=f"{wanted} matches {len(unique)} users ({ids}); cannot tell which one the integration uses",
                ambiguous=True,
            )
        user = unique[0]
        return Principal(
            label=user.name,
            keys=frozenset(k for k in (key(user.identity), key(user.distinguished_name)) if k),
            user=user,
            evidence=(
                f"User Identity={user.identity!r} UserPrincipalName={user.user_principal_name!r} "
                f"SamAccountName={user.sam_account_name!r} RecipientTypeDetails={user.recipient_type_details} "
                f"AccountDisabled={user.account_disabled}",
            ),
        )

    @cached_property
    def containers(self) -> dict[str, tuple[Hop, ...]]:
        """Groups and role groups the principal belongs to, directly or nested, with the path to each."""
        return self.directory.containers(self.principal.keys) if not self.principal.problem else {}

    def reaches(self, a: RoleAssignment) -> str | None:
        """How an assignment reaches the principal (a path description), or None when it does not."""
        if key(a.role_assignee_type) == ASSIGNMENT_POLICY:
            return None
        assignee = self.directory.canonical(a.role_assignee)
        if self.is_app:
            if key(a.role_assignee_type) == SERVICE_PRINCIPAL and (
                key(a.role_assignee) in self.principal.keys or key(a.role_assignee_name) in self.principal.keys
            ):
                return f"direct to service principal {self.principal.label}"
            return None
        if assignee in self.principal.keys or key(a.role_assignee) in self.principal.keys:
            return f"direct to {self.principal.label}"
        hops = self.containers.get(assignee)
        if hops is None:
            return None
        return describe_path(self.principal.label, hops)

    @cached_property
    def reaching(self) -> list[Reach]:
        """Every assignment (any role, any state) that reaches the principal."""
        if self.principal.problem:
            return []
        found = []
        for a in self.snapshot.role_assignments:
            path = self.reaches(a)
            if path is not None:
                found.append(Reach(a, path, self.containers.get(self.directory.canonical(a.role_assignee), ())))
        return found

    @cached_property
    def unresolved(self) -> list[RoleAssignment]:
        """Granting assignments to a group that is in no Get-Group or Get-RoleGroup record read.

        Whether the principal is a member of such a group is unknown (a group in another domain of the forest,
        which Exchange's cmdlets do not show unless the session views the entire forest:
        https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/set-adserversettings), so
        whether the assignment reaches it is unknown: a check that would PASS must say ERROR instead. Assignments
        to other users are not here: Get-User reads only the principals, and a user is never a member of a user.
        """
        if self.is_app or self.principal.problem:
            return []
        return [
            a
            for a in self.snapshot.role_assignments
            if "group" in key(a.role_assignee_type)
            and grants_access(a)
            and self.directory.group(a.role_assignee) is None
            and self.directory.role_group(a.role_assignee) is None
        ]

    def undecided(self, roles: Callable[[str], bool], verdict: Verdict) -> Verdict:
        """``verdict`` if it is not a PASS or no unresolved assignment of a role in ``roles`` exists; else ERROR."""
        unknown = [a for a in self.unresolved if roles(key(a.role))]
        if verdict.status is not Status.PASS or not unknown:
            return verdict
        names = ", ".join(f"{a.role_assignee!r} ({a.role_assignee_type}, role {a.role})" for a in unknown[:10])
        return Verdict(
            Status.ERROR,
            f"Cannot tell whether {len(unknown)} assignment(s) reach {self.principal.label}: their assignee is no "
            f"group or role group that was read: {names}. Whether {self.principal.label} is a member is unknown.",
            expected=verdict.expected,
            actual="assignee not read",
            evidence=verdict.evidence + tuple(assignment_line(a) for a in unknown),
        )

    @cached_property
    def via(self) -> Via:
        """Resolve the assignee named by grant.via."""
        grant = self.policy.spec.grant.via
        if grant.direct is not None:
            if self.principal.problem:
                return Via("direct", self.principal.label, problem=self.principal.problem)
            ident = next(iter(sorted(self.principal.keys)), "")
            return Via("direct", self.principal.label, identity=ident, label=self.principal.label)
        if grant.role_group is not None:
            name = grant.role_group.name
            found = self.directory.role_groups_named(name)
            if len(found) > 1:
                # DisplayName is not unique; Name is (a role group is a group in one OU). Prefer an exact Name.
                by_name = [rg for rg in found if key(rg.name) == key(name)]
                found = by_name if len(by_name) == 1 else found
            evidence = tuple(
                f"RoleGroup Identity={rg.identity!r} Name={rg.name!r} DisplayName={rg.display_name!r} Guid={rg.guid}"
                for rg in found
            )
            if not found:
                return Via("roleGroup", name, problem=f"no role group is named or displayed as '{name}'")
            if len(found) > 1:
                return Via(
                    "roleGroup",
                    name,
                    problem=f"{len(found)} role groups are named or displayed as '{name}'; rename so one is meant",
                    ambiguous=True,
                    evidence=evidence,
                    candidates=tuple(rg.identity for rg in found),
                )
            rg = found[0]
            return Via("roleGroup", name, identity=key(rg.identity), label=rg.name, evidence=evidence)
        assert grant.security_group is not None
        name = grant.security_group.name
        groups = self.directory.groups_named(name)
        evidence = tuple(f"Group Identity={g.identity!r} Name={g.name!r} Guid={g.guid}" for g in groups)
        if not groups:
            return Via("securityGroup", name, problem=f"no security group is named '{name}'")
        if len(groups) > 1:
            return Via(
                "securityGroup",
                name,
                problem=f"{len(groups)} groups are named '{name}'",
                ambiguous=True,
                evidence=evidence,
                candidates=tuple(g.identity for g in groups),
            )
        return Via("securityGroup", name, identity=key(groups[0].identity), label=groups[0].name, evidence=evidence)

    @cached_property
    def on_path(self) -> list[RoleAssignment]:
        """Assignments of the granted role to the assignee grant.via names (any delegation type, any state)."""
        via = self.via
        if not via.identity:
            return []
        found = []
        for a in self.directory.assignments_by_role.get(key(self.role), ()):
            if self.is_app or via.kind == "direct":
                path = self.reaches(a)
                if path is not None and path.startswith("direct"):
                    found.append(a)
            elif self.directory.canonical(a.role_assignee) == via.identity:
                found.append(a)
        return found

    @cached_property
    def group(self) -> tuple[Group | None, str, bool]:
        """The policy's group: (record, problem, ambiguous)."""
        spec = self.policy.spec.group
        if spec is None:
            return None, "the policy names no group", False
        found = self.directory.groups_named(spec.name)
        if len(found) > 1:
            by_name = [g for g in found if key(g.name) == key(spec.name)]
            found = by_name if len(by_name) == 1 else found
        if not found:
            return None, f"no group is named or displayed as '{spec.name}'", False
        if len(found) > 1:
            ids = ", ".join(repr(g.distinguished_name) for g in found)
            return None, f"{len(found)} groups are named or displayed as '{spec.name}' ({ids})", True
        return found[0], "", False
