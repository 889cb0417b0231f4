"""The Exchange Online app snapshots and policies the EXA07x tests build on (values, builders, fixtures).

The compliant Exchange Online snapshot is the seed's compliant snapshot moved to RBAC for Applications: the same
group and scope, the CallPro app's service principal with 'Application Calendars.ReadWrite' scoped by
CustomResourceScope, no Entra app role, Test-ServicePrincipalAuthorization rows and Graph probes that agree.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from audit.evaluate import evaluate
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import (
    AdministrativeUnit,
    ApplicationAccessPolicy,
    AppRoleGrant,
    AuthorizationRow,
    CollectionCall,
    EntraServicePrincipal,
    Group,
    Organization,
    ProbeOutcome,
    RoleAssignment,
    ServicePrincipal,
    Snapshot,
    Target,
    load,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "snapshots"
POLICY = ROOT / "policies" / "callpro-exo.yaml"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # after the EWS phase-off (1 Oct 2026), before the end (1 Apr 2027)
APP_ID = "6233fba6-0198-4277-892f-9275bf728bcc"
SP_ID = "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91"
GRAPH = "00000003-0000-0000-c000-000000000000"
EXO = "00000002-0000-0ff1-ce00-000000000000"
SCOPE = "Scope-CallPro Calendar Access"
ROLE = "Application Calendars.ReadWrite"
MEMBERS = (
    "ad.viseur@contoso.com",
    "bea.buiten@contoso.com",
    "cor.veld@contoso.com",
    "dirk.dealer@contoso.com",
    "eva.expediteur@contoso.com",
    "fien.field@contoso.com",
)
CANARIES = ("ceo@contoso.com", "hr-shared@contoso.com")
AU_ID = "4d819ce9-9257-44a2-8e2b-1f0a3c5d7e90"
EXO_CALLS = (
    "Get-ServicePrincipal",
    "Get-ApplicationAccessPolicy",
    "Graph:servicePrincipal",
    "Graph:appRoleAssignments",
    "Graph:resourceAppRoles",
)


def app_assignment(role: str = ROLE, **kw: object) -> RoleAssignment:
    values: dict[str, object] = {
        "name": f"{role}-{SP_ID}",
        "identity": f"{role}-{SP_ID}",
        "role": role,
        "role_assignee": SP_ID,
        "role_assignee_name": SP_ID,
        "role_assignee_type": "ServicePrincipal",
        "assignment_method": "Direct",
        "delegation_type": "Regular",
        "enabled": True,
        "recipient_write_scope": "CustomRecipientScope",
        "custom_resource_scope": SCOPE,
        "when_changed": "2026-10-01T08:00:00Z",
    }
    values.update(kw)
    return RoleAssignment(**values)  # type: ignore[arg-type]


def row(resource: str | None, in_scope: bool | None, role: str = ROLE, **kw: object) -> AuthorizationRow:
    values: dict[str, object] = {
        "resource": resource,
        "role_name": role,
        "granted_permissions": (role.removeprefix("Application "),),
        "allowed_resource_scope": SCOPE,
        "scope_type": "CustomRecipientScope",
        "in_scope": in_scope,
        "raw_in_scope": "Not Run" if in_scope is None else str(in_scope),
    }
    values.update(kw)
    return AuthorizationRow(**values)  # type: ignore[arg-type]


def call(cmdlet: str, ok: bool = True, **parameters: str) -> CollectionCall:
    return CollectionCall(cmdlet, dict(parameters), ok, 1, 1.0, None if ok else f"{cmdlet} failed", None)


def grant(permission: str, resource: str = GRAPH, name: str = "Microsoft Graph") -> AppRoleGrant:
    return AppRoleGrant(
        resource_app_id=resource,
        resource_display_name=name,
        app_role_id="ef54d2bf-783f-4e0f-bca1-3210c0444d99",
        permission=permission,
        principal_id=SP_ID,
    )


def exo_policy() -> LoadedPolicy:
    """policies/callpro-exo.yaml."""
    return load_policy(POLICY)


def online_snapshot() -> Snapshot:
    """The seed's compliant snapshot moved to RBAC for Applications: every app check passes."""
    seed, _ = load(DATA / "compliant.snapshot.json")
    assignments = tuple(
        a for a in seed.role_assignments if a.name != "ApplicationImpersonation-CallPro Calendar Access"
    )
    probes = tuple(
        dataclasses.replace(
            p,
            response_code="200" if p.expect == "allow" else "403 ErrorAccessDenied",
            outcome=ProbeOutcome.ALLOWED if p.expect == "allow" else ProbeOutcome.DENIED,
        )
        for p in seed.probes
    )
    return dataclasses.replace(
        seed,
        collected_at="2026-11-26T11:00:00Z",
        target=Target("exchange-online", "https://outlook.office365.com", "https://graph.microsoft.com", APP_ID),
        organization=Organization("contoso.onmicrosoft.com", "contoso", True, None, ()),
        role_assignments=(*assignments, app_assignment()),
        role_groups=tuple(rg for rg in seed.role_groups if rg.name != "CallPro Calendar Access"),
        service_principals=(ServicePrincipal("CallPro CalendarSync", APP_ID, SP_ID, identity=SP_ID, name=SP_ID),),
        entra_service_principals=(EntraServicePrincipal(SP_ID, APP_ID, "CallPro CalendarSync", True),),
        authorizations=(
            row(None, None),
            *(row(m, True) for m in MEMBERS),
            *(row(c, False) for c in CANARIES),
        ),
        probes=probes,
        calls=(
            *seed.calls,
            *(call(c) for c in EXO_CALLS),
            *(call("Test-ServicePrincipalAuthorization", Identity=SP_ID, Resource=m) for m in (*MEMBERS, *CANARIES)),
        ),
    )


