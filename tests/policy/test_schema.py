"""The JSON Schema for editors: valid draft 2020-12, closed to unknown keys, and it accepts every shipped policy."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from audit.policy import SCHEMA_ID, load_policy, policy_json_schema
from tests.gates import check_golden, require_tool

POLICIES = Path(__file__).parents[2] / "policies"
SHIPPED = sorted(POLICIES.glob("*.yaml"))


def _as_json(path: Path) -> dict[str, Any]:
    """The policy as JSON would hold it (dates as ISO text), which is what editors validate."""
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    converted: dict[str, Any] = json.loads(json.dumps(data, default=lambda v: v.isoformat()))
    return converted


def _validator() -> jsonschema.Draft202012Validator:
    schema = policy_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_schema_header() -> None:
    schema = policy_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"]
    assert schema["description"]
    assert set(schema["required"]) == {"apiVersion", "kind", "metadata", "principal", "grant"}


def test_schema_is_closed_everywhere() -> None:
    for node in _objects(policy_json_schema()):
        if "properties" in node:
            assert node["additionalProperties"] is False, node.get("title")


def test_every_property_is_described_by_its_yaml_key() -> None:
    schema = policy_json_schema()
    for node in _objects(schema):
        for key, prop in node.get("properties", {}).items():
            assert "_" not in key, key
            assert prop.get("description"), f"{node.get('title')}.{key} has no description"
            assert prop.get("title"), f"{node.get('title')}.{key} has no title"


def test_schema_is_json_and_stable() -> None:
    assert json.loads(json.dumps(policy_json_schema())) == policy_json_schema()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_schema_accepts_every_shipped_policy(path: Path) -> None:
    errors = [error.message for error in _validator().iter_errors(_as_json(path))]
    assert errors == []
    load_policy(path)  # and the loader agrees


def test_schema_rejects_an_unknown_key() -> None:
    data = _as_json(POLICIES / "callpro.yaml")
    data["group"]["hidenFromAddressLists"] = True
    errors = list(_validator().iter_errors(data))
    assert errors
    assert any("hidenFromAddressLists" in error.message for error in errors)


def test_schema_rejects_an_unknown_top_level_key() -> None:
    data = _as_json(POLICIES / "callpro.yaml")
    data["target"] = {"server": "exchange.contoso.com"}
    assert not _validator().is_valid(data)


def test_schema_rejects_both_service_account_and_app() -> None:
    data = _as_json(POLICIES / "callpro.yaml")
    data["principal"]["app"] = {
        "appId": "6233fba6-0198-4277-892f-9275bf728bcc",
        "servicePrincipalId": "7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91",
    }
    assert not _validator().is_valid(data)


def test_schema_rejects_two_via_paths_and_two_member_forms() -> None:
    data = _as_json(POLICIES / "callpro.yaml")
    data["grant"]["via"]["direct"] = {}
    assert not _validator().is_valid(data)
    data = _as_json(POLICIES / "callpro.yaml")
    data["group"]["members"]["file"] = "field-sales.txt"
    assert not _validator().is_valid(data)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("apiVersion",), "exaudit/v2"),
        (("kind",), "Policy"),
        (("group", "hiddenFromAddressLists"), "yes"),
        (("probes", "operation"), "calendarDelete"),
        (("probes", "deny", "sample"), -1),
        (("severity",), {"EXA031": "urgent"}),
        (("severity",), {"EXA31": "low"}),
        (("waivers",), [{"check": "EXA31", "reason": "r", "expires": "2027-01-31"}]),
        (("waivers",), [{"check": "EXA031", "reason": "r", "expires": "end of january"}]),
        (("group", "members", "exactly"), ["not an address"]),
    ],
    ids=lambda v: ".".join(v) if isinstance(v, tuple) else None,
)
def test_schema_rejects_wrong_values(where: tuple[str, ...], value: Any) -> None:
    data = _as_json(POLICIES / "callpro.yaml")
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert not _validator().is_valid(data)


def test_dates_are_dates() -> None:
    assert policy_json_schema()["$defs"]["Waiver"]["properties"]["expires"]["format"] == "date"
    assert dt.date.fromisoformat("2027-01-31")


SHIPPED_SCHEMA = POLICIES / "mailbox-access-policy.schema.json"


def test_shipped_schema_file_is_current() -> None:
    # Editors read policies/mailbox-access-policy.schema.json through the yaml-language-server modeline at the top
    # of each example. Regenerate after a model change with EXAUDIT_REGEN_GOLDEN=1 and review the diff.
    text = json.dumps(policy_json_schema(), indent=2) + "\n"
    check_golden(SHIPPED_SCHEMA, text, "regenerate with EXAUDIT_REGEN_GOLDEN=1")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_examples_point_editors_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./mailbox-access-policy.schema.json"


def test_check_jsonschema_accepts_the_examples_and_refuses_an_unknown_key(tmp_path: Path) -> None:
    # check-jsonschema is what a CI lint step would run on policy files; it reads the YAML itself.
    # EXAUDIT_TEST_CHECK_JSONSCHEMA points elsewhere (tests/test_gates.py hides the tool to prove CI fails).
    tool = Path(os.environ.get("EXAUDIT_TEST_CHECK_JSONSCHEMA") or Path(sys.executable).with_name("check-jsonschema"))
    require_tool(tool.exists(), f"check-jsonschema is not installed in this environment ({tool})")
    ok = subprocess.run(
        [str(tool), "--schemafile", str(SHIPPED_SCHEMA), *map(str, SHIPPED)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (POLICIES / "callpro.yaml").read_text(encoding="utf-8").replace("  membershipClosed:", "  membershipClozed:"),
        encoding="utf-8",
    )
    refused = subprocess.run(
        [str(tool), "--schemafile", str(SHIPPED_SCHEMA), str(bad)], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1
    assert "membershipClozed" in refused.stdout
