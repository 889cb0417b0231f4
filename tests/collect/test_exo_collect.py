"""Exchange Online collection with a fake runner and a scripted Graph: fixed call count, every plausible wire form."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import pytest

from audit.collect import mapping_exo
from audit.collect.collector import EXCHANGE_ONLINE
from audit.collect.exo import ExoApp, collect_exo_state, exo_call_count
from audit.collect.graph import GraphReader
from audit.collect.interface import CmdletResult, require_read_only
from audit.errors import CollectionError
from tests.collect.fake_http import Seen, serve

APP = ExoApp("6233fba6-0198-4277-892f-9275bf728bcc", "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91", "CallPro CalendarSync")
GRAPH_SP = "11111111-0000-0000-0000-000000000001"
EXO_SP = "11111111-0000-0000-0000-000000000002"
CAL_RW = "ef54d2bf-783f-4e0f-bca1-3210c0444d99"


def recipients(n: int) -> list[dict[str, Any]]:
    return [
        {
            "Name": f"user{i}", "Identity": f"user{i}", "DistinguishedName": f"CN=user{i},OU=x", "Guid": str(i),
            "Alias": f"user{i}", "DisplayName": f"User {i}", "PrimarySmtpAddress": f"user{i}@contoso.com",
            "RecipientType": "UserMailbox", "RecipientTypeDetails": "UserMailbox", "EmailAddresses": [],
        }
        for i in range(n)
    ]  # fmt: skip


class FakeRunner:
    def __init__(self, n: int, in_scope: object = True) -> None:
        self.n = n
        self.in_scope = in_scope
        self.calls: list[tuple[str, dict[str, object]]] = []

    def run(
        self, cmdlet: str, params: Mapping[str, object], timeout: float, properties: Collection[str] | None = None
    ) -> CmdletResult:
        require_read_only(cmdlet, EXCHANGE_ONLINE.verbs)
        self.calls.append((cmdlet, dict(params)))
        objects: list[dict[str, Any]] = {
            "Get-OrganizationConfig": [
                {"Name": "contoso.onmicrosoft.com", "EwsEnabled": True, "EwsAllowedAppIDs": f"{APP.app_id},abc"}
            ],
            "Get-ServicePrincipal": [
                {"DisplayName": APP.display_name, "AppId": APP.app_id, "ServiceId": APP.object_id, "Identity": "x"}
            ],
            "Get-ManagementRole": [
                {"Name": "Application Calendars.ReadWrite", "RoleType": "ApplicationCalendarsReadWrite"}
            ],
            "Get-ManagementRoleAssignment": [
                {
                    "Name": "a1", "Role": "Application Calendars.ReadWrite", "RoleAssignee": APP.object_id,
                    "RoleAssigneeName": APP.object_id, "RoleAssigneeType": "ServicePrincipal",
                    "AssignmentMethod": "Direct", "RoleAssignmentDelegationType": "Regular", "Enabled": True,
                    "RecipientWriteScope": "CustomRecipientScope", "CustomResourceScope": "Scope-CallPro",
                    "RecipientAdministrativeUnitScope": "au-1", "WhenChangedUTC": "2026-12-03T10:00:00",
                }
            ],
            "Get-RoleGroup": [{"Name": "Organization Management", "DisplayName": "Organization Management",
                               "Identity": "x", "DistinguishedName": "CN=x", "Guid": "1", "RoleGroupType": "Standard",
                               "Roles": ["Role Management"], "Members": []}],
            "Get-Recipient": recipients(self.n),
            "Get-ApplicationAccessPolicy": [
                {"Identity": "p1", "AppId": APP.app_id, "ScopeName": "g", "ScopeIdentity": "g",
                 "AccessRight": "RestrictAccess"}
            ],
            "Test-ServicePrincipalAuthorization": [
                {"RoleName": "Application Calendars.ReadWrite",
                 "GrantedPermissions": "Calendars.ReadWrite, Calendars.Read", "AllowedResourceScope": "Scope-CallPro",
                 "ScopeType": "CustomRecipientScope", "InScope": self.in_scope}
            ],
        }.get(cmdlet, [])  # fmt: skip
        return CmdletResult(objects=objects, type_names=[() for _ in objects])

    def close(self) -> None:
        pass


def graph_handler(seen: Seen) -> tuple[int, dict[str, str], Any]:
    if seen.path.startswith("/v1.0/servicePrincipals(appId="):
        return (
            200,
            {},
            {"id": APP.object_id, "appId": APP.app_id, "displayName": APP.display_name, "accountEnabled": True},
        )
    if seen.path.endswith("/appRoleAssignments"):
        return 200, {}, {"value": [
            {"resourceId": GRAPH_SP, "appRoleId": CAL_RW, "principalId": APP.object_id},
            {"resourceId": EXO_SP, "appRoleId": "00000000-0000-0000-0000-000000000000", "principalId": APP.object_id},
        ]}  # fmt: skip
    if seen.path.startswith(f"/v1.0/servicePrincipals/{GRAPH_SP}"):
        roles = [{"id": CAL_RW, "value": "Calendars.ReadWrite"}]
        graph = {"id": GRAPH_SP, "appId": "00000003-0000-0000-c000-000000000000", "displayName": "Microsoft Graph"}
        return 200, {}, {**graph, "appRoles": roles}
    if seen.path.startswith(f"/v1.0/servicePrincipals/{EXO_SP}"):
        return 200, {}, {"id": EXO_SP, "appId": "00000002-0000-0ff1-ce00-000000000000",
                         "displayName": "Office 365 Exchange Online", "appRoles": []}  # fmt: skip
    if "/administrativeUnits/au-1/members" in seen.path:
        return 200, {}, {"value": [{"userPrincipalName": "ad.viseur@contoso.com"}, {"mail": "bea@contoso.com"}]}
    return 404, {}, {"error": {"code": "Request_ResourceNotFound", "message": "no"}}


@pytest.mark.parametrize("size", [20, 500])
def test_call_count_is_fixed_however_many_recipients(size: int) -> None:
    fake = FakeRunner(size)
    with serve(graph_handler) as graph:
        state = collect_exo_state(
            fake, GraphReader(graph.url, lambda: "t"), [APP], resources=lambda s: ["a@contoso.com", "b@contoso.com"]
        )
    assert len(state.calls) == exo_call_count(1, 2, 1)
    assert [c for c in state.calls if not c.ok] == []
    tests = [p for c, p in fake.calls if c == "Test-ServicePrincipalAuthorization"]
    assert tests[0] == {"Identity": APP.object_id}
    assert sorted(p.get("Resource", "") for p in tests[1:]) == ["a@contoso.com", "b@contoso.com"]
    assert len(state.recipients) == size


def test_exchange_online_records_are_mapped() -> None:
    with serve(graph_handler) as graph:
        state = collect_exo_state(
            FakeRunner(3), GraphReader(graph.url, lambda: "t"), [APP], resources=lambda s: ["a@x"]
        )
    assert state.organization is not None
    assert state.organization.is_exchange_online
    assert state.organization.ews_allowed_app_ids == (APP.app_id, "abc")
    assert state.service_principals[0].object_id == APP.object_id  # from the deprecated ServiceId
    assert state.role_assignments[0].recipient_administrative_unit_scope == "au-1"
    assert state.role_assignments[0].when_changed == "2026-12-03T10:00:00Z"
    assert {r.resource for r in state.authorizations} == {None, "a@x"}
    assert state.authorizations[0].granted_permissions == ("Calendars.ReadWrite", "Calendars.Read")
    assert state.application_access_policies[0].app_ids == (APP.app_id,)
    assert [g.permission for g in state.app_role_grants] == ["Calendars.ReadWrite", ""]
    assert state.app_role_grants[0].resource_app_id == "00000003-0000-0000-c000-000000000000"
    assert state.administrative_units[0].members == ("ad.viseur@contoso.com", "bea@contoso.com")
    names = {c.cmdlet for c in state.calls}
    assert {"Graph:servicePrincipal", "Graph:appRoleAssignments", "Graph:resourceAppRoles"} <= names
    assert "Graph:administrativeUnitMembers" in names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), (False, False), ("True", True), ("false", False), ("Not Run", None), (None, None), ("", None)],
)
def test_in_scope_reads_every_form_and_never_guesses(raw: object, expected: bool | None) -> None:
    assert mapping_exo.in_scope(raw) is expected


@pytest.mark.parametrize(
    "raw",
    [["Calendars.ReadWrite", "Calendars.Read"], "Calendars.ReadWrite, Calendars.Read",
     "{Calendars.ReadWrite, Calendars.Read}", "Calendars.ReadWrite;Calendars.Read"],
)  # fmt: skip
def test_granted_permissions_read_as_list_or_string(raw: object) -> None:
    assert mapping_exo.permissions(raw) == ("Calendars.ReadWrite", "Calendars.Read")


def test_graph_403_fails_the_entra_reads_with_what_to_grant() -> None:
    def forbidden(seen: Seen) -> tuple[int, dict[str, str], Any]:
        return 403, {}, {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}

    with serve(forbidden) as graph:
        state = collect_exo_state(FakeRunner(3), GraphReader(graph.url, lambda: "t"), [APP], resources=lambda s: [])
        sent = len(graph.seen)
    failed = {c.cmdlet: c for c in state.calls if not c.ok}
    assert set(failed) == {
        "Graph:servicePrincipal", "Graph:appRoleAssignments", "Graph:resourceAppRoles",
        "Graph:administrativeUnitMembers",
    }  # fmt: skip
    assert "Application.Read.All" in (failed["Graph:servicePrincipal"].error or "")
    assert sent == 1  # a refused token is not retried read after read


def test_an_object_without_an_object_id_fails_the_call_instead_of_guessing() -> None:
    with pytest.raises(CollectionError, match="ObjectId"):
        mapping_exo.service_principals([{"AppId": APP.app_id, "DisplayName": "x"}])


def test_graph_next_link_is_followed_on_the_same_origin_only() -> None:
    def handler(seen: Seen) -> tuple[int, dict[str, str], Any]:
        if "page2" in seen.path:
            return 200, {}, {"value": [{"id": "2"}], "@odata.nextLink": "https://evil.example/v1.0/x"}
        return 200, {}, {"value": [{"id": "1"}], "@odata.nextLink": f"{graph.url}/v1.0/x?page2=1"}

    with serve(handler) as graph:
        reader = GraphReader(graph.url, lambda: "t")
        with pytest.raises(CollectionError, match="another host"):
            reader.get_all("x", "test")
