"""Every bad policy gives exactly one PolicyError naming the file, line and column, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from audit.errors import PolicyError
from audit.policy import load_policies, load_policy

CASES_FILE = Path(__file__).parents[1] / "data" / "policy" / "bad_cases.yaml"
CASES: list[dict[str, Any]] = YAML(typ="safe").load(CASES_FILE.read_text(encoding="utf-8"))


def _load_error(tmp_path: Path, case: dict[str, Any]) -> tuple[PolicyError, Path]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(case["policy"], encoding="utf-8")
    for name, text in (case.get("files") or {}).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    return info.value, policy


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_policy_gives_one_clear_message(tmp_path: Path, case: dict[str, Any]) -> None:
    error, policy = _load_error(tmp_path, case)
    in_file = tmp_path / case["in_file"] if "in_file" in case else policy
    text = str(error)
    assert (error.path, error.line, error.column) == (str(in_file), case["line"], case["column"]), text
    assert text.startswith(f"{in_file}:{case['line']}:{case['column']}: ")
    expected = case["message"] if isinstance(case["message"], list) else [case["message"]]
    for part in expected:
        assert part in text
    assert "\n" not in text
    more = case.get("more", 0)
    if more:
        assert f"(and {more} more problem" in text
    else:
        assert "more problem" not in text
    assert "Traceback" not in text
    assert "pydantic" not in text.lower()


def test_cases_have_unique_ids() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))


def test_opath_is_parsed_by_audit_opath() -> None:
    from audit.policy import RecipientFilter

    assert RecipientFilter(opath="CustomAttribute1 -eq 'x'").opath == "CustomAttribute1 -eq 'x'"
    with pytest.raises(ValueError, match="invalid OPATH filter"):
        RecipientFilter(opath="CustomAttribute1 -eq")


def test_not_utf8(tmp_path: Path) -> None:
    policy = tmp_path / "latin1.yaml"
    policy.write_bytes(
        "apiVersion: exaudit/v1\nkind: MailboxAccessPolicy\nmetadata: {owner: Jos\xe9}\n".encode("latin-1")
    )
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    assert str(info.value) == f"{policy}:3:22: not UTF-8 text: byte 0xe9 cannot be decoded; save the file as UTF-8"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    source = (Path(__file__).parents[2] / "policies" / "callpro.yaml").read_bytes()
    policy = tmp_path / "bom.yaml"
    policy.write_bytes(b"\xef\xbb\xbf" + source)
    assert load_policy(policy).name == "callpro-calendar-access"


@pytest.mark.parametrize(
    "content", ["", "\n\n", "# only a comment\n", "---\n"], ids=["empty", "blank", "comment", "marker"]
)
def test_empty_file(tmp_path: Path, content: str) -> None:
    policy = tmp_path / "empty.yaml"
    policy.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    assert str(info.value) == f"{policy}: the file is empty; a policy starts with 'apiVersion: exaudit/v1'"


def test_two_documents(tmp_path: Path) -> None:
    policy = tmp_path / "two.yaml"
    policy.write_text("apiVersion: exaudit/v1\n---\napiVersion: exaudit/v1\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    assert str(info.value).startswith(f"{policy}:2:1: invalid YAML: but found another document")


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: policy file not found"


def test_directory_without_policies(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="directory holds no"):
        load_policies([tmp_path])


def test_no_policy_given() -> None:
    with pytest.raises(PolicyError, match="no policy file given"):
        load_policies([])


def test_duplicate_policy_names(tmp_path: Path) -> None:
    source = (Path(__file__).parents[2] / "policies" / "callpro.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(source, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(source, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policies([tmp_path])
    line = next(n for n, text in enumerate(source.splitlines(), 1) if text.startswith("  name: callpro"))
    assert str(info.value).startswith(
        f"{tmp_path / 'b.yaml'}:{line}:3: policy name 'callpro-calendar-access' is already"
    )


def test_members_file_not_utf8(tmp_path: Path) -> None:
    case = next(case for case in CASES if case["id"] == "members-file-empty")
    (tmp_path / "policy.yaml").write_text(case["policy"], encoding="utf-8")
    (tmp_path / "people.txt").write_bytes(b"ad.viseur@contoso.com\n\xff\n")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "policy.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'people.txt'}:2:1: not UTF-8 text")


def test_members_file_duplicate(tmp_path: Path) -> None:
    case = next(case for case in CASES if case["id"] == "members-file-empty")
    (tmp_path / "policy.yaml").write_text(case["policy"], encoding="utf-8")
    (tmp_path / "people.txt").write_text("ad.viseur@contoso.com\nAD.VISEUR@contoso.com\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "policy.yaml")
    assert str(info.value) == (
        f"{tmp_path / 'people.txt'}:2:1: 'AD.VISEUR@contoso.com' is listed twice (first on line 1)"
    )


def _refused(tmp_path: Path, text: str) -> PolicyError:
    policy = tmp_path / "policy.yaml"
    policy.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    assert str(info.value).startswith(str(policy))
    return info.value


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["apiVersion: exaudit/v1", "kind: MailboxAccessPolicy", "l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 9)]  # 10^9 values
    error = _refused(tmp_path, "\n".join(lines) + "\n")
    assert "more than 4,000 values (YAML aliases expanded)" in error.reason
    assert (error.line, error.column) == (6, 20)  # the alias that crosses the bound, before anything is built


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    error = _refused(tmp_path, "apiVersion: exaudit/v1\nmetadata: " + "[" * 400 + "]" * 400 + "\n")
    assert error.reason == "collections are nested more than 32 deep"
    assert (error.line, error.column) == (2, 42)


def test_explicit_tag_that_fails_is_located(tmp_path: Path) -> None:
    error = _refused(tmp_path, "apiVersion: exaudit/v1\nkind: MailboxAccessPolicy\nmetadata: {name: !!int callpro}\n")
    assert (error.line, error.column) == (3, 18)
    assert error.reason.startswith("YAML tag 'tag:yaml.org,2002:int' is not allowed")


def test_unknown_tag_is_refused_with_its_place(tmp_path: Path) -> None:
    # The round-trip loader would keep a local tag as decoration and read on: a policy needs no tag, so none passes.
    error = _refused(tmp_path, "apiVersion: exaudit/v1\nkind: MailboxAccessPolicy\nmetadata: !policy {name: x}\n")
    assert (error.line, error.column) == (3, 11)
    assert error.reason.startswith("YAML tag '!policy' is not allowed")


def test_control_character_is_located(tmp_path: Path) -> None:
    error = _refused(tmp_path, "apiVersion: exaudit/v1\nkind: Mailbox\x07AccessPolicy\n")
    assert (error.line, error.column) == (2, 14)
    assert error.reason == "invalid YAML: character U+0007 is not allowed in a YAML file"
