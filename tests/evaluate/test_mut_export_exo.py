"""`exaudit export --app-id` (audit/evaluate/export_exo.py): the whole exported text and every refusal, exactly.

The export is what an admin adopts as the intended state, so every line of it is product output: the golden texts
below are compared whole (issue 14's mutation triage). Domain: /work/shared/domain/exo-2026.md §1.1-1.3 (the
service principal pointer, direct Application role assignments, management scope or administrative unit) and §2
(EwsAllowedAppIDs).
"""

from __future__ import annotations

import dataclasses

import pytest

from audit.errors import CollectionError, UsageError
from audit.evaluate.export_exo import export_app_policy, require_pointer
from audit.snapshot import AdministrativeUnit, EntraServicePrincipal, RoleAssignment, ServicePrincipal, Snapshot
from tests.evaluate.app_snapshot import (
    APP_ID,
    AU_ID,
    EXO,
    GRAPH,
    ROLE,
    SCOPE,
    SP_ID,
    app_assignment,
    au_snapshot,
    grant,
    org,
    replace_calls,
)

HEADER = f"""\
# Exported by `exaudit export` from the state collected at "2026-11-26T11:00:00Z".
# It mirrors what IS. Review every value before you adopt it as what SHOULD be; lines marked REVIEW are
# the ones a least-privilege audit would question.
apiVersion: exaudit/v1
kind: MailboxAccessPolicy
metadata:
  name: "{{name}}"
  description: "RBAC for Applications access of {{label}} (exported)"
principal:
  app:
    appId: "{APP_ID}"
    servicePrincipalId: "{SP_ID}"
"""
NAME = "callpro-calendarsync-application-calendars-readwrite"
DISPLAY = '    displayName: "CallPro CalendarSync"\n'
GRANT = f"""\
grant:
  role: "{ROLE}"
  via:
    direct: {{}}
"""
SCOPED = f"""\
  scope: "{SCOPE}"
  onlyPath: true
  otherRolesAllowed: []
scope:
  name: "{SCOPE}"
  recipientFilter:
"""
MEMBERS_6 = "".join(
    f'    - "{m}@contoso.com"\n'
    for m in ("ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field")
)
NO_ENTRA = "entra:\n  allowedAppRoles: []\n"
NO_EWS = "ews:\n  required: false\n"
DENY = """\
  deny:
    # REVIEW: add mailboxes that must stay out of reach (executives, HR, shared mailboxes): each must be
    # refused with 403. Until you do, nothing proves the scope keeps the app out of anything.
    canaries: []
  operation: calendarRead
"""

COMPLIANT = (
    HEADER.format(name=NAME, label="CallPro CalendarSync")
    + DISPLAY
    + GRANT
    + SCOPED
    + """\
    memberOfGroup: "SecurityGroup-CallPro Calendar Access"
group:
  name: "SecurityGroup-CallPro Calendar Access"
  type: MailUniversalSecurityGroup
  hiddenFromAddressLists: true
  membershipClosed: true
  members:
    exactly:
"""
    + MEMBERS_6.replace("    - ", "      - ")
    + "  memberTypes: [UserMailbox]\n"
    + NO_ENTRA
    + NO_EWS
    + "probes:\n  allow: groupMembers\n"
    + DENY
)


def test_the_compliant_app_exported_whole(online: Snapshot) -> None:
    assert export_app_policy(online, APP_ID) == COMPLIANT


def test_an_opath_scope_without_display_name_exported_whole(online: Snapshot) -> None:
    scopes = tuple(dataclasses.replace(s, recipient_filter="Department -eq 'Field Sales'") for s in online.scopes)
    pointers = tuple(dataclasses.replace(p, display_name="") for p in online.service_principals)
    state = dataclasses.replace(online, scopes=scopes, service_principals=pointers)
    assert export_app_policy(state, APP_ID, name="field-sales") == (
        HEADER.format(name="field-sales", label=APP_ID)
        + GRANT
        + SCOPED
        + "    opath: \"Department -eq 'Field Sales'\"\n"
        + NO_ENTRA
        + NO_EWS
        + "probes:\n  allow:\n"
        + MEMBERS_6
        + DENY
    )