def by_id(findings: tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.check_id: f for f in findings}


def statuses(findings: tuple[Finding, ...]) -> dict[str, str]:
    return {f.check_id: str(f.status) for f in findings if f.status is not Status.PASS}


def run(policy: LoadedPolicy, snapshot: Snapshot, now: datetime = NOW) -> dict[str, Finding]:
    return by_id(evaluate(policy, snapshot, now))


def with_policy(tmp_path: Path, old: str, new: str) -> LoadedPolicy:
    text = POLICY.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_policy(path)


def replace_calls(snapshot: Snapshot, cmdlet: str, ok: bool) -> Snapshot:
    calls = tuple(dataclasses.replace(c, ok=ok, error=None if ok else "HTTP 403") if c.cmdlet == cmdlet else c
                  for c in snapshot.calls)  # fmt: skip
    return dataclasses.replace(snapshot, calls=calls)


AU_POLICY = f"""\
apiVersion: exaudit/v1
kind: MailboxAccessPolicy
metadata: {{name: callpro-au}}
principal: {{app: {{appId: {APP_ID}, servicePrincipalId: {SP_ID}}}}}
grant:
  role: {ROLE}
  via: {{direct: {{}}}}
  administrativeUnit:
    id: {AU_ID}
    displayName: Field Sales
    members: [ad.viseur@contoso.com, bea.buiten@contoso.com]
probes:
  allow: [ad.viseur@contoso.com, bea.buiten@contoso.com]
  deny: {{canaries: [ceo@contoso.com]}}
"""


def au_policy_in(tmp_path: Path) -> LoadedPolicy:
    path = tmp_path / "au.yaml"
    path.write_text(AU_POLICY, encoding="utf-8")
    return load_policy(path)


def au_snapshot(online: Snapshot, members: tuple[str, ...]) -> Snapshot:
    scoped = app_assignment(custom_resource_scope=None, recipient_administrative_unit_scope=AU_ID)
    assignments = (*(a for a in online.role_assignments if a.role != ROLE), scoped)
    return dataclasses.replace(
        online,
        role_assignments=assignments,
        administrative_units=(AdministrativeUnit(AU_ID, "Field Sales", members),),
        calls=(*online.calls, call("Graph:administrativeUnitMembers")),
    )


def aap(group: str, right: str = "RestrictAccess") -> ApplicationAccessPolicy:
    return ApplicationAccessPolicy(f"contoso\\{APP_ID}:{group}", (APP_ID,), group, group, right)


def org(enabled: bool | None, allowed: tuple[str, ...] | None) -> Organization:
    return Organization("contoso.onmicrosoft.com", "contoso", True, enabled, allowed)


LEGACY = (
    "ews:\n  required: false\nlegacy:\n  serviceAccount: svcServiceAccount@contoso.com\n"
    "  roleGroup: CallPro Calendar Access"
)


def legacy_policy_in(tmp_path: Path) -> LoadedPolicy:
    return with_policy(tmp_path, "ews:\n  required: false", LEGACY)


def _canary_reached(online: Snapshot, changed: str) -> Snapshot:
    recent = tuple(
        dataclasses.replace(a, when_changed=changed) if a.role == ROLE else a for a in online.role_assignments
    )
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.ALLOWED, response_code="200")
        if p.mailbox == "ceo@contoso.com"
        else p
        for p in online.probes
    )
    return dataclasses.replace(online, role_assignments=recent, probes=probes)


def _group_like(group: Group, name: str, members: tuple[str, ...]) -> Group:
    return dataclasses.replace(
        group,
        name=name,
        display_name=name,
        identity=f"contoso.com/Groups/{name}",
        distinguished_name=f"CN={name},OU=Groups,DC=contoso,DC=com",
        members=members,
    )
