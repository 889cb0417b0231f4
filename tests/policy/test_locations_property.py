"""Property: every key and list item the loader records sits exactly at its line and column in the file."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from audit.policy import load_policy

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=12).filter(
    lambda s: s[0] not in ".-" and s[-1] not in ".-"
)
ADDRESSES = st.lists(LOCAL.map(lambda local: f"{local}@contoso.com"), min_size=1, max_size=12, unique=True)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    members = draw(ADDRESSES)
    canaries = draw(
        st.lists(st.sampled_from(["ceo@contoso.com", "hr-shared@contoso.com", "cfo@contoso.com"]), unique=True)
    )
    policy: dict[str, Any] = {
        "apiVersion": "exaudit/v1",
        "kind": "MailboxAccessPolicy",
        "metadata": {"name": "prop", "owner": "it-ops@contoso.com"},
        "principal": {"serviceAccount": "svcServiceAccount@contoso.com"},
        "grant": {
            "role": "ApplicationImpersonation",
            "via": {"roleGroup": {"name": "RG", "exactRoles": ["ApplicationImpersonation"]}},
            "scope": "S",
            "otherRolesAllowed": draw(
                st.lists(st.sampled_from(["View-Only Recipients", "Mail Recipients"]), unique=True)
            ),
        },
        "scope": {"name": "S", "recipientFilter": {"memberOfGroup": "G"}},
        "group": {"name": "G", "hiddenFromAddressLists": draw(st.booleans()), "members": {"exactly": members}},
        "probes": {"deny": {"canaries": canaries, "sample": draw(st.integers(0, 50))}},
    }
    if draw(st.booleans()):
        policy["severity"] = {"EXA031": "low"}
    return policy


def _dump(data: dict[str, Any], flow: bool | None, indent: tuple[int, int]) -> str:
    yaml = YAML()
    yaml.default_flow_style = flow
    yaml.width = 4096
    yaml.indent(mapping=indent[0], sequence=indent[0] + indent[1], offset=indent[1])
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


@settings(max_examples=60, deadline=None)
@given(
    policies(),
    st.sampled_from([None, False, True]),
    st.sampled_from([(2, 0), (2, 2), (4, 2), (3, 1)]),
)
def test_every_location_points_at_its_key_or_item(
    data: dict[str, Any], flow: bool | None, indent: tuple[int, int]
) -> None:
    text = _dump(data, flow, indent)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.yaml"
        path.write_text(text, encoding="utf-8")
        policy = load_policy(path)
    lines = text.splitlines()
    assert policy.locations
    for dotted, (line, column) in policy.locations.items():
        at = lines[line - 1][column - 1 :]
        if dotted.endswith("]"):
            item = _get(data, dotted)
            if isinstance(item, str):
                assert at.startswith(item), (dotted, at)
        else:
            key = dotted.rsplit(".", 1)[-1].split("[")[0]
            assert at.startswith(key), (dotted, at)
    members = data["group"]["members"]["exactly"]
    for index, address in enumerate(members):
        location = policy.location(f"group.members.exactly[{index}]")
        assert address in lines[location.line - 1]


def _get(data: Any, dotted: str) -> Any:
    node = data
    for part in dotted.replace("[", ".[").split("."):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node