def test_a_scope_without_filter_is_exported_empty(online: Snapshot) -> None:
    scopes = tuple(dataclasses.replace(s, recipient_filter=None) for s in online.scopes)
    assert export_app_policy(dataclasses.replace(online, scopes=scopes), APP_ID) == (
        HEADER.format(name=NAME, label="CallPro CalendarSync")
        + DISPLAY
        + GRANT
        + SCOPED
        + '    opath: ""\n'
        + NO_ENTRA
        + NO_EWS
        + "probes:\n  allow: []\n"
        + DENY
    )


def _au(assignee: str = SP_ID, **kw: object) -> RoleAssignment:
    values: dict[str, object] = {"custom_resource_scope": None, "recipient_administrative_unit_scope": AU_ID}
    values.update(kw)
    return app_assignment(values.pop("role", ROLE), role_assignee=assignee, role_assignee_name=assignee, **values)  # type: ignore[arg-type]


def test_an_administrative_unit_with_everything_to_review_exported_whole(online: Snapshot) -> None:
    state = au_snapshot(online, ("Bea.Buiten@contoso.com", "ad.viseur@contoso.com", "AD.VISEUR@contoso.com"))
    others = (
        _au(role="Application Mail.Read", name="m1"),
        _au(role="application contacts.read", name="c1"),
        _au(role="Application Mail.Read", name="m2"),
        _au(name="b-twin"),
    )
    grants = (
        grant("Mail.Read"),
        grant("Calendars.ReadWrite"),
        grant("User.Read.All"),
        grant("Group.Read.All"),
        grant("User.Read.All"),
        dataclasses.replace(grant(""), app_role_id="bbbb"),
        dataclasses.replace(grant(" "), app_role_id="aaaa"),
    )
    state = dataclasses.replace(
        state,
        role_assignments=(*state.role_assignments, *others),
        app_role_grants=grants,
        organization=org(True, (APP_ID.upper(),)),
    )
    assert export_app_policy(state, APP_ID) == (
        HEADER.format(name=NAME, label="CallPro CalendarSync")
        + DISPLAY
        + GRANT
        + f"""\
  administrativeUnit:
    id: "{AU_ID}"
    displayName: "Field Sales"
    members:
      - "ad.viseur@contoso.com"
      - "bea.buiten@contoso.com"
  # REVIEW: 1 other {ROLE} assignment(s) reach the app today:
  #   "b-twin"
  onlyPath: false
  # REVIEW: the app holds these Application roles too; does the integration need them?
  otherRolesAllowed:
    - "application contacts.read"
    - "Application Mail.Read"
entra:
  # REVIEW: the app holds Entra grants that reach EVERY mailbox (a union with the Exchange scope, EXA074); \
remove them, never allow them: "Microsoft Graph Calendars.ReadWrite", "Microsoft Graph Mail.Read"
  # REVIEW: Entra grants whose permission could not be resolved: "Microsoft Graph appRoleId aaaa", \
"Microsoft Graph appRoleId bbbb"
  allowedAppRoles:
    - resource: "Microsoft Graph"
      permission: "Group.Read.All"
    - resource: "Microsoft Graph"
      permission: "User.Read.All"
ews:
  # REVIEW: the app is in EwsAllowedAppIDs; EWS is switched off in Exchange Online on 1 April 2027
  required: true
probes:
  allow:
    - "ad.viseur@contoso.com"
    - "bea.buiten@contoso.com"
"""
        + DENY
    )


def test_an_administrative_unit_without_display_name(online: Snapshot) -> None:
    state = au_snapshot(online, ("ad.viseur@contoso.com",))
    state = dataclasses.replace(
        state, administrative_units=(AdministrativeUnit(AU_ID, "", ("ad.viseur@contoso.com",)),)
    )
    text = export_app_policy(state, APP_ID)
    assert f'  administrativeUnit:\n    id: "{AU_ID}"\n    members:\n      - "ad.viseur@contoso.com"\n' in text


# --- which assignments are the app's --------------------------------------------------------------------------

POINTER = ServicePrincipal("CallPro CalendarSync", APP_ID, SP_ID, identity="CallPro-Identity", name="CallPro-Name")


@pytest.mark.parametrize("named", [SP_ID.upper(), APP_ID, "callpro-identity", "CallPro-Name", "CallPro CalendarSync"])
@pytest.mark.parametrize("field", ["role_assignee", "role_assignee_name"])
def test_an_assignment_naming_the_pointer_any_way_is_the_apps(online: Snapshot, named: str, field: str) -> None:
    other = {"role_assignee": "someone-else", "role_assignee_name": "someone-else", field: named}
    found = app_assignment(**other)
    state = dataclasses.replace(
        online,
        service_principals=(POINTER,),
        role_assignments=(*(a for a in online.role_assignments if a.role != ROLE), found),
    )
    assert f'  role: "{ROLE}"' in export_app_policy(state, APP_ID)


