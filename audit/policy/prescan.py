"""Bound a policy's YAML before ruamel builds it: nesting, values (aliases expanded), tags and dates.

ruamel.yaml's pure-Python scanner is quadratic in flow nesting (200 KB of ``[`` takes minutes) and its
round-trip loader builds every list in full before exaudit could count it. libyaml's event parser (C, linear)
reads the same text first and stops at the first thing a policy never needs: nesting deeper than
:data:`MAX_DEPTH`, more than :data:`MAX_VALUES` values once aliases are expanded (the "billion laughs"), an
explicit tag (``!!python/object``: a policy needs none), or a date that does not exist (2026-02-30). Every refusal
names the line and column, so it is a policy error (exit 2), never an internal one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import yaml

# The deepest real policy is five levels (grant.via.roleGroup.exactRoles[0]); 32 leaves room for any layout.
MAX_DEPTH = 32
# Values after alias expansion. Measured (bench/bench_hostile_policy.py): ruamel's round-trip scanner takes about
# 0.3 ms per value on a loaded CI machine (9,900 inline members: 3.2 s), so 4,000 keeps any policy, accepted or
# refused late, inside the 2 s budget with room to spare.
# Large member sets belong in a members file, which is read line by line.
MAX_VALUES = 4_000

# The YAML 1.2 timestamp ruamel resolves a plain scalar to (ruamel/yaml/resolver.py, tag:yaml.org,2002:timestamp);
# one that matches but names no real day makes ruamel's constructor raise a bare ValueError.
_TIMESTAMP = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)\d{1,2}:\d\d:\d\d(?:\.\d*)?.*)?")


@dataclass(frozen=True, slots=True)
class PrescanProblem(Exception):
    """Why the text is refused, and where (1-based line and column)."""

    message: str
    line: int
    column: int


def _parser(text: str) -> Any:
    """The libyaml event parser; PyYAML wheels and Debian's python3-yaml ship it."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        return fast(text)
    # pragma: no cover - the pure-Python parser is the same quadratic algorithm as ruamel's: bound its input first.
    _crude_bound(text)
    return yaml.SafeLoader(text)


def prescan(text: str) -> None:
    """Raise :class:`PrescanProblem` for the first bound the text exceeds; syntax errors are left to ruamel."""
    parser = _parser(text)
    try:
        _walk(parser)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if exc.problem == "exceeded maximum nesting depth" and mark is not None:
            # libyaml's own bound (1,000 levels) met while scanning ahead, before an event reached _walk.
            deep = f"collections are nested more than {MAX_DEPTH} deep"
            raise PrescanProblem(deep, mark.line + 1, mark.column + 1) from None
        # Any other syntax error: ruamel reports it with its own, better message. Everything libyaml read before the
        # error was within bounds; past it, a crude bound keeps ruamel's scanner fast, and ruamel composes the whole
        # document (and meets the same error) before it builds a single value, so nothing is expanded.
        _crude_bound(text)
    except yaml.YAMLError:  # a character YAML forbids (ReaderError): ruamel says which, and where
        _crude_bound(text)
    finally:
        parser.dispose()


def _crude_bound(text: str) -> None:
    """Without a full parse, refuse more flow brackets than ruamel scans quickly (its cost grows with depth squared)."""
    opened = 0
    for index, char in enumerate(text):
        if char in "[{":
            opened += 1
            if opened > 4 * MAX_DEPTH:
                before = text[:index]
                line = before.count("\n") + 1
                raise PrescanProblem(
                    f"invalid YAML: more than {4 * MAX_DEPTH} '[' and '{{' in a file that does not parse",
                    line,
                    index - (before.rfind("\n") + 1) + 1,
                )


def _walk(parser: Any) -> None:
    # Each open collection: [values inside so far, anchor]. A value is a scalar, a collection or what an alias
    # stands for, counted in full, so x: [*a, *a, *a] with a 1,000-value anchor is 3,003 values.
    stack: list[list[Any]] = []
    sizes: dict[str, int] = {}
    total = 0
    while True:
        event = parser.get_event()
        if event is None or isinstance(event, yaml.StreamEndEvent):
            return
        mark = event.start_mark
        where = (mark.line + 1, mark.column + 1)
        tag = getattr(event, "tag", None)
        if tag is not None and not _implicit(event):
            raise PrescanProblem(
                f"YAML tag '{tag}' is not allowed: a policy holds plain values only, write it without the tag", *where
            )
        size = 0
        if isinstance(event, yaml.ScalarEvent):
            if event.implicit[0]:  # plain (unquoted): the only form ruamel resolves to a date
                _check_date(event.value, where)
            size = 1
            anchor = event.anchor
        elif isinstance(event, yaml.AliasEvent):
            size = sizes.get(event.anchor or "", 1)
            anchor = None
        elif isinstance(event, yaml.CollectionStartEvent):
            stack.append([1, event.anchor])
            if len(stack) > MAX_DEPTH:
                raise PrescanProblem(f"collections are nested more than {MAX_DEPTH} deep", *where)
            total += 1
            _check_total(total, where)
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            size, anchor = stack.pop()
            if anchor is not None:
                sizes[anchor] = size
            if stack:
                stack[-1][0] += size
            continue
        else:
            continue
        if anchor is not None:
            sizes[anchor] = size
        total += size
        _check_total(total, where)
        if stack:
            stack[-1][0] += size
            # An alias inside the collection it names would loop; ruamel refuses that itself, with a location.


def _implicit(event: Any) -> bool:
    """Whether a tag was resolved from the value (plain or quoted) rather than written (``!tag``)."""
    implicit = getattr(event, "implicit", None)
    if isinstance(implicit, tuple):
        return bool(implicit[0] or implicit[1])
    return bool(implicit)


def _check_total(total: int, where: tuple[int, int]) -> None:
    if total > MAX_VALUES:
        raise PrescanProblem(
            f"the policy holds more than {MAX_VALUES:,} values (YAML aliases expanded); "
            "list large member sets in a members file (group.members.file)",
            *where,
        )


def _check_date(value: str, where: tuple[int, int]) -> None:
    found = _TIMESTAMP.fullmatch(value)
    if found is None:
        return
    year, month, day = (int(part) for part in found.groups())
    try:
        dt.date(year, month, day)
    except ValueError:
        raise PrescanProblem(f"'{value}' is not a real date (YYYY-MM-DD)", *where) from None
