"""The AST refuses what no parse can produce: a wrong operator or value type, a bad name, a one-operand junction.

Code outside the parser builds filters too (``member_of_group``, the policy's expected filters), so the nodes
check their own invariants and say which one broke.
"""

from __future__ import annotations

from typing import Any

import pytest

from audit.opath import And, Comparison, Operator, Or, SystemValue

ONE = Comparison("Name", Operator.EQ, "x")


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        (("Name", "-eq", "x"), TypeError, "operator must be an Operator, not '-eq'"),
        (("Name", Operator.EQ, True), TypeError, "value must be str, int or SystemValue, not True"),
        (("Name", Operator.EQ, 1.5), TypeError, "value must be str, int or SystemValue, not 1.5"),
        (("Name", Operator.EQ, None), TypeError, "value must be str, int or SystemValue, not None"),
        (
            ("Na me", Operator.EQ, "x"),
            ValueError,
            "property must be a name of ASCII letters, digits and '_', not 'Na me'",
        ),
        (
            ("1Name", Operator.EQ, "x"),
            ValueError,
            "property must be a name of ASCII letters, digits and '_', not '1Name'",
        ),
        (
            ("Nämé", Operator.EQ, "x"),
            ValueError,
            "property must be a name of ASCII letters, digits and '_', not 'Nämé'",
        ),
    ],
)
def test_comparison_refuses_what_no_parse_gives(fields: tuple[Any, ...], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        Comparison(*fields)
    assert str(caught.value) == message


@pytest.mark.parametrize("value", ["x", 0, -3, SystemValue.NULL])
def test_comparison_accepts_each_value_type(value: str | int | SystemValue) -> None:
    assert Comparison("Custom_1", Operator.NE, value).value == value


@pytest.mark.parametrize(("junction", "name"), [(And, "And"), (Or, "Or")])
def test_junction_needs_two_operands(junction: type[And | Or], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} needs at least two operands$"):
        junction((ONE,))
    with pytest.raises(ValueError, match=f"^{name} needs at least two operands$"):
        junction(())
    assert len(junction((ONE, ONE)).operands) == 2
