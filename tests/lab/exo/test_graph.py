"""Microsoft Graph over HTTPS with requests: $batch, the 401/403/404/429 shapes, calendars, Entra reads, writes."""

from __future__ import annotations

import pytest

from .conftest import GRAPH, Exo

CALLPRO_SP = "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91"
CALENDARS_READWRITE = "ef54d2bf-783f-4e0f-bca1-3210c0444d99"
FIELD = ["ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field"]


def batch(exo: Exo, users: list[str], who: str = "integration") -> dict[str, dict[str, object]]:
    requests_ = [{"id": str(i), "method": "GET", "url": f"/users/{u}/calendar"} for i, u in enumerate(users)]
    resp = exo.graph("POST", "/$batch", who=who, json={"requests": requests_})
    assert resp.status_code == 200, resp.text
    return {users[int(r["id"])]: r for r in resp.json()["responses"]}


def test_batch_answers_each_sub_request_with_its_own_status(exo: Exo) -> None:
    users = [f"{u}@contoso.com" for u in FIELD] + [
        "ceo@contoso.com",
        "nobody@contoso.com",
        "exaudit-reader@contoso.com",
    ]
    out = batch(exo, users)
    assert {u: out[f"{u}@contoso.com"]["status"] for u in FIELD} == dict.fromkeys(FIELD, 200)
    ceo = out["ceo@contoso.com"]
    assert ceo["status"] == 403
    assert ceo["body"]["error"]["code"] == "ErrorAccessDenied"  # type: ignore[index]
    assert ceo["body"]["error"]["message"] == "Access is denied. Check credentials and try again."  # type: ignore[index]
    assert out["nobody@contoso.com"]["body"]["error"]["code"] == "ErrorInvalidUser"  # type: ignore[index]
    no_mailbox = out["exaudit-reader@contoso.com"]
    assert (no_mailbox["status"], no_mailbox["body"]["error"]["code"]) == (404, "MailboxNotEnabledForRESTAPI")  # type: ignore[index]
    stats = exo.lab.stats()["graph"]
    assert stats["$batch"] == 1
    assert stats["GET users/{id}/calendar"] == len(users)


def test_batch_limits(exo: Exo) -> None:
    too_many = [{"id": str(i), "method": "GET", "url": "/users/ceo@contoso.com/calendar"} for i in range(21)]
    assert exo.graph("POST", "/$batch", json={"requests": too_many}).status_code == 400
    duplicate = [{"id": "1", "method": "GET", "url": "/users/ceo@contoso.com/calendar"}] * 2
    assert exo.graph("POST", "/$batch", json={"requests": duplicate}).status_code == 400


def test_throttling_is_per_sub_request_with_retry_after(exo: Exo) -> None:
    exo.lab.faults.set_429("graph", next_requests=2, retry_after=1)
    out = batch(exo, [f"{u}@contoso.com" for u in FIELD])
    throttled = [r for r in out.values() if r["status"] == 429]
    assert len(throttled) == 2
    for r in throttled:
        assert r["headers"]["Retry-After"] == "1"  # type: ignore[index]
        assert r["body"]["error"] == {  # type: ignore[index]
            "code": "ApplicationThrottled",
            "message": "Application is over its MailboxConcurrency limit.",
            "innerError": r["body"]["error"]["innerError"],  # type: ignore[index]
        }
    assert sum(r["status"] == 200 for r in out.values()) == 4
    single = exo.graph("GET", "/users/ad.viseur@contoso.com/calendar")
    assert single.status_code == 200


def test_the_second_403_body_can_be_forced(exo: Exo) -> None:
    exo.lab.faults.apply({"forbidden_body": "odata-disabled"})
    resp = exo.graph("GET", "/users/ceo@contoso.com/calendar")
    assert resp.status_code == 403
    assert resp.json()["error"]["message"] == "Access to OData is disabled."


def test_no_token_or_a_token_for_another_resource_is_401(exo: Exo) -> None:
    import requests

    plain = requests.get(f"{exo.lab.graph_url}/v1.0/users/ceo@contoso.com/calendar", verify=exo.ca, timeout=10)
    assert plain.status_code == 401
    assert plain.json()["error"]["code"] == "InvalidAuthenticationToken"
    outlook = exo.token("auditor", "https://outlook.office365.com/.default")
    wrong = requests.get(
        f"{exo.lab.graph_url}/v1.0/users/ceo@contoso.com/calendar",
        headers={"Authorization": f"Bearer {outlook}"},
        verify=exo.ca,
        timeout=10,
    )
    assert wrong.status_code == 401


def test_write_probe_create_sweep_delete(exo: Exo) -> None:
    event = {
        "subject": "exaudit write probe 1",
        "start": {"dateTime": "2026-12-24T03:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-24T03:15:00", "timeZone": "UTC"},
        "showAs": "free",
        "sensitivity": "private",
    }
    made = exo.graph("POST", "/users/ad.viseur@contoso.com/events", json=event)
    assert made.status_code == 201
    found = exo.graph("GET", "/users/ad.viseur@contoso.com/calendar/events?$filter=startswith(subject,'exaudit write')")
    assert [e["id"] for e in found.json()["value"]] == [made.json()["id"]]
    assert exo.lab.stats()["calendar_items_total"] == 1
    assert exo.graph("DELETE", f"/users/ad.viseur@contoso.com/events/{made.json()['id']}").status_code == 204
    assert exo.lab.stats()["calendar_items_total"] == 0
    refused = exo.graph("POST", "/users/ceo@contoso.com/events", json=event)
    assert refused.status_code == 403
    with_attendee = exo.graph(
        "POST",
        "/users/ad.viseur@contoso.com/events",
        json=event | {"attendees": [{"emailAddress": {"address": "x@y"}}]},
    )
    assert with_attendee.status_code == 400


