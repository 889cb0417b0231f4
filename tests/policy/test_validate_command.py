"""`exaudit validate` and `exaudit schema` need nothing but load_policies and policy_json_schema."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from audit.cli import main
from audit.policy import policy_json_schema

POLICIES = Path(__file__).parents[2] / "policies"
CASES: list[dict[str, Any]] = YAML(typ="safe").load(
    (Path(__file__).parents[1] / "data" / "policy" / "bad_cases.yaml").read_text(encoding="utf-8")
)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_validate_shipped_policies_exit_0() -> None:
    code, out, err = _run("validate", str(POLICIES))
    assert code == 0, err
    assert out.count(": ok (") == len(list(POLICIES.glob("*.yaml")))


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_validate_bad_policy_exit_2_with_one_line(tmp_path: Path, case: dict[str, Any]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(case["policy"], encoding="utf-8")
    for name, text in (case.get("files") or {}).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    code, out, err = _run("validate", str(policy))
    in_file = tmp_path / case["in_file"] if "in_file" in case else policy
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert f"{in_file}:{case['line']}:{case['column']}: " in lines[0]
    assert "Traceback" not in err


def test_schema_command_prints_the_schema() -> None:
    code, out, _ = _run("schema")
    assert code == 0
    assert json.loads(out) == policy_json_schema()
