"""AdminApiRunner over real HTTP on 127.0.0.1: the InvokeCommand envelope, paging, errors, bounds, read-only."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from audit.collect.adminapi import ANCHOR_MAILBOX, AdminApiRunner, AppCmdletUnavailableError
from audit.collect.interface import ErrorKind, TransportFailure
from audit.errors import CollectionError
from tests.collect.fake_http import Seen, serve

TENANT = "2f4a9c1e-7b3d-4e5f-a6b7-c8d9e0f1a2b3"


def jwt(roles: list[str]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'aud': 'https://outlook.office365.com', 'roles': roles})}.sig"


TOKEN = jwt(["Exchange.ManageAsApp"])


def runner(url: str, **kw: Any) -> AdminApiRunner:
    return AdminApiRunner(url, TENANT, lambda: TOKEN, **kw)


def test_pages_are_read_by_posting_the_same_body_to_next_link() -> None:
    def handler(seen: Seen) -> tuple[int, dict[str, str], Any]:
        if "skip=2" in seen.path:
            return 200, {}, {"value": [{"Name": "c", "Extra": 1}]}
        return 200, {}, {"value": [{"Name": "a"}, {"Name": "b"}], "@odata.nextLink": f"{server.url}{seen.path}?skip=2"}

    with serve(handler) as server:
        r = runner(server.url)
        result = r.run("Get-Recipient", {"ResultSize": "Unlimited"}, 10, properties=("Name",))
    assert [o["Name"] for o in result.objects] == ["a", "b", "c"]
    assert all(set(o) == {"Name"} for o in result.objects)
    first, second = server.seen
    assert first.method == second.method == "POST"
    assert first.path == f"/adminapi/beta/{TENANT}/InvokeCommand"
    assert (
        first.body
        == second.body
        == {"CmdletInput": {"CmdletName": "Get-Recipient", "Parameters": {"ResultSize": "Unlimited"}}}
    )
    assert first.headers["x-anchormailbox"] == f"APP:{ANCHOR_MAILBOX}@{TENANT}"
    assert first.headers["prefer"] == "odata.maxpagesize=1000"
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert result.ok


@pytest.mark.parametrize("cmdlet", ["Set-Mailbox", "New-ManagementRoleAssignment", "Remove-ServicePrincipal", "Get"])
def test_a_cmdlet_that_writes_is_refused_before_anything_is_sent(cmdlet: str) -> None:
    with serve(lambda s: (200, {}, {"value": []})) as server, pytest.raises(CollectionError, match="refusing"):
        runner(server.url).run(cmdlet, {}, 5)
    assert server.seen == []


def test_test_verb_only_when_the_plan_allows_it() -> None:
    with serve(lambda s: (200, {}, {"value": []})) as server:
        with pytest.raises(CollectionError, match="refusing"):
            runner(server.url, verbs=("Get",)).run("Test-ServicePrincipalAuthorization", {}, 5)
        runner(server.url).run("Test-ServicePrincipalAuthorization", {"Identity": "x"}, 5)
    assert len(server.seen) == 1


def test_not_allowed_to_call_names_the_role_group() -> None:
    body = {"error": {"code": "Unauthorized", "message": "User is not allowed to call Get-Mailbox"}}
    with serve(lambda s: (401, {}, body)) as server, pytest.raises(AppCmdletUnavailableError) as info:
        runner(server.url).run("Get-Mailbox", {}, 5)
    text = str(info.value)
    assert "View-Only Organization Management" in text
    assert "Get-Mailbox" in text
    assert "\n" not in text


def test_a_token_without_manage_as_app_says_which_entra_role_to_grant() -> None:
    body = {"error": {"code": "Unauthorized", "message": "User is not allowed to call Get-Mailbox"}}
    with serve(lambda s: (401, {}, body)) as server:
        r = AdminApiRunner(server.url, TENANT, lambda: jwt(["Application.Read.All"]))
        with pytest.raises(TransportFailure) as info:
            r.run("Get-Mailbox", {}, 5)
    assert info.value.fatal
    assert info.value.kind == ErrorKind.AUTH
    assert "Exchange.ManageAsApp" in str(info.value)


def test_error_message_is_read_from_details_then_innererror_then_message() -> None:
    replies = [
        {"error": {"code": "A", "message": "outer", "details": [{"message": "from details"}]}},
        {"error": {"code": "B", "message": "outer", "innererror": {"internalException": {"message": "inner"}}}},
        {"error": {"code": "ManagementObjectNotFound", "message": "plain"}},
    ]
    with serve(lambda s: (400, {}, replies[len(server.seen) - 1])) as server:
        r = runner(server.url)
        texts = [r.run("Get-User", {"Identity": "x"}, 5).errors[0] for _ in replies]
    assert "from details" in texts[0]
    assert "inner" in texts[1]
    assert "plain" in texts[2]


def test_a_next_link_to_another_host_is_refused_and_gets_no_token() -> None:
    with serve(lambda s: (200, {}, {"value": []})) as elsewhere:
        link = f"{elsewhere.url}/steal"
        with (
            serve(lambda s: (200, {}, {"value": [{"Name": "a"}], "@odata.nextLink": link})) as server,
            pytest.raises(TransportFailure, match="another host") as info,
        ):
            runner(server.url).run("Get-Recipient", {}, 5)
    assert info.value.fatal
    assert elsewhere.seen == []


def test_throttling_is_waited_out_within_the_timeout() -> None:
    def handler(seen: Seen) -> tuple[int, dict[str, str], Any]:
        if len(server.seen) == 1:
            return 429, {"Retry-After": "0"}, {"error": {"code": "TooManyRequests", "message": "slow down"}}
        return 200, {}, {"value": [{"Name": "a"}]}

    with serve(handler) as server:
        result = runner(server.url).run("Get-Recipient", {}, 5)
    assert result.ok
    assert len(server.seen) == 2


def test_a_reply_larger_than_the_bound_is_refused() -> None:
    big = {"value": [{"Name": "x" * 1000} for _ in range(200)]}
    with serve(lambda s: (200, {}, big)) as server, pytest.raises(TransportFailure, match="larger than"):
        runner(server.url, max_reply_bytes=50_000).run("Get-Recipient", {}, 5)


def test_a_result_size_warning_marks_the_result_truncated() -> None:
    reply = {"value": [{"Name": "a"}], "@adminapi.warnings": ["There are more results, use ResultSize to view more."]}
    with serve(lambda s: (200, {}, reply)) as server:
        result = runner(server.url).run("Get-Recipient", {}, 5)
    assert not result.ok
    assert result.error_kind == ErrorKind.TRUNCATED


def test_a_reply_that_is_not_a_collection_fails_the_call() -> None:
    with (
        serve(lambda s: (200, {}, {"value": "nope"})) as server,
        pytest.raises(TransportFailure, match="not an OData collection"),
    ):
        runner(server.url).run("Get-Recipient", {}, 5)


def test_server_errors_and_refused_connections_are_transport_failures() -> None:
    with serve(lambda s: (500, {}, {"error": {"code": "InternalServerError", "message": "boom"}})) as server:
        with pytest.raises(TransportFailure) as info:
            runner(server.url).run("Get-Recipient", {}, 5)
        assert not info.value.fatal
        url = server.url
    with pytest.raises(TransportFailure) as info:
        runner(url).run("Get-Recipient", {}, 5)
    assert info.value.fatal
    assert info.value.kind == ErrorKind.CONNECTION


def test_a_token_echoed_back_in_an_error_is_scrubbed() -> None:
    def echo(seen: Seen) -> tuple[int, dict[str, str], Any]:
        return 400, {}, {"error": {"code": "Bad", "message": f"you sent {seen.headers['authorization']}"}}

    with serve(echo) as server:
        result = runner(server.url).run("Get-User", {"Identity": "x"}, 5)
    assert result.errors
    assert TOKEN not in result.errors[0]
    assert "********" in result.errors[0]
