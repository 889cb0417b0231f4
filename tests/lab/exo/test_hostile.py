"""Hostile requests to the Exchange Online front ends: every one gets a 4xx answer in its wire's shape, never a 500."""

from __future__ import annotations

import json

import requests

from .conftest import GRAPH, OUTLOOK, Exo

BODIES: list[bytes] = [
    b"",
    b"\x00\xff\xfe",
    b"{",
    b"[]",
    b"null",
    b'{"CmdletInput": null}',
    b'{"CmdletInput": {"CmdletName": 5}}',
    b'{"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": []}}',
    b'{"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"Identity": [[1]]}}}',
    b'{"CmdletInput": {"CmdletName": "Get-Mailbox; Remove-Mailbox", "Parameters": {}}}',
    b'{"requests": "x"}',
    b'{"requests": [1, 2]}',
    b'{"requests": [{"id": "1"}]}',
    b'{"requests": [{"id": "1", "method": "GET", "url": "/users/../../etc/passwd"}]}',
    b'{"requests": [{"id": "1", "method": "POST", "url": "/users/ad.viseur@contoso.com/events", "body": "{"}]}',
    json.dumps({"requests": [{"id": "1", "method": "GET", "url": "/users/" + "a" * 5000 + "/calendar"}]}).encode(),
]


def test_invoke_command_never_fails_on_hostile_bodies(exo: Exo) -> None:
    url = f"{exo.lab.adminapi_url}/adminapi/beta/{exo.lab.tenant_id}/InvokeCommand"
    headers = {"Authorization": f"Bearer {exo.token('auditor', OUTLOOK)}", "X-AnchorMailbox": "x"}
    for body in BODIES:
        resp = requests.post(url, data=body, headers=headers, verify=exo.ca, timeout=10)
        assert 400 <= resp.status_code < 500, (body, resp.status_code, resp.text)
        assert "error" in resp.json()
    skip = requests.post(url + "?$skiptoken=abc", data=BODIES[7], headers=headers, verify=exo.ca, timeout=10)
    assert skip.status_code == 400


def test_graph_never_fails_on_hostile_bodies_and_paths(exo: Exo) -> None:
    headers = {"Authorization": f"Bearer {exo.token('integration', GRAPH)}"}
    for body in BODIES:
        resp = requests.post(f"{exo.lab.graph_url}/v1.0/$batch", data=body, headers=headers, verify=exo.ca, timeout=10)
        assert resp.status_code in (200, 400), (body, resp.status_code, resp.text)
        if resp.status_code == 200:
            for sub in resp.json()["responses"]:
                assert 400 <= sub["status"] < 500, sub
    for path in ["/", "/users", "/users/x", "/servicePrincipals(appId='", "/directory/administrativeUnits/x/y/z"]:
        resp = requests.get(f"{exo.lab.graph_url}/v1.0{path}", headers=headers, verify=exo.ca, timeout=10)
        assert 400 <= resp.status_code < 500, (path, resp.status_code)
    forged = requests.get(
        f"{exo.lab.graph_url}/v1.0/users/ceo@contoso.com/calendar",
        headers={"Authorization": "Bearer a.b.c"},
        verify=exo.ca,
        timeout=10,
    )
    assert forged.status_code == 401


def test_token_endpoint_never_fails_on_hostile_forms(exo: Exo) -> None:
    endpoint = f"{exo.lab.authority_url}/oauth2/v2.0/token"
    forms: list[bytes] = [
        b"",
        b"\xff\xfe",
        b"grant_type=client_credentials",
        b"grant_type=client_credentials&client_id=" + exo.lab.exo_credentials.auditor_client_id.encode(),
        b"grant_type=client_credentials&client_id=0f8c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f&scope=https://graph."
        b"microsoft.com/.default&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        b"&client_assertion=e30.e30.",
        b"grant_type=password&username=a&password=b",
    ]
    for form in forms:
        resp = requests.post(
            endpoint,
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            verify=exo.ca,
            timeout=10,
        )
        assert 400 <= resp.status_code < 500, (form, resp.status_code, resp.text)
        assert resp.json()["error"]
