"""Hostile WS-Management input: mutated real requests always get a well-formed reply, never an exception."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.lab.http import Headers, LabRequest
from audit.lab.tenant import Tenant
from audit.lab.wsman import WSManEndpoint

from .conftest import WINRM_DATA

REQUESTS = [
    m["request"].replace("Microsoft.PowerShell", "Microsoft.Exchange")
    for name in ("test_psrp_multiple_invocations.yml", "test_psrp_multiple_commands.yml")
    for m in yaml.safe_load((WINRM_DATA / name).read_text(encoding="utf-8"))["messages"]
    if m.get("request")
]


def _request(body: bytes, user: str = "exaudit-reader") -> LabRequest:
    return LabRequest("POST", "/PowerShell", {}, Headers({"Host": "127.0.0.1:5985"}), body, user, "Basic", 1,
                      ("127.0.0.1", 50000))  # fmt: skip


def _mutate(text: str, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["truncate", "flip", "drop-element", "replace-text", "duplicate"]))
    raw = text.encode()
    if kind == "truncate":
        return raw[: data.draw(st.integers(0, len(raw)))]
    if kind == "flip":
        pos = data.draw(st.integers(0, len(raw) - 1))
        return raw[:pos] + bytes([raw[pos] ^ data.draw(st.integers(1, 255))]) + raw[pos + 1 :]
    tags = re.findall(r"<([A-Za-z]+:[A-Za-z]+)[ >]", text)
    tag = data.draw(st.sampled_from(tags))
    if kind == "drop-element":
        return re.sub(rf"<{tag}[ >].*?</{tag}>", "", text, count=1, flags=re.S).encode()
    if kind == "duplicate":
        return re.sub(rf"(<{tag}[ >].*?</{tag}>)", r"\1\1", text, count=1, flags=re.S).encode()
    junk = data.draw(st.text(max_size=30).map(lambda t: t.replace("<", "").replace("&", "")))
    return re.sub(rf"(<{tag}[^>]*>)[^<]*", lambda m: m.group(1) + junk, text, count=1).encode()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_requests_get_well_formed_answers(tenant: Tenant, data: st.DataObject) -> None:
    endpoint = WSManEndpoint(tenant)
    try:
        # Replay a prefix of a real session (so shells and commands exist), then one mutated request.
        count = data.draw(st.integers(1, len(REQUESTS)))
        for text in REQUESTS[: count - 1]:
            endpoint(_request(text.encode().replace(b"PT20S", b"PT0.05S")))
        body = _mutate(REQUESTS[count - 1], data).replace(b"PT20S", b"PT0.05S")
        response = endpoint(_request(body))
        assert response.status in (200, 500)
        root = ET.fromstring(response.body)
        assert root.tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"
        if response.status == 500:
            assert root.find(".//{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}WSManFault") is not None
    finally:
        endpoint.close()


def test_other_users_and_anonymous_get_nothing(tenant: Tenant) -> None:
    endpoint = WSManEndpoint(tenant)
    create = next(r for r in REQUESTS if "/Create<" in r)
    assert endpoint(_request(create.encode())).status == 200
    shell_id = re.search(r'ShellId="([^"]+)"', create)
    assert shell_id is not None
    for text in (r for r in REQUESTS if "/Create<" not in r and shell_id.group(1) in r):
        response = endpoint(_request(text.encode().replace(b"PT20S", b"PT0.05S"), user="svcServiceAccount"))
        assert response.status == 500
        assert b'Code="2150858843"' in response.body
    assert endpoint(_request(create.encode(), user=None)).status == 401  # type: ignore[arg-type]
    assert endpoint.shell_count() == 1
    # The owner still has the shell: nothing the other account sent touched it.
    receive = next(r for r in REQUESTS if "/Receive<" in r and shell_id.group(1) in r)
    assert endpoint(_request(receive.encode())).status == 200
    endpoint.close()
    assert endpoint.shell_count() == 0