@pytest.mark.parametrize(
    "ignored",
    [
        {"enabled": False},
        {"delegation_type": "Delegating"},
        {"role": "View-Only Recipients"},
        {"role_assignee_type": "User"},
        {"role_assignee": "someone-else", "role_assignee_name": "someone-else"},
    ],
    ids=["disabled", "delegating", "not-an-application-role", "not-a-service-principal", "another-principal"],
)
def test_assignments_that_are_not_the_apps_working_roles_are_ignored(
    online: Snapshot, ignored: dict[str, object]
) -> None:
    extra = app_assignment(**{"role": "Application Mail.Read", **ignored})  # type: ignore[arg-type]
    state = dataclasses.replace(online, role_assignments=(*online.role_assignments, extra))
    assert export_app_policy(state, APP_ID) == COMPLIANT
    alone = dataclasses.replace(online, role_assignments=(extra,))
    with pytest.raises(UsageError) as refused:
        export_app_policy(alone, APP_ID)
    assert str(refused.value) == (
        "CallPro CalendarSync holds no enabled, Regular 'Application *' role assignment: nothing to export"
    )


def test_the_calendar_role_comes_first_then_by_role_then_by_name(online: Snapshot) -> None:
    # 'Application Bookings.Read' stands for any role sorting before Calendars (the role list is data, §1.2).
    early = app_assignment("Application Bookings.Read", name="a-first", identity="a-first")
    read = app_assignment("Application Calendars.Read", name="z-read", identity="z-read")
    write = app_assignment(ROLE, name="a-write", identity="a-write")
    state = dataclasses.replace(online, role_assignments=(early, write, read))
    text = export_app_policy(state, APP_ID)
    assert '  role: "Application Calendars.Read"\n' in text
    assert '  otherRolesAllowed:\n    - "Application Bookings.Read"\n    - "Application Calendars.ReadWrite"\n' in text


# --- refusals --------------------------------------------------------------------------------------------------


def _refused(state: Snapshot, app_id: str = APP_ID) -> str:
    with pytest.raises(UsageError) as refused:
        export_app_policy(state, app_id)
    return str(refused.value)


def test_no_pointer(online: Snapshot) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    message = (
        f"Exchange Online has no service principal for app {other!r} (Get-ServicePrincipal): nothing to export "
        "(New-ServicePrincipal creates it)"
    )
    assert _refused(online, other) == message
    with pytest.raises(UsageError) as refused:
        require_pointer(online, other)
    assert str(refused.value) == message
    require_pointer(online, APP_ID.upper())  # the app's own pointer, whatever the case
    require_pointer(replace_calls(online, "Get-ServicePrincipal", ok=False), other)  # the failed read is the cause


def test_two_pointers_for_one_app(online: Snapshot) -> None:
    stale = ServicePrincipal("CallPro (old)", APP_ID.upper(), "99999999-2222-4333-8444-555555555555")
    assert _refused(dataclasses.replace(online, service_principals=(*online.service_principals, stale))) == (
        f"app {APP_ID!r} has 2 service principals in Exchange Online; remove the stale one"
    )
    same = dataclasses.replace(online.service_principals[0], display_name="CallPro (same object)")
    state = dataclasses.replace(online, service_principals=(*online.service_principals, same))
    assert 'displayName: "CallPro CalendarSync"' in export_app_policy(state, APP_ID)  # the first record of the two


def test_unscoped_assignment_named(online: Snapshot) -> None:
    wide = (
        app_assignment("Application Mail.Send", name="wide-2", custom_resource_scope=None),
        app_assignment("Application Mail.Read", name="wide-1", custom_resource_scope=None),
    )
    assert _refused(dataclasses.replace(online, role_assignments=(*online.role_assignments, *wide))) == (
        "Application Mail.Read reaches every mailbox for CallPro CalendarSync (assignment 'wide-1' has no "
        "CustomResourceScope nor administrative unit): create a management scope and attach it first; there is no "
        "least-privilege setup to export"
    )


