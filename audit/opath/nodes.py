"""The OPATH filter AST: frozen values, compared structurally.

A filter is one of four node types. ``And`` and ``Or`` are n-ary (two or more operands, in the order written);
``Not`` wraps one filter; ``Comparison`` is ``Property -op value``. Values keep the form the admin typed:
a text value (single- or double-quoted), a bare integer, or a PowerShell system value ($true, $false, $null),
so that printing and parsing again gives the same tree.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TypeAlias


class Operator(enum.StrEnum):
    """A comparison operator, as written in OPATH (hyphen included)."""

    EQ = "-eq"
    NE = "-ne"
    LT = "-lt"
    GT = "-gt"
    LIKE = "-like"
    NOTLIKE = "-notlike"


class SystemValue(enum.Enum):
    """A PowerShell automatic value that OPATH accepts unquoted.

    A plain Enum (not a StrEnum) so that the system value $true never compares equal to the text '$true'.
    """

    TRUE = "$true"
    FALSE = "$false"
    NULL = "$null"


_PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Value: TypeAlias = str | int | SystemValue


@dataclass(frozen=True, slots=True)
class Comparison:
    """One comparison: ``property operator value``."""

    property: str
    operator: Operator
    value: Value

    def __post_init__(self) -> None:
        if not isinstance(self.operator, Operator):
            raise TypeError(f"operator must be an Operator, not {self.operator!r}")
        # bool is an int to Python; a boolean must be written as SystemValue.TRUE/FALSE.
        if isinstance(self.value, bool) or not isinstance(self.value, str | int | SystemValue):
            raise TypeError(f"value must be str, int or SystemValue, not {self.value!r}")
        if not _PROPERTY_NAME.fullmatch(self.property):
            raise ValueError(f"property must be a name of ASCII letters, digits and '_', not {self.property!r}")


@dataclass(frozen=True, slots=True)
class Not:
    """``-not <operand>``."""

    operand: Filter


@dataclass(frozen=True, slots=True)
class And:
    """``a -and b [-and c ...]``: true when every operand is."""

    operands: tuple[Filter, ...]

    def __post_init__(self) -> None:
        if len(self.operands) < 2:
            raise ValueError("And needs at least two operands")


@dataclass(frozen=True, slots=True)
class Or:
    """``a -or b [-or c ...]``: true when any operand is."""

    operands: tuple[Filter, ...]

    def __post_init__(self) -> None:
        if len(self.operands) < 2:
            raise ValueError("Or needs at least two operands")


Filter: TypeAlias = And | Or | Not | Comparison
