"""EXA070-EXA075 word for word on app snapshots that each exercise several branches at once (golden files).

Issue 14's mutation run of audit/evaluate/apps.py: a changed condition, an ``and`` for an ``or``, a dropped
argument shows in what a finding says (message, expected, actual, evidence, remediation, status, severity), so
each scenario below renders the six findings of audit/evaluate/apps.py whole and compares them with
tests/data/evaluate/apps/<scenario>.txt. Regenerate after an intended change with
``EXAUDIT_REGEN_GOLDEN=1 pytest tests/evaluate/test_mut_apps.py`` (refused in CI) and review the diff. The
explicit tests at the end pin the promises the golden files only show (verdicts, severities, what is left out).

Domain: RBAC for Applications and the Entra union (/work/shared/domain/exo-2026.md section 1; Microsoft's
https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import (
    AdministrativeUnit,
    ApplicationAccessPolicy,
    AppRoleGrant,
    EntraServicePrincipal,
    RoleAssignment,
    ServicePrincipal,
    Snapshot,
)
from tests.evaluate import app_snapshot
from tests.evaluate.app_snapshot import (
    APP_ID,
    AU_ID,
    AU_POLICY,
    EXO,
    GRAPH,
    NOW,
    POLICY,
    ROLE,
    ROOT,
    SP_ID,
    _group_like,
    aap,
    app_assignment,
    au_snapshot,
    grant,
    row,
)
from tests.evaluate.test_findings_golden import render
from tests.gates import check_golden

GOLDEN = ROOT / "tests" / "data" / "evaluate" / "apps"
HINT = "regenerate with EXAUDIT_REGEN_GOLDEN=1 (outside CI) and review the diff"
CHECKS = ("EXA070", "EXA071", "EXA072", "EXA073", "EXA074", "EXA075")
OTHER_APP = "0f8c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f"
OTHER_SP = "11111111-2222-4333-8444-555555555555"
STRANGER = "99999999-9999-4999-8999-999999999999"
UNKNOWN_RESOURCE = "abcdefab-1234-4cde-8f01-23456789abcd"

Scenario = Callable[[Path], tuple[LoadedPolicy, Snapshot]]


# Loaded once per text: the scenarios only read them (both are frozen), and the mutation run repeats every test
# for each of the module's ~860 mutants.
_POLICIES: dict[str, LoadedPolicy] = {}


@functools.cache
def online_snapshot() -> Snapshot:
    return app_snapshot.online_snapshot()


def _policy(tmp_path: Path, *edits: tuple[str, str], text: str | None = None) -> LoadedPolicy:
    """policies/callpro-exo.yaml (or ``text``) with each (old, new) replaced once; old must be there."""
    body = POLICY.read_text(encoding="utf-8") if text is None else text
    for old, new in edits:
        assert old in body, old
        body = body.replace(old, new, 1)
    if body not in _POLICIES:
        path = tmp_path / "policy.yaml"
        path.write_text(body, encoding="utf-8")
        _POLICIES[body] = load_policy(path)
    return _POLICIES[body]


def _without_role(snap: Snapshot, *roles: str) -> tuple[RoleAssignment, ...]:
    return tuple(a for a in snap.role_assignments if a.role not in roles)


# --- EXA070 -----------------------------------------------------------------------------------------------------


def sp_missing_everywhere(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """No Exchange pointer; Entra holds only an object with the policy's servicePrincipalId for another app.

    The assignment still names the service principal, so the app is found (EXA071/072 are not blocked).
    """
    online = online_snapshot()
    entra = (
        EntraServicePrincipal(SP_ID, OTHER_APP, "Someone else's app", True),
        EntraServicePrincipal(STRANGER, STRANGER, "Unrelated", True),
    )
    return _policy(tmp_path), dataclasses.replace(online, service_principals=(), entra_service_principals=entra)


def sp_every_pointer_problem(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Entra's object for the app has another id and is disabled; five pointers name the app, four of them wrong."""
    online = online_snapshot()
    entra = (
        EntraServicePrincipal(OTHER_SP, APP_ID.upper(), "CallPro CalendarSync", False),
        EntraServicePrincipal(STRANGER, STRANGER, "Unrelated", True),
    )
    pointers = (
        ServicePrincipal("Confused", APP_ID, APP_ID, identity="Confused"),
        ServicePrincipal("", APP_ID, OTHER_SP, identity="pointer-two"),
        ServicePrincipal("Wrong app", OTHER_APP, SP_ID, identity=""),
        ServicePrincipal("Both wrong", OTHER_APP, APP_ID.upper(), identity="Both wrong"),
        ServicePrincipal("Right", APP_ID, SP_ID, identity=SP_ID),
        ServicePrincipal("Unrelated", STRANGER, STRANGER, identity="Unrelated"),
    )
    snap = dataclasses.replace(online, service_principals=pointers, entra_service_principals=entra)
    return _policy(tmp_path), snap


