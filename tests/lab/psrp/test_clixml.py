"""The lab's direct CLIXML serializer says exactly what psrpcore's PSObject serializer says for the same object."""

from __future__ import annotations

import datetime
import uuid
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psrpcore._crypto import PSRemotingCrypto
from psrpcore.types import deserialize as ps_deserialize
from psrpcore.types import serialize as ps_serialize

from audit.lab.clixml import (
    I64,
    U32,
    ExchangeObject,
    mvp_adobjectid,
    mvp_proxy_addresses,
    mvp_string,
    serialize,
    to_psobject,
)
from audit.lab.cmdlets import CommandCall, Output, run_pipeline
from audit.lab.tenant import Tenant


def _canonical(el: ET.Element) -> Any:
    """Order-insensitive for attributes and for where ToString sits (.NET writes it before Props, psrpcore after)."""
    children = [c for c in el if c.tag != "ToString"]
    to_string = el.findtext("ToString")
    return (
        el.tag,
        tuple(sorted((k, v) for k, v in el.attrib.items() if k != "RefId")),
        (el.text or "").strip() if len(el) == 0 else "",
        to_string,
        tuple(_canonical(c) for c in children),
    )


def _psrpcore_bytes(obj: ExchangeObject) -> bytes:
    return ET.tostring(ps_serialize(to_psobject(obj), PSRemotingCrypto()))


SAMPLE = ExchangeObject(
    ("Microsoft.Exchange.Data.Directory.Management.Mailbox", "System.Object"),
    "Ad Viseur",
    (
        ("Alias", "ad.viseur"),
        ("Empty", ""),
        ("Hidden", False),
        ("Count", 5),
        ("Details", I64(2048)),
        ("Threshold", U32(25)),
        ("Guid", uuid.UUID("59255a4b-6592-4385-baec-47b3820b0de3")),
        ("WhenCreatedUTC", datetime.datetime(2021, 3, 19, 0, 34, 17, tzinfo=datetime.UTC)),
        ("ForwardingAddress", None),
        ("ObjectClass", mvp_string(["top", "person"])),
        ("EmailAddresses", mvp_proxy_addresses(["SMTP:ad.viseur@contoso.com", "smtp:ad@contoso.com"])),
        ("ManagedBy", mvp_adobjectid([])),
        ("Other", mvp_string(["x"])),
    ),
)


def test_same_document_as_psrpcore() -> None:
    ours = ET.fromstring(serialize(SAMPLE))
    theirs = ET.fromstring(_psrpcore_bytes(SAMPLE))
    assert _canonical(ours) == _canonical(theirs)
    # .NET's serializer writes ToString right after the type names (Exchange's Partial capture does too).
    assert [c.tag for c in ours][:3] == ["TN", "ToString", "Props"]
    # A repeated type chain is a TNRef, as in real captures.
    assert b'<Obj N="Other" RefId="4"><TNRef RefId="1" />' in serialize(SAMPLE)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_strings_escape_like_psrpcore(text: str) -> None:
    obj = ExchangeObject(("T", "System.Object"), "name", (("S", text), ("M", mvp_string([text]))))
    ours = serialize(obj)
    theirs = _psrpcore_bytes(obj)
    assert _canonical(ET.fromstring(ours)) == _canonical(ET.fromstring(theirs))
    # And psrpcore reads our bytes back to the original text.
    back = ps_deserialize(ET.fromstring(ours), PSRemotingCrypto())
    restored = back.S
    assert restored == text


@pytest.mark.parametrize(
    "cmdlet", ["Get-ManagementRoleAssignment", "Get-Recipient", "Get-RoleGroup", "Get-ThrottlingPolicy"]
)
def test_real_cmdlet_objects_match_psrpcore(tenant: Tenant, cmdlet: str) -> None:
    emissions = run_pipeline(tenant, "exaudit-reader", [[CommandCall(cmdlet, False, [])]])
    objects = [e.obj for e in emissions if isinstance(e, Output)]
    assert objects
    for obj in objects[:5]:
        assert _canonical(ET.fromstring(serialize(obj))) == _canonical(ET.fromstring(_psrpcore_bytes(obj)))
