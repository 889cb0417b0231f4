"""InvokeCommand over HTTPS with requests: paging, warnings, the error shapes, the RBAC-for-Apps cmdlets, writes."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from audit.lab.server import LabServer

from .conftest import GRAPH, OUTLOOK, Exo

CALLPRO = "6233fba6-0198-4277-892f-9275bf728bcc"


def test_paging_posts_the_same_body_to_next_link(exo: Exo) -> None:
    first = exo.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}, headers={"Prefer": "odata.maxpagesize=5"})
    assert first.status_code == 200
    page = first.json()
    seen = [m["PrimarySmtpAddress"] for m in page["value"]]
    assert len(seen) == 5
    url = page["@odata.nextLink"]
    while url:
        nxt = exo.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}, url=url, headers={"Prefer": "odata.maxpagesize=5"})
        assert nxt.status_code == 200
        seen += [m["PrimarySmtpAddress"] for m in nxt.json()["value"]]
        url = nxt.json().get("@odata.nextLink")
    assert len(seen) == len(set(seen)) == sum(1 for _ in exo.lab.tenant.mailboxes())
    # The nextLink belongs to its body: another cmdlet posted to it is refused.
    other = exo.invoke("Get-User", {}, url=page["@odata.nextLink"])
    assert other.status_code == 400
    assert exo.lab.stats()["invoke_command"]["Get-Mailbox"] >= 3


def test_default_result_size_cut_is_an_adminapi_warning() -> None:
    with LabServer("exo-compliant", mailboxes=1001) as lab:
        resp = Exo(lab).invoke("Get-Mailbox", {})
    assert len(resp.json()["value"]) == 1000
    [warning] = resp.json()["@adminapi.warnings"]
    assert warning.startswith("By default, only the first 1000 items are returned.")


def test_values_are_json_typed(exo: Exo) -> None:
    rows = exo.invoke("Get-ManagementRoleAssignment", {"RoleAssigneeType": "ServicePrincipal"}).json()["value"]
    [row] = rows
    assert row["RoleAssigneeType"] == "ServicePrincipal"
    assert row["RoleAssigneeName"] == "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91"
    assert row["CustomResourceScope"] == "Scope-CallPro Calendar Access"
    assert row["Enabled"] is True
    assert row["WhenChanged"] == "2026-06-01T10:00:00Z"
    assert isinstance(row["ObjectClass"], list)


def test_test_service_principal_authorization_rows(exo: Exo) -> None:
    plain = exo.invoke("Test-ServicePrincipalAuthorization", {"Identity": CALLPRO}).json()["value"]
    assert plain == [
        {
            "RoleName": "Application Calendars.ReadWrite",
            "GrantedPermissions": ["Calendars.ReadWrite"],
            "AllowedResourceScope": "Scope-CallPro Calendar Access",
            "ScopeType": "CustomRecipientScope",
            "InScope": "Not Run",
        }
    ]
    inside = exo.invoke(
        "Test-ServicePrincipalAuthorization", {"Identity": CALLPRO, "Resource": "bea.buiten@contoso.com"}
    )
    outside = exo.invoke("Test-ServicePrincipalAuthorization", {"Identity": CALLPRO, "Resource": "ceo@contoso.com"})
    assert inside.json()["value"][0]["InScope"] is True
    assert outside.json()["value"][0]["InScope"] is False


def test_service_principal_policy_and_ews_settings(exo: Exo) -> None:
    sps = exo.invoke("Get-ServicePrincipal", {}).json()["value"]
    callpro = next(sp for sp in sps if sp["AppId"] == CALLPRO)
    assert callpro["ObjectId"] == "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91"
    assert exo.invoke("Get-ApplicationAccessPolicy", {}).json()["value"] == []
    org = exo.invoke("Get-OrganizationConfig", {"RetrieveEwsOperationAccessPolicy": True}).json()["value"][0]
    assert org["EwsEnabled"] is False
    assert org["EwsAllowedAppIDs"] == []
    missing = exo.invoke("Get-ServicePrincipal", {"Identity": "00000000-0000-0000-0000-000000000001"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ManagementObjectNotFoundException"


def test_error_shapes(exo: Exo) -> None:
    url = f"{exo.lab.adminapi_url}/adminapi/beta/{exo.lab.tenant_id}/InvokeCommand"
    body = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}}
    no_token = requests.post(url, json=body, headers={"X-AnchorMailbox": "x"}, verify=exo.ca, timeout=10)
    assert no_token.status_code == 401
    graph_token = exo.token("auditor", GRAPH)
    wrong_aud = requests.post(
        url, json=body, headers={"Authorization": f"Bearer {graph_token}", "X-AnchorMailbox": "x"}, verify=exo.ca
    )
    assert wrong_aud.status_code == 401
    # The integration has no Exchange.ManageAsApp in its token.
    no_role = exo.invoke("Get-Mailbox", {}, who="integration")
    assert no_role.status_code == 401
    assert "Exchange.ManageAsApp" in no_role.json()["error"]["message"]
    no_anchor = requests.post(
        url, json=body, headers={"Authorization": f"Bearer {exo.token('auditor', OUTLOOK)}"}, verify=exo.ca
    )
    assert no_anchor.status_code == 400
    # A cmdlet the auditor's role group (View-Only Organization Management) does not expose.
    write = exo.invoke("New-ManagementScope", {"Name": "x", "RecipientRestrictionFilter": "Department -eq 'x'"})
    assert write.status_code == 401
    assert write.json()["error"] == {
        "code": "Unauthorized",
        "message": "User is not allowed to call New-ManagementScope",
        "innererror": {
            "message": "User is not allowed to call New-ManagementScope",
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        },
    }
    bad = exo.invoke("Get-Mailbox", {"NoSuchParameter": "x"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "ParameterBindingException"
    nested: Any = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"Identity": {"a": 1}}}}
    malformed = requests.post(
        url,
        json=nested,
        headers={"Authorization": f"Bearer {exo.token('auditor', OUTLOOK)}", "X-AnchorMailbox": "x"},
        verify=exo.ca,
    )
    assert malformed.status_code == 400


def test_throttled_with_retry_after(exo: Exo) -> None:
    exo.lab.faults.set_429("adminapi", next_requests=1, retry_after=3)
    first = exo.invoke("Get-OrganizationConfig", {})
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert exo.invoke("Get-OrganizationConfig", {}).status_code == 200


def test_admin_app_applies_a_migration_and_test_sees_it_at_once(exo: Exo) -> None:
    made = exo.invoke(
        "New-ManagementScope",
        {"Name": "Scope-Execs", "RecipientRestrictionFilter": "Department -eq 'Executive'"},
        who="admin",
    )
    assert made.status_code == 200, made.text
    moved = exo.invoke(
        "Set-ManagementRoleAssignment",
        {"Identity": "CallPro CalendarSync-Application Calendars.ReadWrite", "CustomResourceScope": "Scope-Execs"},
        who="admin",
    )
    assert moved.status_code == 200, moved.text
    row = exo.invoke("Test-ServicePrincipalAuthorization", {"Identity": CALLPRO, "Resource": "ceo@contoso.com"})
    assert row.json()["value"][0]["InScope"] is True
    assert exo.invoke("Set-OrganizationConfig", {"EWSEnabled": True, "EwsAllowedAppIDs": CALLPRO}, who="admin").ok
    org = exo.invoke("Get-OrganizationConfig", {"RetrieveEwsOperationAccessPolicy": True}).json()["value"][0]
    assert (org["EwsEnabled"], org["EwsAllowedAppIDs"]) == (True, [CALLPRO])
    # Exchange refuses a pointer whose ids do not name one Entra service principal.
    bad = exo.invoke("New-ServicePrincipal", {"AppId": CALLPRO, "ObjectId": CALLPRO, "DisplayName": "x"}, who="admin")
    assert bad.status_code == 400


@pytest.mark.parametrize("exo", ["exo-legacy"], indirect=True)
def test_migrate_script_applied_on_exo_legacy(exo: Exo) -> None:
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "New-ServicePrincipal",
            {
                "AppId": CALLPRO,
                "ObjectId": "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91",
                "DisplayName": "CallPro CalendarSync",
            },
        ),
        (
            "New-ManagementRoleAssignment",
            {
                "App": "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91",
                "Role": "Application Calendars.ReadWrite",
                "CustomResourceScope": "Scope-CallPro Calendar Access",
            },
        ),
        ("Remove-RoleGroup", {"Identity": "CallPro Calendar Access", "Confirm": False}),
        ("Set-User", {"Identity": "svcServiceAccount", "AccountDisabled": True}),
    ]
    for cmdlet, parameters in steps:
        resp = exo.invoke(cmdlet, parameters, who="admin")
        assert resp.status_code == 200, (cmdlet, resp.text)
    tenant = exo.lab.current_tenant()
    assert tenant.role_group("CallPro Calendar Access") is None
    svc = tenant.resolve_recipient("svcServiceAccount")
    assert svc is not None
    assert svc.account_disabled
    rows = exo.invoke("Test-ServicePrincipalAuthorization", {"Identity": CALLPRO, "Resource": "ceo@contoso.com"})
    assert [r["InScope"] for r in rows.json()["value"]] == [False]