def test_scope_not_collected(online: Snapshot) -> None:
    state = dataclasses.replace(online, scopes=())
    assert _refused(state) == f"the assignment names scope {SCOPE!r}, which is not in the collected state"
    upper = tuple(dataclasses.replace(s, name=s.name.upper()) for s in online.scopes)
    assert f'  scope: "{SCOPE.upper()}"' in export_app_policy(dataclasses.replace(online, scopes=upper), APP_ID)


def test_administrative_unit_refusals(online: Snapshot) -> None:
    members = ("ad.viseur@contoso.com",)
    state = au_snapshot(online, members)
    assert _refused(dataclasses.replace(state, administrative_units=())) == (
        f"the assignment names administrative unit {AU_ID!r}, which is not in the collected state"
    )
    upper = (AdministrativeUnit(AU_ID.upper(), "Field Sales", members),)
    assert f'    id: "{AU_ID.upper()}"' in export_app_policy(
        dataclasses.replace(state, administrative_units=upper), APP_ID
    )
    assert _refused(au_snapshot(online, ())) == (
        "administrative unit 'Field Sales' has no members: there is no access to mirror"
    )
    nameless = dataclasses.replace(state, administrative_units=(AdministrativeUnit(AU_ID, "", ()),))
    assert _refused(nameless) == f"administrative unit {AU_ID!r} has no members: there is no access to mirror"


@pytest.mark.parametrize("state", ["no-organization", "allow-list-unread"])
def test_the_ews_allow_list_must_have_been_read(online: Snapshot, state: str) -> None:
    unread = dataclasses.replace(online, organization=None if state == "no-organization" else org(True, None))
    with pytest.raises(CollectionError) as refused:
        export_app_policy(unread, APP_ID)
    assert str(refused.value) == "the EWS app allow list (EwsAllowedAppIDs) was not read; no policy was exported"


# --- Entra grants ----------------------------------------------------------------------------------------------


def _entra(online: Snapshot, *grants: object, entra_id: str = SP_ID) -> str:
    state = dataclasses.replace(
        online,
        app_role_grants=grants,  # type: ignore[arg-type]
        entra_service_principals=(
            EntraServicePrincipal(entra_id, APP_ID.upper(), "CallPro CalendarSync", True),
            EntraServicePrincipal("another-app-sp", "22222222-2222-4333-8444-555555555555", "Other", True),
        ),
    )
    text = export_app_policy(state, APP_ID)
    return text[text.index("entra:\n") : text.index("ews:\n")]


def test_entra_grants_of_the_app_by_either_id(online: Snapshot) -> None:
    mine = [
        dataclasses.replace(grant("User.Read.All"), principal_id=SP_ID.upper()),
        dataclasses.replace(grant("Group.Read.All"), principal_id="ENTRA-SP-ID"),  # Entra's id of the same app
        dataclasses.replace(grant("Sites.Read.All"), principal_id=""),  # read for the app itself
    ]
    foreign = [
        dataclasses.replace(grant("Directory.Read.All"), principal_id="another-app-sp"),
        dataclasses.replace(grant("Files.Read.All"), app_role_id="00000000-0000-0000-0000-000000000000"),
    ]
    section = _entra(online, *mine, *foreign, entra_id="entra-sp-id")
    allowed = [line.strip() for line in section.splitlines() if "permission:" in line]
    assert allowed == ['permission: "Group.Read.All"', 'permission: "Sites.Read.All"', 'permission: "User.Read.All"']


def test_entra_resource_names(online: Snapshot) -> None:
    grants = (
        grant("Application.Read.All", resource=GRAPH.upper(), name=""),
        grant("Exchange.ManageAsApp", resource=EXO, name=""),
        grant("Custom.Read", resource="33333333-2222-4333-8444-555555555555", name=""),
        grant("Orders.Read", resource="33333333-2222-4333-8444-555555555555", name="Contoso Orders API"),
        grant("Tasks.Read", resource=GRAPH, name="Graph as the tenant names it"),
    )
    section = _entra(online, *grants)
    resources = [line.strip() for line in section.splitlines() if "resource:" in line]
    assert resources == [
        '- resource: "33333333-2222-4333-8444-555555555555"',
        '- resource: "Contoso Orders API"',
        '- resource: "Graph as the tenant names it"',
        '- resource: "Microsoft Graph"',
        '- resource: "Office 365 Exchange Online"',
    ]
