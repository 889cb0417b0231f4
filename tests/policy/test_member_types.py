"""group.memberTypes: the policy model, its JSON Schema and the lint that warns about a type EXA035 refuses anyway."""

from __future__ import annotations

import io
from pathlib import Path

from audit.cli import main
from audit.evaluate import CHECKS
from audit.policy import load_policy
from audit.policy.lint import Level, lint
from audit.policy.model import HOSTED_MAILBOX_TYPES, MemberType
from audit.policy.schema import policy_json_schema
from tests.policy.test_lint import MEMBERS_EXACTLY, _line_of, _policy


def test_unset_by_default(tmp_path: Path) -> None:
    group = load_policy(_policy(tmp_path)).spec.group
    assert group is not None
    assert group.member_types is None


def test_values_are_kept_in_order(tmp_path: Path) -> None:
    path = _policy(tmp_path, members=MEMBERS_EXACTLY + "\n  memberTypes: [UserMailbox, SharedMailbox]")
    group = load_policy(path).spec.group
    assert group is not None
    assert group.member_types == ("UserMailbox", "SharedMailbox")
    assert lint(load_policy(path), CHECKS.keys()) == []


def test_a_type_that_is_no_mailbox_here_is_a_warning_with_its_place(tmp_path: Path) -> None:
    path = _policy(tmp_path, members=MEMBERS_EXACTLY + "\n  memberTypes: [UserMailbox, MailUser, RemoteUserMailbox]")
    found = lint(load_policy(path), CHECKS.keys())
    assert [(f.level, f.rule) for f in found] == [(Level.WARNING, "member-type-not-hosted")] * 2
    assert "MailUser" in found[0].message
    assert "RemoteUserMailbox" in found[1].message
    line = _line_of(path, "memberTypes")
    assert (found[0].location.line, found[0].location.column) == (line, 30)
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out, err) == 0  # a warning, not an error
    assert f"{path}:{line}:30: warning: group.memberTypes lists MailUser" in err.getvalue()


def test_the_schema_lists_exchanges_values() -> None:
    group = policy_json_schema()["$defs"]["Group"]["properties"]["memberTypes"]
    items = next(branch for branch in group["anyOf"] if branch.get("type") == "array")["items"]
    assert set(items["enum"]) == set(MemberType.__args__)
    assert {"UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox", "MailUser"} <= set(items["enum"])
    assert set(items["enum"]) >= HOSTED_MAILBOX_TYPES
