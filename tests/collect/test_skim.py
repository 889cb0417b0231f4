"""The skimming deserializer reads exactly what the full one reads for the kept properties, or hands over."""

from __future__ import annotations

import pytest

from audit.collect.mapping import ORGANIZATION_SCALE
from audit.collect.psrp import fast_output_object, plain
from audit.collect.psrp_clixml import SHARED_DISTINCT, Row, Shared, skim_output_object
from audit.lab.clixml import serialize
from audit.lab.cmdlets import CommandCall, Output, run_pipeline
from audit.lab.generate import generate
from audit.lab.server import scenario_path
from audit.lab.tenant import load_tenant

HEAD = (
    '<Obj RefId="0"><TN RefId="0"><T>Microsoft.Exchange.Data.Directory.Management.Mailbox</T>'
    "<T>System.Object</T></TN><ToString>Ad &amp; Co</ToString><Props>"
)
TAIL = "</Props></Obj>"
KEEP = frozenset({"name", "accountdisabled", "emailaddresses", "throttlingpolicy", "count"})


def _full(xml: str, keep: frozenset[str]) -> dict[str, object]:
    obj = fast_output_object(xml, keep)
    assert obj is not None
    return {k: plain(v) for k, v in obj.adapted_properties.items()}


@pytest.mark.parametrize("cmdlet", ["Get-Recipient", "Get-Mailbox"])
def test_same_values_as_the_full_parser_on_the_labs_objects(cmdlet: str) -> None:
    tenant = generate(load_tenant(scenario_path("compliant")), 30).with_generated_passwords()
    auditor = tenant.account_with_role("auditor")
    assert auditor is not None
    keep = frozenset(p.lower() for p in ORGANIZATION_SCALE[cmdlet])
    calls = [[CommandCall(cmdlet, False, [("ResultSize", "Unlimited")])]]
    blobs = [serialize(e.obj).decode() for e in run_pipeline(tenant, auditor.username, calls) if isinstance(e, Output)]
    assert len(blobs) > 30
    for xml in blobs:
        skimmed = skim_output_object(xml, keep)
        assert skimmed is not None
        full = fast_output_object(xml, keep)
        assert full is not None
        assert skimmed.adapted_properties == _full(xml, keep)
        assert (skimmed.types, skimmed.to_string) == (full.types, full.to_string)
        assert {k.lower() for k in skimmed.adapted_properties} <= keep


def test_entities_escapes_empty_and_nil_values_and_name_case() -> None:
    xml = (
        HEAD
        + '<S N="name">Field_x0020_Sales &amp; &lt;Ops&gt; &#x41;</S><B N="AccountDisabled">true</B>'
        + '<Nil N="ThrottlingPolicy" /><I32 N="Count">3</I32><S N="Other">x N="Name">wrong</S>'
        + '<Obj N="EmailAddresses" RefId="1"><TNRef RefId="0" /><LST><S>SMTP:a@b.c</S><S /><S>x&amp;y</S></LST></Obj>'
        + TAIL
    )
    skimmed = skim_output_object(xml, KEEP)
    assert skimmed is not None
    assert skimmed.to_string == "Ad & Co"
    assert skimmed.adapted_properties == {
        "name": "Field Sales & <Ops> A",
        "AccountDisabled": True,
        "ThrottlingPolicy": None,
        "Count": 3,
        "EmailAddresses": ["SMTP:a@b.c", "", "x&y"],
    }
    assert skimmed.adapted_properties == _full(xml, KEEP)


@pytest.mark.parametrize(
    "props",
    [
        '<S N="Name"><![CDATA[x]]></S>',  # CDATA: only a real XML parser reads it right
        '<!-- a comment --><S N="Name">x</S>',
        '<S N="Name">x</S><Obj N="Nested" RefId="1"><Props><S N="Name">inner</S></Props></Obj>',
        '<Ref N="Name" RefId="0" />',  # a reference to an earlier object
        '<S N="Name" Extra="1">x</S>',
        '<I32 N="Count">three</I32>',
        '<Obj N="EmailAddresses" RefId="1"><TNRef RefId="0" /><LST>'
        '<Obj RefId="2"><ToString>a</ToString></Obj></LST></Obj>',  # a list of objects
        '<Obj N="EmailAddresses" RefId="1"><TNRef RefId="0" /><LST /></Obj>'
        '<Obj N="EmailAddresses" RefId="2"><LST /></Obj>',  # sent twice
    ],
)
def test_anything_but_the_flat_partial_shape_goes_to_the_full_parser(props: str) -> None:
    assert skim_output_object(HEAD + props + TAIL, KEEP) is None


def test_extended_properties_and_type_references_go_to_the_full_parser() -> None:
    assert skim_output_object(HEAD + '<S N="Name">x</S></Props><MS><S N="a">b</S></MS></Obj>', KEEP) is None
    assert skim_output_object('<Obj RefId="0"><TNRef RefId="0" /><Props><S N="Name">x</S>' + TAIL, KEEP) is None


def test_unwanted_properties_are_not_read() -> None:
    # The skipped bytes are not parsed: an unwanted property's value never reaches the object.
    xml = HEAD + '<S N="Name">x</S><S N="Secretish">y</S>' + TAIL
    skimmed = skim_output_object(xml, frozenset({"name"}))
    assert skimmed is not None
    assert skimmed.adapted_properties == {"Name": "x"}