def test_entra_reads_need_application_read_all(exo: Exo) -> None:
    by_app_id = exo.graph("GET", "/servicePrincipals(appId='6233fba6-0198-4277-892f-9275bf728bcc')", who="auditor")
    assert by_app_id.json()["id"] == CALLPRO_SP
    filtered = exo.graph(
        "GET", "/servicePrincipals?$filter=appId eq '6233fba6-0198-4277-892f-9275bf728bcc'", who="auditor"
    )
    assert [sp["id"] for sp in filtered.json()["value"]] == [CALLPRO_SP]
    graph_sp = exo.graph("GET", "/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')", who="auditor")
    roles = {r["value"]: r["id"] for r in graph_sp.json()["appRoles"]}
    assert roles["Calendars.ReadWrite"] == CALENDARS_READWRITE
    exchange_sp = exo.graph("GET", "/servicePrincipals(appId='00000002-0000-0ff1-ce00-000000000000')", who="auditor")
    assert {r["value"]: r["id"] for r in exchange_sp.json()["appRoles"]}["full_access_as_app"] == (
        "dc890d15-9560-4a4c-9b7f-a736ec74ec40"
    )
    denied = exo.graph("GET", f"/servicePrincipals/{CALLPRO_SP}/appRoleAssignments", who="integration")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    missing = exo.graph("GET", "/servicePrincipals(appId='00000000-0000-0000-0000-000000000009')", who="auditor")
    assert missing.status_code == 404


@pytest.mark.parametrize("exo", ["exo-entra-calendars"], indirect=True)
def test_union_and_removing_the_entra_grant(exo: Exo) -> None:
    grants = exo.graph("GET", f"/servicePrincipals/{CALLPRO_SP}/appRoleAssignments", who="auditor").json()["value"]
    [grant] = grants
    assert grant["appRoleId"] == CALENDARS_READWRITE
    assert (
        grant["resourceId"]
        == exo.graph("GET", "/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')", who="auditor").json()[
            "id"
        ]
    )
    assert batch(exo, ["ceo@contoso.com"])["ceo@contoso.com"]["status"] == 200  # the union: Entra reaches everyone
    path = f"/servicePrincipals/{CALLPRO_SP}/appRoleAssignments/{grant['id']}"
    assert exo.graph("DELETE", path, who="auditor").status_code == 403  # read-only auditor
    assert exo.graph("DELETE", path, who="admin").status_code == 204
    assert exo.graph("GET", f"/servicePrincipals/{CALLPRO_SP}/appRoleAssignments", who="auditor").json()["value"] == []
    # A new token no longer carries the role: only the Exchange scope is left.
    app = exo.msal_app(exo.lab.exo_credentials.integration_client_id, exo.lab.exo_credentials.integration_client_secret)
    token = app.acquire_token_for_client([GRAPH])["access_token"]
    import requests

    resp = requests.get(
        f"{exo.lab.graph_url}/v1.0/users/ceo@contoso.com/calendar",
        headers={"Authorization": f"Bearer {token}"},
        verify=exo.ca,
        timeout=10,
    )
    assert resp.status_code == 403


@pytest.mark.parametrize("exo", ["exo-admin-unit"], indirect=True)
def test_administrative_unit_members(exo: Exo) -> None:
    members = exo.graph(
        "GET", "/directory/administrativeUnits/4d819ce9-9257-44c1-a8f2-6b0e3c5d7a91/members", who="auditor"
    )
    assert sorted(m["userPrincipalName"].split("@")[0] for m in members.json()["value"]) == sorted(
        [*FIELD, "jet.janssen"]
    )
    assert batch(exo, ["jet.janssen@contoso.com"])["jet.janssen@contoso.com"]["status"] == 200


@pytest.mark.parametrize("exo", ["exo-propagating"], indirect=True)
def test_propagation_answers_from_the_previous_tenant(exo: Exo) -> None:
    # Graph still sees the unscoped grant; Test-ServicePrincipalAuthorization (cache bypassed) sees the scope.
    assert batch(exo, ["ceo@contoso.com"])["ceo@contoso.com"]["status"] == 200
    row = exo.invoke(
        "Test-ServicePrincipalAuthorization",
        {"Identity": "6233fba6-0198-4277-892f-9275bf728bcc", "Resource": "ceo@contoso.com"},
    ).json()["value"][0]
    assert row["InScope"] is False
    exo.lab.faults.apply({"propagation": {"seconds": 0}})
    assert batch(exo, ["ceo@contoso.com"])["ceo@contoso.com"]["status"] == 403


def test_patch_user_disables_the_account_admin_only(exo: Exo) -> None:
    assert (
        exo.graph("PATCH", "/users/ceo@contoso.com", who="auditor", json={"accountEnabled": False}).status_code == 403
    )
    assert exo.graph("PATCH", "/users/ceo@contoso.com", who="admin", json={"accountEnabled": False}).status_code == 204
    user = exo.lab.current_tenant().resolve_recipient("ceo@contoso.com")
    assert user is not None
    assert user.account_disabled


def test_a_batch_is_dispatched_four_at_a_time(exo: Exo) -> None:
    exo.lab.faults.set_latency(100, "graph")
    users = [f"{u}@contoso.com" for u in FIELD] * 3 + ["ceo@contoso.com", "hr-shared@contoso.com"]
    requests_ = [{"id": str(i), "method": "GET", "url": f"/users/{u}/calendar"} for i, u in enumerate(users)]
    resp = exo.graph("POST", "/$batch", json={"requests": requests_})
    assert len(resp.json()["responses"]) == 20
    assert exo.lab.stats()["graph_max_in_flight_per_batch"] == 4