def sp_two_right_pointers(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Two correct pointers name the app: the only problem is the duplicate."""
    online = online_snapshot()
    copy = ServicePrincipal("CallPro copy", APP_ID, SP_ID, identity="CallPro copy")
    return _policy(tmp_path), dataclasses.replace(online, service_principals=(*online.service_principals, copy))


def sp_policy_without_display_name(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """No displayName in the policy: New-ServicePrincipal is named after the policy (metadata.name)."""
    online = online_snapshot()
    policy = _policy(tmp_path, ("    displayName: CallPro CalendarSync", ""))
    return policy, dataclasses.replace(online, service_principals=())


def sp_same_id_for_both(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """A policy whose appId and servicePrincipalId are the same GUID: a pointer with that ObjectId is right."""
    online = online_snapshot()
    policy = _policy(tmp_path, (SP_ID, APP_ID))
    pointers = (ServicePrincipal("CallPro CalendarSync", APP_ID, APP_ID, identity=APP_ID),)
    entra = (EntraServicePrincipal(APP_ID, APP_ID, "CallPro CalendarSync", True),)
    assignments = (*_without_role(online, ROLE), app_assignment(role_assignee=APP_ID, role_assignee_name=APP_ID))
    snap = dataclasses.replace(
        online, service_principals=pointers, entra_service_principals=entra, role_assignments=assignments
    )
    return policy, snap


# --- EXA071 -----------------------------------------------------------------------------------------------------


def roles_extra_and_missing(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The policy's role is not held; Calendars.Read twice (Microsoft's table) and Mail Full Access (two rows)."""
    online = online_snapshot()
    held = (
        app_assignment("Application Calendars.Read", identity="read-one", name="read-one"),
        app_assignment("Application Calendars.Read", identity="read-two", name="read-two"),
        app_assignment("Application Mail Full Access", identity="full-mail", name="full-mail"),
    )
    rows = (
        *online.authorizations,
        row(None, None, "Application Mail Full Access", granted_permissions=("Mail.ReadWrite", "Mail.Send")),
        row(None, None, "application mail full access", granted_permissions=("Mail.Send", "Mail.Read")),
    )
    snap = dataclasses.replace(online, role_assignments=(*_without_role(online, ROLE), *held), authorizations=rows)
    return _policy(tmp_path), snap


def roles_none_held(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The pointer exists but no Application role is assigned: the role is missing, the app holds 'none'."""
    online = online_snapshot()
    return _policy(tmp_path), dataclasses.replace(online, role_assignments=_without_role(online, ROLE))


def roles_composite_missing(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The policy names a composite role; the app holds only one of its permissions: the others are missing, by
    what the composite grants (Microsoft's table), not by its name."""
    online = online_snapshot()
    policy = _policy(tmp_path, ("  role: Application Calendars.ReadWrite", "  role: Application Exchange Full Access"))
    return policy, online


def roles_unknown_and_extra(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """An extra role nobody can tell the permissions of, beside the right one."""
    online = online_snapshot()
    snap = dataclasses.replace(
        online, role_assignments=(*online.role_assignments, app_assignment("Application Future.Thing"))
    )
    return _policy(tmp_path), snap


def roles_unknown_allowed(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Two allowed roles whose permissions are unknown, the main role missing: ERROR, not a wrong 'missing'."""
    online = online_snapshot()
    policy = _policy(
        tmp_path,
        (
            "otherRolesAllowed: []",
            "otherRolesAllowed: [Application Future.Thing, Application Other.Unknown, Mail Recipients]",
        ),
    )
    held = (
        app_assignment("Application Future.Thing", identity="future", name="future"),
        app_assignment("Application Other.Unknown", identity="other", name="other"),
    )
    return policy, dataclasses.replace(online, role_assignments=(*_without_role(online, ROLE), *held))


def roles_other_allowed_held(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Two allowed roles held: what each grants is wanted, none is extra."""
    online = online_snapshot()
    policy = _policy(tmp_path, ("otherRolesAllowed: []", "otherRolesAllowed: [Application Mail.Send]"))
    held = app_assignment("Application Mail.Send", identity="mail-send", name="mail-send")
    return policy, dataclasses.replace(online, role_assignments=(*online.role_assignments, held))


def roles_extra_permission_only(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The right role, but Test-ServicePrincipalAuthorization says it grants one permission more."""
    online = online_snapshot()
    rows = tuple(
        dataclasses.replace(r, granted_permissions=("Calendars.ReadWrite", "Mail.Send")) if r.resource is None else r
        for r in online.authorizations
    )
    return _policy(tmp_path), dataclasses.replace(online, authorizations=rows)


def roles_case_and_table(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The role in other case, its rows without GrantedPermissions (Microsoft's table decides), assignments that
    do not count (disabled, Delegating, not an Application role)."""
    online = online_snapshot()
    lower = app_assignment("application calendars.readwrite")
    ignored = (
        app_assignment("Application Mail.Send", enabled=False, identity="disabled", name="disabled"),
        app_assignment("Application Mail.Read", delegation_type="Delegating", identity="delegating", name="delegating"),
        app_assignment("Mail Recipients", identity="not-an-app-role", name="not-an-app-role"),
    )
    rows = tuple(dataclasses.replace(r, granted_permissions=()) for r in online.authorizations)
    snap = dataclasses.replace(
        online, role_assignments=(*_without_role(online, ROLE), lower, *ignored), authorizations=rows
    )
    return _policy(tmp_path), snap


def roles_policy_role_not_in_table(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The policy names a role Microsoft's table lacks and nothing grants it: missing by its own name."""
    online = online_snapshot()
    policy = _policy(tmp_path, ("  role: Application Calendars.ReadWrite", "  role: Application Future.Read"))
    return policy, online


def blocked(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """No pointer and no assignment: the app cannot be followed (EXA071/072 say so and point at EXA070)."""
    online = online_snapshot()
    snap = dataclasses.replace(online, service_principals=(), role_assignments=_without_role(online, ROLE))
    return _policy(tmp_path), snap


# --- EXA072 -----------------------------------------------------------------------------------------------------


def scope_unscoped_and_org_rows(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """One unscoped assignment and every spelling of an org-wide Test-ServicePrincipalAuthorization row."""
    online = online_snapshot()
    wide = app_assignment(custom_resource_scope=None, recipient_write_scope="Organization")
    scoped = app_assignment("Application Mail.Send", identity="mail-send", name="mail-send")
    rows = (
        row(None, None, scope_type="Organization", allowed_resource_scope="Organization"),  # same role: once
        row(None, None, "Application Mail.Send", scope_type="", allowed_resource_scope=""),
        row(None, None, "Application Contacts.Read", allowed_resource_scope="organization"),
        row(None, None, "Application Mail.Read", scope_type="OrganizationConfig"),
        row(None, None, "Application Mail.ReadBasic", scope_type="Not Applicable"),
        row(None, None, "Application Contacts.ReadWrite", scope_type="OrganizationScope"),
        row(None, None, "Application Calendars.Read", scope_type="AdministrativeUnit", allowed_resource_scope=AU_ID),
        row(None, None, "Mail Recipients", scope_type="Organization"),
        row("ceo@contoso.com", False, "Application Mail.Read", scope_type="Organization"),
    )
    snap = dataclasses.replace(
        online, role_assignments=(*_without_role(online, ROLE), wide, scoped), authorizations=rows
    )
    return _policy(tmp_path), snap


def scope_unscoped_only(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """An unscoped assignment, and Test-ServicePrincipalAuthorization rows that are all scoped."""
    online = online_snapshot()
    wide = app_assignment(custom_resource_scope=None, recipient_write_scope="Organization")
    return _policy(tmp_path), dataclasses.replace(online, role_assignments=(*_without_role(online, ROLE), wide))


def scope_org_row_only(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Every assignment scoped, but a row with a scope type exaudit does not list and no AllowedResourceScope."""
    online = online_snapshot()
    blank = row(
        None, None, "Application MailboxSettings.Read", scope_type="CustomRecipientScope", allowed_resource_scope=""
    )
    return _policy(tmp_path), dataclasses.replace(online, authorizations=(*online.authorizations, blank))


def scope_au_unscoped(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """An administrative-unit policy: the fix scopes with -RecipientAdministrativeUnitScope."""
    online = online_snapshot()
    base = au_snapshot(online, ("ad.viseur@contoso.com", "bea.buiten@contoso.com"))
    wide = app_assignment(custom_resource_scope=None, recipient_write_scope="Organization")
    org_row = row(None, None, "Application Calendars.Read", scope_type="Organization")
    snap = dataclasses.replace(
        base,
        role_assignments=(*_without_role(base, ROLE), wide),
        authorizations=(*base.authorizations, org_row),
    )
    return _policy(tmp_path, text=AU_POLICY), snap


# --- EXA073 -----------------------------------------------------------------------------------------------------


def au_exact_by_other_addresses(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The unit lists its members by identity, in other case and by a proxy address: still exactly right."""
    online = online_snapshot()
    policy = _policy(
        tmp_path,
        (
            "members: [ad.viseur@contoso.com, bea.buiten@contoso.com]",
            "members: [AD.Viseur@contoso.com, fien@contoso.com]",
        ),
        text=AU_POLICY,
    )
    return policy, au_snapshot(online, ("contoso.com/Users/Ad Viseur", "FIEN.FIELD@contoso.com"))


def au_member_by_identity_the_policy_names(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Entra lists a member by the name Exchange knows as its Identity (a UPN, not one of its SMTP addresses),
    and the policy names it the same way: the member matches by that name too."""
    online = online_snapshot()
    upn = "ad.viseur@contoso.onmicrosoft.com"
    recipients = tuple(
        dataclasses.replace(r, identity=upn) if r.primary_smtp_address == "ad.viseur@contoso.com" else r
        for r in online.recipients
    )
    policy = _policy(
        tmp_path,
        ("members: [ad.viseur@contoso.com, bea.buiten@contoso.com]", f"members: [{upn}, bea.buiten@contoso.com]"),
        text=AU_POLICY,
    )
    snap = dataclasses.replace(au_snapshot(online, (upn, "bea.buiten@contoso.com")), recipients=recipients)
    return policy, snap


def au_extra_and_missing(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Extra members (one unknown to Exchange) and a missing one; neither unit nor policy gives a display name."""
    online = online_snapshot()
    policy = _policy(tmp_path, ("    displayName: Field Sales\n", ""), text=AU_POLICY)
    base = au_snapshot(online, ("ad.viseur@contoso.com", "ceo@contoso.com", "ghost@contoso.com", "fien@contoso.com"))
    snap = dataclasses.replace(
        base, administrative_units=(dataclasses.replace(base.administrative_units[0], display_name=""),)
    )
    return policy, snap


def au_not_read(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The unit's members were never read: ERROR naming the unit."""
    online = online_snapshot()
    snap = dataclasses.replace(au_snapshot(online, ()), administrative_units=(AdministrativeUnit(OTHER_SP, "x", ()),))
    return _policy(tmp_path, text=AU_POLICY), snap


# --- EXA074 -----------------------------------------------------------------------------------------------------

ALLOW_USER_READ = (
    "allowedAppRoles: []",
    "allowedAppRoles: [{resource: Microsoft Graph, permission: User.Read.All}]",
)


def _grant(permission: str, resource: str, name: str, role_id: str, principal: str = SP_ID) -> AppRoleGrant:
    return AppRoleGrant(resource, name, role_id, permission, principal)


def entra_reaching_and_confined(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Two grants reaching mailboxes, one not allowed, one allowed; Application Access Policies confine the app."""
    online = online_snapshot()
    grants = (
        grant("Calendars.ReadWrite"),
        _grant("full_access_as_app", EXO, "", "dc890d15-9560-4a4c-9b7f-a736ec74ec40", principal=""),
        _grant("Group.Read.All", GRAPH, "Microsoft Graph", "5b567255-7703-4780-807c-7be8301ae99b"),
        _grant("User.Read.All", GRAPH, "Microsoft Graph", "df021288-bdef-4463-88db-98f22de89214"),
        _grant("Mail.Read", GRAPH, "Microsoft Graph", "810c84a8-4a9e-49e6-bf7d-12d183f40d01", principal=STRANGER),
        _grant("", GRAPH, "Microsoft Graph", "00000000-0000-0000-0000-000000000000"),
    )
    policies = (
        aap("SecurityGroup-CallPro Calendar Access"),
        ApplicationAccessPolicy(
            "contoso\\second", (OTHER_APP, APP_ID.upper()), "Sales Office", "Sales Office", "restrictaccess"
        ),
        aap("All Staff", right="DenyAccess"),
        ApplicationAccessPolicy("contoso\\other-app", (OTHER_APP,), "All Staff", "All Staff", "RestrictAccess"),
    )
    snap = dataclasses.replace(online, app_role_grants=grants, application_access_policies=policies)
    return _policy(tmp_path, ALLOW_USER_READ), snap


def entra_unresolved(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Two grants whose permission was not resolved (one blank), one not allowed: ERROR before the FAIL."""
    online = online_snapshot()
    grants = (
        _grant("", GRAPH, "Microsoft Graph", "aaaaaaaa-0000-4000-8000-000000000001"),
        _grant("  ", EXO, "Office 365 Exchange Online", "aaaaaaaa-0000-4000-8000-000000000002"),
        _grant("Group.Read.All", GRAPH, "Microsoft Graph", "5b567255-7703-4780-807c-7be8301ae99b"),
    )
    return _policy(tmp_path), dataclasses.replace(online, app_role_grants=grants)


def entra_other_only(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Grants the policy does not allow, from a resource without a display name and from Exchange."""
    online = online_snapshot()
    grants = (
        _grant("Group.Read.All", UNKNOWN_RESOURCE, "", "5b567255-7703-4780-807c-7be8301ae99b"),
        _grant("User.Read.All", EXO, "Office 365 Exchange Online", "df021288-bdef-4463-88db-98f22de89214"),
        _grant("Directory.Read.All", GRAPH, "", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"),
    )
    return _policy(tmp_path, ALLOW_USER_READ), dataclasses.replace(online, app_role_grants=grants)


def entra_no_entra_section(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """A policy without an entra section allows no Entra app role at all."""
    online = online_snapshot()
    snap = dataclasses.replace(
        au_snapshot(online, ("ad.viseur@contoso.com", "bea.buiten@contoso.com")),
        app_role_grants=(_grant("Group.Read.All", GRAPH, "Microsoft Graph", "5b567255-7703-4780-807c-7be8301ae99b"),),
    )
    return _policy(tmp_path, text=AU_POLICY), snap


def entra_all_allowed(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Allowed by display name (of a well-known and of a custom resource), by resource app id, by the well-known
    name of a resource shown without one;
    one grant held by the app's Entra object found through its appId (another id than the policy's)."""
    online = online_snapshot()
    policy = _policy(
        tmp_path,
        (
            "allowedAppRoles: []",
            "allowedAppRoles:\n"
            "    - {resource: microsoft graph, permission: user.read.all}\n"
            f"    - {{resource: {UNKNOWN_RESOURCE.upper()}, permission: Group.Read.All}}\n"
            "    - {resource: Office 365 Exchange Online, permission: Exchange.ManageAsApp}\n"
            "    - {resource: Someone Else, permission: Directory.Read.All}\n"
            "    - {resource: Custom API, permission: Api.Read}",
        ),
    )
    entra = (
        EntraServicePrincipal(SP_ID, APP_ID, "CallPro CalendarSync", True),
        EntraServicePrincipal(OTHER_SP, APP_ID, "CallPro CalendarSync (second)", True),
    )
    grants = (
        _grant("User.Read.All", GRAPH, "Microsoft Graph", "df021288-bdef-4463-88db-98f22de89214"),
        _grant("Group.Read.All", UNKNOWN_RESOURCE, "Custom API", "5b567255-7703-4780-807c-7be8301ae99b", OTHER_SP),
        _grant("Exchange.ManageAsApp", EXO, "", "dc50a0fb-09a3-484d-be87-e023b12c6440", SP_ID.upper()),
        _grant("Api.Read", UNKNOWN_RESOURCE, "Custom API", "0a0b0c0d-1111-4222-8333-444455556666"),
        _grant("Calendars.Read", GRAPH, "Microsoft Graph", "798ee544-9d2d-430c-a058-570e29e34338", STRANGER),
    )
    return policy, dataclasses.replace(online, entra_service_principals=entra, app_role_grants=grants)


def entra_grant_to_the_policys_object(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Graph returned no service principal for the app, yet a grant names the policy's servicePrincipalId: the
    app's grant all the same (EXA070 reports the missing object)."""
    online = online_snapshot()
    grants = (_grant("Calendars.ReadWrite", GRAPH, "Microsoft Graph", "ef54d2bf-783f-4e0f-bca1-3210c0444d99"),)
    return _policy(tmp_path), dataclasses.replace(online, entra_service_principals=(), app_role_grants=grants)


# --- EXA075 -----------------------------------------------------------------------------------------------------


def aap_widened(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Application Access Policies found by identity, by name after an unknown identity, through nested groups
    with a cycle and a group reached twice, a member Exchange does not know, and a single mailbox; a DenyAccess policy
    (listed first) is not followed and stops nothing."""
    online = online_snapshot()
    group = next(g for g in online.groups if g.name == "SecurityGroup-CallPro Calendar Access")
    no_smtp = next(r for r in online.recipients if r.primary_smtp_address == "jet.janssen@contoso.com")
    recipients = tuple(
        dataclasses.replace(r, primary_smtp_address="") if r.identity == no_smtp.identity else r
        for r in online.recipients
    )
    inner = _group_like(group, "Inner", ("contoso.com/Groups/Outer", "contoso.com/Users/Ad Viseur", "ghost@x"))
    outer = _group_like(group, "Outer", ("contoso.com/Groups/Inner", no_smtp.identity, "contoso.com/Users/Ivo Intern"))
    # Top reaches Leaf twice (directly and through Mid): the second visit must not end the walk before Deep.
    top = _group_like(group, "Top", ("contoso.com/Groups/Mid", "contoso.com/Groups/Leaf"))
    mid = _group_like(group, "Mid", ("contoso.com/Groups/Deep", "contoso.com/Groups/Leaf"))
    leaf = _group_like(group, "Leaf", ("contoso.com/Users/Gijs Grond",))
    deep = _group_like(group, "Deep", ("contoso.com/Users/Hanna Huis",))
    app = (APP_ID,)
    policies = (
        ApplicationAccessPolicy("contoso\\deny", app, "Nobody Knows", "Nobody Knows", "DenyAccess"),
        # The scope's name is out of date (the group was renamed): its identity still finds it.
        ApplicationAccessPolicy("contoso\\by-identity", app, "Old Outer", "contoso.com/Groups/Outer", "RestrictAccess"),
        ApplicationAccessPolicy("contoso\\diamond", app, "Top", "contoso.com/Groups/Top", "RestrictAccess"),
        ApplicationAccessPolicy("contoso\\by-name", app, "All Staff", "contoso.com/Groups/Gone", "RestrictAccess"),
        ApplicationAccessPolicy("contoso\\mailbox", app, "Carla Eo", "contoso.com/Users/Carla Eo", "RestrictAccess"),
        ApplicationAccessPolicy("contoso\\within", app, "SecurityGroup-CallPro Calendar Access", "", "RestrictAccess"),
        ApplicationAccessPolicy("contoso\\other-app", (OTHER_APP,), "Nobody Knows", "", "RestrictAccess"),
    )
    snap = dataclasses.replace(
        online,
        recipients=recipients,
        groups=(*online.groups, inner, outer, top, mid, leaf, deep),
        application_access_policies=policies,
        app_role_grants=(grant("Calendars.Read"), grant("Mail.Send"), grant("User.Read.All")),
    )
    return _policy(tmp_path), snap


def aap_group_recipient_not_read(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The scope is a group Exchange lists as a recipient whose members were not read: ERROR, not a guess."""
    online = online_snapshot()
    groups = tuple(g for g in online.groups if g.name != "Sales Office")
    policies = (
        aap("SecurityGroup-CallPro Calendar Access"),
        ApplicationAccessPolicy(
            "contoso\\sales", (APP_ID,), "Sales Office", "contoso.com/Groups/Sales Office", "RestrictAccess"
        ),
    )
    snap = dataclasses.replace(
        online, groups=groups, application_access_policies=policies, app_role_grants=(grant("Calendars.Read"),)
    )
    return _policy(tmp_path), snap


def aap_no_ceiling(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """A policy without a group or probe list names no mailbox set to compare an access policy with: SKIP."""
    online = online_snapshot()
    policy = _policy(
        tmp_path,
        (
            "probes:\n  allow: [ad.viseur@contoso.com, bea.buiten@contoso.com]\n"
            "  deny: {canaries: [ceo@contoso.com]}\n",
            "",
        ),
        text=AU_POLICY,
    )
    snap = dataclasses.replace(
        au_snapshot(online, ("ad.viseur@contoso.com", "bea.buiten@contoso.com")),
        application_access_policies=(aap("All Staff"),),
        app_role_grants=(grant("Calendars.Read"),),
    )
    return policy, snap


def aap_within_and_idle(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Policies inside the expected set: the group, one mailbox, a group listing a member by an SMTP address that
    Exchange does not resolve as an identity (the address itself is compared)."""
    online = online_snapshot()
    group = next(g for g in online.groups if g.name == "SecurityGroup-CallPro Calendar Access")
    listed = _group_like(group, "Listed", ("Bea.Buiten@contoso.com",))
    policies = (
        aap("SecurityGroup-CallPro Calendar Access"),
        ApplicationAccessPolicy("contoso\\listed", (APP_ID,), "Listed", "contoso.com/Groups/Listed", "RestrictAccess"),
        ApplicationAccessPolicy(
            "contoso\\fien", (APP_ID,), "Fien Field", "contoso.com/Users/Fien Field", "RestrictAccess"
        ),
    )
    snap = dataclasses.replace(
        online,
        groups=(*online.groups, listed),
        application_access_policies=policies,
        app_role_grants=(grant("Mail.Read"),),
    )
    return _policy(tmp_path), snap


def aap_idle(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """Policies naming the app while no Entra grant reaches mailboxes: they confine nothing."""
    online = online_snapshot()
    policies = (aap("All Staff"), aap("Nobody Knows"))
    snap = dataclasses.replace(online, application_access_policies=policies, app_role_grants=(grant("User.Read.All"),))
    return _policy(tmp_path, ALLOW_USER_READ), snap


def compliant(tmp_path: Path) -> tuple[LoadedPolicy, Snapshot]:
    """The compliant app: every app check passes (EXA073 is SKIP without an administrative unit)."""
    return _policy(tmp_path), online_snapshot()


SCENARIOS: dict[str, Scenario] = {
    f.__name__.replace("_", "-"): f
    for f in (
        compliant,
        sp_missing_everywhere,
        sp_every_pointer_problem,
        sp_two_right_pointers,
        sp_policy_without_display_name,
        sp_same_id_for_both,
        roles_extra_and_missing,
        roles_none_held,
        roles_composite_missing,
        roles_unknown_and_extra,
        roles_unknown_allowed,
        roles_other_allowed_held,
        roles_extra_permission_only,
        roles_case_and_table,
        roles_policy_role_not_in_table,
        blocked,
        scope_unscoped_and_org_rows,
        scope_unscoped_only,
        scope_org_row_only,
        scope_au_unscoped,
        au_exact_by_other_addresses,
        au_member_by_identity_the_policy_names,
        au_extra_and_missing,
        au_not_read,
        entra_reaching_and_confined,
        entra_unresolved,
        entra_other_only,
        entra_no_entra_section,
        entra_all_allowed,
        entra_grant_to_the_policys_object,
        aap_widened,
        aap_group_recipient_not_read,
        aap_no_ceiling,
        aap_within_and_idle,
        aap_idle,
    )
}


def app_findings(name: str, tmp_path: Path) -> dict[str, Finding]:
    policy, snap = SCENARIOS[name](tmp_path)
    return {f.check_id: f for f in evaluate(policy, snap, NOW) if f.check_id in CHECKS}


@pytest.mark.parametrize("name", SCENARIOS)
def test_app_findings_match_golden(name: str, tmp_path: Path) -> None:
    findings = app_findings(name, tmp_path)
    check_golden(GOLDEN / f"{name}.txt", render(tuple(findings.values())), HINT)


# --- the promises behind the golden files -----------------------------------------------------------------------


def _verdicts(name: str, tmp_path: Path) -> dict[str, tuple[Status, Severity]]:
    return {c: (f.status, f.severity) for c, f in app_findings(name, tmp_path).items()}


def test_the_compliant_app_passes_and_exa073_is_skip_without_a_unit(tmp_path: Path) -> None:
    found = app_findings("compliant", tmp_path)
    assert {c: f.status for c, f in found.items()} == dict.fromkeys(CHECKS, Status.PASS) | {"EXA073": Status.SKIP}


def test_every_wrong_pointer_is_named_and_recreated_once(tmp_path: Path) -> None:
    exa070 = app_findings("sp-every-pointer-problem", tmp_path)["EXA070"]
    assert exa070.status is Status.FAIL
    for label in ("'Confused'", "'pointer-two'", "'Wrong app'", "'Both wrong'"):
        assert f"the Exchange pointer {label}:" in exa070.message
    assert "'Right'" not in exa070.message
    assert "Unrelated" not in exa070.remediation
    assert exa070.remediation.count("New-ServicePrincipal ") == 1
    assert f"Remove-ServicePrincipal -Identity '{SP_ID}' -Confirm:$false" in exa070.remediation  # no identity: ObjectId


def test_a_pointer_whose_object_id_is_the_policys_own_app_id_is_right_when_both_ids_are_equal(tmp_path: Path) -> None:
    assert app_findings("sp-same-id-for-both", tmp_path)["EXA070"].status is Status.PASS


def test_an_app_exchange_cannot_follow_fails_with_the_pointer_fix_first(tmp_path: Path) -> None:
    found = app_findings("blocked", tmp_path)
    for check_id in ("EXA071", "EXA072"):
        assert found[check_id].status is Status.FAIL, check_id
        assert found[check_id].remediation == "# Create the service principal pointer first (EXA070)"


def test_unknown_roles_are_error_and_no_role_is_called_missing(tmp_path: Path) -> None:
    exa071 = app_findings("roles-unknown-allowed", tmp_path)["EXA071"]
    assert exa071.status is Status.ERROR
    assert "is not granted" not in exa071.message
    assert "Mail Recipients" not in exa071.expected  # not an Application role: not EXA071's business


def test_roles_are_judged_by_what_they_grant(tmp_path: Path) -> None:
    exa071 = app_findings("roles-extra-and-missing", tmp_path)["EXA071"]
    assert exa071.status is Status.FAIL
    # Both rows of the composite count, each permission once; the policy's own role is missing.
    assert "'Application Mail Full Access' (Mail.ReadWrite, Mail.Send, Mail.Read)" in exa071.message
    assert exa071.remediation.count("Remove-ManagementRoleAssignment") == 3
    assert "-Role 'Application Calendars.ReadWrite' -CustomResourceScope" in exa071.remediation
    assert app_findings("roles-case-and-table", tmp_path)["EXA071"].status is Status.PASS


def test_org_wide_rows_in_every_spelling_are_critical_and_listed_once(tmp_path: Path) -> None:
    exa072 = app_findings("scope-unscoped-and-org-rows", tmp_path)["EXA072"]
    assert (exa072.status, exa072.severity) == (Status.FAIL, Severity.CRITICAL)
    assert exa072.message.startswith("6 assignment(s) reach every mailbox")
    assert "'Application Calendars.Read'" not in exa072.message  # an administrative unit is a scope
    assert "Mail Recipients" not in exa072.message  # not an Application role
    au = app_findings("scope-au-unscoped", tmp_path)["EXA072"]
    assert f"-RecipientAdministrativeUnitScope '{AU_ID}'" in au.remediation


def test_the_entra_union_is_critical_and_only_the_apps_grants_count(tmp_path: Path) -> None:
    exa074 = app_findings("entra-reaching-and-confined", tmp_path)["EXA074"]
    assert (exa074.status, exa074.severity) == (Status.FAIL, Severity.CRITICAL)
    assert "confines it" in exa074.message
    assert "contoso\\second" in exa074.message
    assert "other-app" not in exa074.message  # another app's policy; a DenyAccess policy confines nothing either
    assert "User.Read.All" not in exa074.remediation  # allowed by the policy: not removed
    assert STRANGER not in "\n".join(exa074.evidence)  # another principal's grant
    assert "00000000-0000-0000-0000-000000000000" not in "\n".join(exa074.evidence)  # default access
    assert app_findings("entra-grant-to-the-policys-object", tmp_path)["EXA074"].status is Status.FAIL


def test_unresolved_grants_are_error_and_others_by_name_or_id(tmp_path: Path) -> None:
    assert _verdicts("entra-unresolved", tmp_path)["EXA074"] == (Status.ERROR, Severity.CRITICAL)
    assert _verdicts("entra-other-only", tmp_path)["EXA074"] == (Status.FAIL, Severity.MEDIUM)
    allowed = app_findings("entra-all-allowed", tmp_path)["EXA074"]
    assert allowed.status is Status.PASS
    assert "(4 app role(s), all allowed)" in allowed.message


def test_access_policies_are_followed_through_nesting_and_names(tmp_path: Path) -> None:
    exa075 = app_findings("aap-widened", tmp_path)["EXA075"]
    assert (exa075.status, exa075.severity) == (Status.FAIL, Severity.HIGH)
    outer = "'contoso\\\\by-identity' (group 'Old Outer'): contoso.com/Users/Jet Janssen, ghost@x, ivo.intern"
    assert outer in exa075.message
    assert "'contoso\\\\by-name' (group 'All Staff'): ceo@contoso.com" in exa075.message
    assert "within" not in exa075.message
    assert "'contoso\\\\deny'" not in exa075.message
    assert _verdicts("aap-group-recipient-not-read", tmp_path)["EXA075"][0] is Status.ERROR
    assert _verdicts("aap-no-ceiling", tmp_path)["EXA075"][0] is Status.SKIP
    assert _verdicts("aap-within-and-idle", tmp_path)["EXA075"][0] is Status.PASS
    assert _verdicts("aap-idle", tmp_path)["EXA075"][0] is Status.PASS


def test_the_fix_for_an_org_wide_row_touches_only_this_apps_assignments(tmp_path: Path) -> None:
    exa072 = app_findings("scope-unscoped-and-org-rows", tmp_path)["EXA072"]
    for line in exa072.remediation.splitlines():
        assert SP_ID in line, line