def _recipient(n: int, department: str) -> str:
    # The name is built at run time (not a literal the compiler would share), as it comes off the wire.
    name = "".join(["Na", "me"])
    return (
        HEAD
        + f'<S N="{name}">user {n}</S><S N="Department">{department}</S><B N="AccountDisabled">false</B>'
        + f'<Obj N="EmailAddresses" RefId="1"><TNRef RefId="0" /><LST><S>SMTP:u{n}@b.c</S></LST></Obj>'
        + TAIL
    )


def test_shared_names_and_repeated_values_are_one_object_each_with_the_same_content() -> None:
    shared = Shared()
    keep = frozenset({"name", "department", "accountdisabled", "emailaddresses"})
    blobs = [_recipient(n, f"Dept {n % 3}") for n in range(200)]
    objects = [skim_output_object(xml, keep, shared) for xml in blobs]
    alone = [skim_output_object(xml, keep) for xml in blobs]
    assert all(o is not None for o in objects)
    props = [o.adapted_properties for o in objects if o is not None]
    assert props == [o.adapted_properties for o in alone if o is not None]
    names = [next(iter(p)) for p in props]
    assert all(name is names[0] for name in names)  # one "Name" string for every object
    departments = {id(p["Department"]) for p in props}
    assert len(departments) == 3  # three distinct values, three string objects
    assert len({id(p["Name"]) for p in props}) == 200  # unique values stay unique


def test_a_property_with_many_distinct_values_is_no_longer_looked_up() -> None:
    shared = Shared()
    values = [f"user {n}" for n in range(SHARED_DISTINCT + 10)]
    kept = [shared.value("Name", v) for v in values]
    assert kept == values
    # Past SHARED_DISTINCT distinct values the property counts as per-object: an equal value is not replaced.
    again = "".join(["user ", str(SHARED_DISTINCT + 5)])
    assert shared.value("Name", again) is again
    # A few-valued property keeps being shared, and values other than strings pass through.
    first = shared.value("Company", "".join(["Con", "toso"]))
    assert shared.value("Company", "".join(["Cont", "oso"])) is first
    items = ["a"]
    assert shared.value("EmailAddresses", items) is items
    assert shared.value("Count", 3) == 3


def test_a_row_reads_as_the_dict_it_stands_for() -> None:
    shared = Shared()
    row = shared.row(["Name", "Count", "List"], ["x", 3, ["a"]])
    assert isinstance(row, Row)
    same = {"Name": "x", "Count": 3, "List": ["a"]}
    assert row == same
    assert same == row
    assert list(row) == list(same)
    assert list(row.items()) == list(same.items())
    assert len(row) == 3
    assert "Count" in row
    assert "count" not in row
    assert row.get("Count") == 3
    assert row.get("Missing") is None
    assert row.get("Missing", "d") == "d"
    assert row["List"] == ["a"]
    with pytest.raises(KeyError):
        row["Missing"]
    assert dict(row) == same
    other = shared.row(["Name", "Count", "List"], ["y", 4, []])
    assert other._index is row._index  # one name table for the answer's objects of one layout
    assert other != row


def test_a_repeated_name_reads_as_in_a_dict_and_too_many_layouts_give_a_plain_dict() -> None:
    shared = Shared()
    twice = shared.row(["Name", "Alias", "Name"], ["first", "a", "last"])
    assert type(twice) is Row
    built: dict[str, str] = {}
    for name, value in (("Name", "first"), ("Alias", "a"), ("Name", "last")):
        built[name] = value  # as a dict filled from the wire holds it: first place, last value
    assert twice == built
    assert list(twice.items()) == list(built.items())
    assert len(twice) == 2
    shared = Shared()
    rows = [shared.row([f"P{n}"], [n]) for n in range(SHARED_DISTINCT + 5)]
    assert all(type(r) is Row for r in rows[:SHARED_DISTINCT])
    assert all(type(r) is dict for r in rows[SHARED_DISTINCT:])
    assert [dict(r) for r in rows] == [{f"P{n}": n} for n in range(SHARED_DISTINCT + 5)]


@pytest.mark.parametrize("cmdlet", ["Get-Recipient", "Get-Mailbox"])
def test_the_labs_objects_come_as_rows_with_the_full_parsers_values(cmdlet: str) -> None:
    # Get-Recipient sends Name twice: still one row layout for the whole answer, read as a dict would be.
    tenant = generate(load_tenant(scenario_path("compliant")), 30).with_generated_passwords()
    auditor = tenant.account_with_role("auditor")
    assert auditor is not None
    keep = frozenset(p.lower() for p in ORGANIZATION_SCALE[cmdlet])
    calls = [[CommandCall(cmdlet, False, [("ResultSize", "Unlimited")])]]
    blobs = [serialize(e.obj).decode() for e in run_pipeline(tenant, auditor.username, calls) if isinstance(e, Output)]
    shared = Shared()
    for xml in blobs:
        skimmed = skim_output_object(xml, keep, shared)
        assert skimmed is not None
        assert type(skimmed.adapted_properties) is Row
        assert dict(skimmed.adapted_properties) == _full(xml, keep)
        assert list(skimmed.adapted_properties) == list(_full(xml, keep))
