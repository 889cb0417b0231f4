"""Whatever an admin's editor leaves in a policy file, loading it ends in a policy or one PolicyError."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.errors import PolicyError
from audit.policy import load_policy

SOURCES = [
    (Path(__file__).parents[2] / "policies" / name).read_text(encoding="utf-8")
    for name in ("callpro.yaml", "exo-rbac-for-apps.yaml")
]
NOISE = st.sampled_from(
    [":", "-", " ", "  ", "\t", "\n", "{", "}", "[", "]", ",", "'", '"', "&a", "*a", "<<: ", "!!int ", "#", "\x00", "é"]
)


@st.composite
def edited(draw: st.DrawFn) -> str:
    """A shipped policy after a few random edits: cut, insert noise, duplicate or drop a line."""
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        lines = text.splitlines(keepends=True)
        action = draw(st.sampled_from(["cut", "insert", "duplicate", "drop"]))
        at = draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))
        if action == "cut":
            text = text[:at] + text[at + draw(st.integers(min_value=1, max_value=12)) :]
        elif action == "insert":
            text = text[:at] + draw(NOISE) + text[at:]
        elif lines:
            index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            if action == "duplicate":
                lines.insert(index, lines[index])
            else:
                del lines[index]
            text = "".join(lines)
    return text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited())
def test_edited_policy_loads_or_gives_one_located_message(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.yaml"
        path.write_text(text, encoding="utf-8")
        error: PolicyError | None = None
        try:
            load_policy(path)
        except PolicyError as exc:
            error = exc
    if error is not None:
        assert str(error).startswith(str(path))
        assert "\n" not in error.reason
        assert "Traceback" not in str(error)
        if error.line is not None:
            assert 1 <= error.line <= max(text.count("\n") + 1, 1)
            assert error.column is not None
            assert error.column >= 1
