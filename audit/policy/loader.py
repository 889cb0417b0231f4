"""Load policy files: YAML with line and column for every key, validated into :class:`MailboxAccessPolicy`.

Every failure (unreadable file, YAML syntax, duplicate key, wrong type, unknown key, semantic rule, missing
members file) becomes one :class:`~audit.errors.PolicyError` naming the file, line and column of the first
problem, and how many more problems there were.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.tokens import TagToken

from audit.errors import PolicyError
from audit.findings import SourceLocation
from audit.policy.files import (
    MAX_MEMBERS_BYTES,
    MAX_POLICY_BYTES,
    UnreadableFile,
    contained_path,
    decode_utf8,
    parse_members,
    read_regular_file,
)
from audit.policy.model import (
    KIND,
    PATTERN_NAMES,
    SUPPORTED_API_VERSIONS,
    MailboxAccessPolicy,
    Members,
    PolicyValueError,
)
from audit.policy.prescan import MAX_VALUES, PrescanProblem, prescan

Loc = tuple[str | int, ...]

POLICY_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class MemberExpectation:
    """The group members a policy expects, resolved at load time; addresses are lower-cased."""

    exactly: frozenset[str] | None
    at_least: frozenset[str]
    at_most: frozenset[str] | None
    source: str  # "policy", the members file's path, or "none" when the policy has no group

    def allows(self, address: str) -> bool:
        """Whether the address may be a member."""
        key = address.casefold()
        if self.exactly is not None:
            return key in self.exactly
        return self.at_most is None or key in self.at_most

    @property
    def required(self) -> frozenset[str]:
        """The addresses that must be members."""
        return self.exactly if self.exactly is not None else self.at_least


NO_GROUP = MemberExpectation(exactly=None, at_least=frozenset(), at_most=None, source="none")


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A validated policy, with its members resolved and the line and column of every key."""

    path: Path
    spec: MailboxAccessPolicy
    expected_members: MemberExpectation
    locations: Mapping[str, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        """The policy's metadata.name."""
        return self.spec.metadata.name

    def location(self, dotted: str) -> SourceLocation:
        """Where a key was written, e.g. ``group.members.exactly[2]``; falls back to the nearest parent, then line 1."""
        key = dotted
        while key:
            found = self.locations.get(key)
            if found is not None:
                return SourceLocation(path=str(self.path), line=found[0], column=found[1])
            key = _parent(key)
        return SourceLocation(path=str(self.path), line=1, column=1)


def load_policy(path: Path) -> LoadedPolicy:
    """Read, parse and validate one policy file."""
    text = _read_text(path)
    data, locations, values = _parse_yaml(text, path)
    _check_header(data, path, locations)
    spec = _validate(data, path, locations, _ValuePositions(text, values))
    members = _resolve_members(spec, path, locations)
    return LoadedPolicy(path=path, spec=spec, expected_members=members, locations=locations)


def load_policies(paths: Sequence[Path]) -> list[LoadedPolicy]:
    """Load policy files (a directory stands for its *.yaml and *.yml files); names must be unique."""
    files: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in POLICY_SUFFIXES and p.is_file())
            if not found:
                raise PolicyError("directory holds no *.yaml or *.yml policy", path)
        else:
            found = [path]
        for file in found:
            # The same file named twice (a directory and one of its files) is one policy, not a name clash.
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                files.append(file)
    if not files:
        raise PolicyError("no policy file given")
    policies: list[LoadedPolicy] = []
    by_name: dict[str, LoadedPolicy] = {}
    for file in files:
        policy = load_policy(file)
        other = by_name.get(policy.name)
        if other is not None:
            where = policy.location("metadata.name")
            raise PolicyError(
                f"policy name '{policy.name}' is already used by {other.path}; names must be unique",
                file,
                where.line,
                where.column,
            )
        by_name[policy.name] = policy
        policies.append(policy)
    return policies


# --- reading and YAML -------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        raw = read_regular_file(path, MAX_POLICY_BYTES)
    except UnreadableFile as exc:
        raise PolicyError(f"policy file {exc.reason}", path) from None
    return decode_utf8(raw, path)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def _parse_yaml(text: str, path: Path) -> tuple[dict[str, Any], dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    try:
        prescan(text)
    except PrescanProblem as problem:
        raise PolicyError(problem.message, path, problem.line, problem.column) from None
    try:
        document = _yaml().load(text)
    except DuplicateKeyError as exc:
        raise _duplicate_key_error(exc, text, path) from exc
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, path) from exc
    except ReaderError as exc:
        # A character YAML does not allow anywhere (a NUL, most control characters); position counts characters.
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise PolicyError(
            f"invalid YAML: character U+{code:04X} is not allowed in a YAML file", path, line, column
        ) from exc
    except YAMLError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PolicyError(f"invalid YAML: {first_line}", path) from exc
    except Exception as exc:
        raise _tag_error(exc, text, path) from exc
    if document is None:
        raise PolicyError(f"the file is empty; a policy starts with 'apiVersion: {SUPPORTED_API_VERSIONS[-1]}'", path)
    if not isinstance(document, CommentedMap):
        raise PolicyError(
            f"a policy is a mapping of keys (apiVersion, kind, ...), not a {_yaml_type(document)}", path, 1, 1
        )
    flattener = _Flattener(path)
    plain = flattener.plain(document, "", (1, 1))
    assert isinstance(plain, dict)
    return plain, flattener.locations, flattener.values


def _syntax_error(exc: MarkedYAMLError, path: Path) -> PolicyError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    message = f"invalid YAML: {problem}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} at {exc.context_mark.line + 1}:{exc.context_mark.column + 1})"
    if "\t" in problem or "'\\t'" in problem:
        message += "; indent with spaces, not tabs"
    if mark is None:
        return PolicyError(message, path)
    return PolicyError(message, path, mark.line + 1, mark.column + 1)


def _tag_error(exc: Exception, text: str, path: Path) -> PolicyError:
    """Point at the explicit tag (``!!int x``) whose constructor failed; a policy needs none."""
    try:
        tags = [token for token in _yaml().scan(text) if isinstance(token, TagToken)]
    except YAMLError:  # pragma: no cover - load got past the scanner already
        tags = []
    if tags:
        mark = tags[0].start_mark
        return PolicyError(
            "invalid YAML: a value with an explicit tag (such as !!int) could not be read; "
            "write plain values, a policy needs no tags",
            path,
            mark.line + 1,
            mark.column + 1,
        )
    if isinstance(exc, RecursionError):
        return PolicyError("invalid YAML: collections are nested too deeply", path)
    return PolicyError(f"invalid YAML: {type(exc).__name__}: {exc}", path)


def _duplicate_key_error(exc: DuplicateKeyError, text: str, path: Path) -> PolicyError:
    """Name both places a key was written; ruamel only marks the mapping and the second key."""
    second = exc.problem_mark
    assert second is not None
    first: tuple[int, int] | None = None
    key_text = ""
    try:
        root = _yaml().compose(text)
    except YAMLError:  # pragma: no cover - compose is what load already did successfully
        root = None
    for node in _walk_nodes(root):
        if not isinstance(node, MappingNode):
            continue
        for key_node, _ in node.value:
            if key_node.start_mark.line == second.line and key_node.start_mark.column == second.column:
                key_text = str(key_node.value)
                earlier = [k for k, _ in node.value if k.value == key_node.value and k is not key_node]
                if earlier:
                    first = (earlier[0].start_mark.line + 1, earlier[0].start_mark.column + 1)
    name = f" '{key_text}'" if key_text else ""
    where = f" (first written at line {first[0]}, column {first[1]})" if first else ""
    return PolicyError(
        f"duplicate key{name}{where}; a key may appear only once in a mapping",
        path,
        second.line + 1,
        second.column + 1,
    )


def _walk_nodes(node: Node | None) -> Iterator[Node]:
    if node is None:
        return
    stack = [node]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, MappingNode):
            for key_node, value_node in current.value:
                stack.extend((key_node, value_node))
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)


@dataclass(slots=True)
class _Flattener:
    """Turns ruamel's round-trip objects into plain dicts, lists and scalars, noting where each key and item is."""

    path: Path
    locations: dict[str, tuple[int, int]] = field(default_factory=dict)
    values: dict[str, tuple[int, int]] = field(default_factory=dict)
    count: int = 0
    open_ids: set[int] = field(default_factory=set)

    def plain(self, value: Any, dotted: str, at: tuple[int, int]) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise PolicyError(
                f"the policy holds more than {MAX_VALUES:,} values once YAML aliases are expanded; "
                "list large member sets in a members file",
                self.path,
                *at,
            )
        if not isinstance(value, CommentedMap | CommentedSeq):
            return _scalar(value)
        if id(value) in self.open_ids:
            raise PolicyError("a YAML alias refers to a collection that contains it", self.path, *at)
        self.open_ids.add(id(value))
        try:
            return self._mapping(value, dotted) if isinstance(value, CommentedMap) else self._sequence(value, dotted)
        finally:
            self.open_ids.discard(id(value))

    def _mapping(self, mapping: CommentedMap, dotted: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key in mapping:
            line, column, value_line, value_column = _key_and_value_position(mapping, key)
            if not isinstance(key, str):
                raise PolicyError(f"keys are names, not a {_yaml_type(key)} ({key!r})", self.path, line + 1, column + 1)
            child = f"{dotted}.{key}" if dotted else key
            self.locations[child] = (line + 1, column + 1)
            self.values[child] = (value_line + 1, value_column + 1)
            result[key] = self.plain(mapping[key], child, (line + 1, column + 1))
        return result

    def _sequence(self, sequence: CommentedSeq, dotted: str) -> list[Any]:
        items: list[Any] = []
        for index, item in enumerate(sequence):
            child = f"{dotted}[{index}]"
            line, column = sequence.lc.item(index)
            self.locations[child] = (line + 1, column + 1)
            self.values[child] = (line + 1, column + 1)
            items.append(self.plain(item, child, (line + 1, column + 1)))
        return items


def _scalar(value: Any) -> Any:
    """A plain Python scalar for ruamel's scalar subclasses (ScalarFloat, LiteralScalarString, ...)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _key_and_value_position(mapping: CommentedMap, key: Any) -> tuple[int, int, int, int]:
    """0-based line and column of a key and of its value; a key merged in with ``<<:`` is where it was written."""
    own = mapping.lc.data.get(key)
    if own is not None:
        return own[0], own[1], own[2], own[3]
    for source in getattr(mapping, "merge", None) or ():
        if isinstance(source, CommentedMap) and key in source:
            return _key_and_value_position(source, key)
    return mapping.lc.line, mapping.lc.col, mapping.lc.line, mapping.lc.col


def _yaml_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


# --- validation ---------------------------------------------------------------------------------------------------


def _check_header(data: dict[str, Any], path: Path, locations: Mapping[str, tuple[int, int]]) -> None:
    """Refuse another apiVersion or kind before validating the rest against a schema that is not theirs."""
    supported = ", ".join(SUPPORTED_API_VERSIONS)
    if "apiVersion" not in data:
        raise PolicyError(f"missing 'apiVersion'; supported: {supported}", path, 1, 1)
    version = data["apiVersion"]
    if version not in SUPPORTED_API_VERSIONS:
        line, column = locations["apiVersion"]
        raise PolicyError(f"unsupported apiVersion {version!r}; this exaudit supports {supported}", path, line, column)
    if "kind" not in data:
        raise PolicyError(f"missing 'kind'; expected 'kind: {KIND}'", path, 1, 1)
    if data["kind"] != KIND:
        line, column = locations["kind"]
        raise PolicyError(f"unsupported kind {data['kind']!r}; expected {KIND!r}", path, line, column)


@dataclass(frozen=True, slots=True)
class _Problem:
    loc: Loc
    message: str
    offset: int | None = None  # character inside the text value at loc, when the rule knows it
    value: str | None = None  # that text value
    missing: bool = False  # a required key is not written


def _merge_missing(problems: list[_Problem]) -> list[_Problem]:
    """One problem per mapping that lacks required keys, naming them all."""
    kept: list[_Problem] = []
    absent: dict[Loc, list[str]] = {}
    for problem in problems:
        if problem.missing:
            absent.setdefault(problem.loc[:-1], []).append(str(problem.loc[-1]))
        else:
            kept.append(problem)
    for parent, names in absent.items():
        where = dotted_path(parent) or "the top level"
        if len(names) == 1:
            message = f"missing required key '{names[0]}' in {where}"
        else:
            listed = ", ".join(f"'{name}'" for name in names[:-1]) + f" and '{names[-1]}'"
            message = f"missing required keys {listed} in {where}"
        kept.append(_Problem((*parent, names[0]), message, missing=True))
    return kept


@dataclass(frozen=True, slots=True)
class _ValuePositions:
    """Where each scalar value starts, to point inside a value (an OPATH filter) rather than at its key."""

    text: str
    values: Mapping[str, tuple[int, int]]

    def inside(self, loc: Loc, value: str, offset: int) -> tuple[int, int] | None:
        """Line and column of character ``offset`` of ``value``, if the value is written verbatim on one line."""
        found = self.values.get(dotted_path(loc))
        if found is None:
            return None
        line, column = found
        lines = self.text.splitlines()
        if line > len(lines):
            return None
        source = lines[line - 1]
        start = column if source[column - 1 : column] in {'"', "'"} else column - 1
        # Escapes ('' or \") and block scalars shift characters: then the value's own position is the honest answer.
        if source[start : start + len(value)] != value:
            return None
        return line, start + offset + 1


def _validate(
    data: dict[str, Any], path: Path, locations: Mapping[str, tuple[int, int]], positions: _ValuePositions
) -> MailboxAccessPolicy:
    try:
        return MailboxAccessPolicy.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        problems = _merge_missing([_describe(error) for error in exc.errors()])
    # What is written wrong comes before what is not written yet, each in file order: the admin fixes the file
    # top to bottom, and a half-written policy should first hear about what it already says.
    problems.sort(key=lambda problem: (problem.missing, _position(problem.loc, locations)))
    first = problems[0]
    line, column = _position(first.loc, locations)
    if first.offset is not None and first.value is not None:
        line, column = positions.inside(first.loc, first.value, first.offset) or (line, column)
    message = first.message
    more = len(problems) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    raise PolicyError(message, path, line, column)


def _position(loc: Loc, locations: Mapping[str, tuple[int, int]]) -> tuple[int, int]:
    key = dotted_path(loc)
    while key:
        if key in locations:
            return locations[key]
        key = _parent(key)
    return (1, 1)


def dotted_path(loc: Loc) -> str:
    """``("group", "members", "exactly", 2)`` -> ``"group.members.exactly[2]"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _parent(dotted: str) -> str:
    if dotted.endswith("]"):
        return dotted[: dotted.rindex("[")]
    return dotted.rpartition(".")[0]


def _describe(error: ErrorDetails) -> _Problem:
    """One pydantic error as (where, plain message)."""
    loc: Loc = tuple(part for part in error["loc"] if part != "[key]")
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    parent = dotted_path(loc[:-1]) or "the top level"
    name = loc[-1] if loc else ""
    where = dotted_path(loc) or "the policy"
    if kind == "value_error" and isinstance(ctx.get("error"), PolicyValueError):
        failure: PolicyValueError = ctx["error"]
        full = (*loc, *failure.path)
        text = value if isinstance(value, str) else None
        return _Problem(full, failure.message if not loc else f"{where}: {failure.message}", failure.offset, text)
    if kind == "missing":
        return _Problem(loc, f"missing required key '{name}' in {parent}", missing=True)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.6)
        if not close:
            close = [key for key in allowed if key.casefold() == str(name).casefold().replace("_", "")]
        hint = f"; did you mean '{close[0]}'?" if close else f"; allowed here: {', '.join(allowed)}"
        return _Problem(loc, f"unknown key '{name}' in {parent}{hint}")
    if kind == "string_pattern_mismatch":
        wanted = PATTERN_NAMES.get(str(ctx.get("pattern")), f"text matching {ctx.get('pattern')}")
        return _Problem(loc, f"{where}: {value!r} is not {wanted}")
    if kind in {"bool_type", "bool_parsing"}:
        return _Problem(loc, f"{where} must be true or false, not {_shown(value)}")
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return _Problem(loc, f"{where} must be a whole number, not {_shown(value)}")
    if kind == "string_type":
        return _Problem(loc, f"{where} must be text, not {_shown(value)}")
    if kind in {"tuple_type", "list_type"}:
        return _Problem(loc, f"{where} must be a list, not {_shown(value)}")
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return _Problem(loc, f"{where} must be a mapping of keys, not {_shown(value)}")
    if kind in {"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"}:
        return _Problem(loc, f"{where} must be a date written YYYY-MM-DD, not {_shown(value)}")
    if kind == "string_too_short":
        return _Problem(loc, f"{where} must not be empty")
    if kind == "too_short":
        return _Problem(loc, f"{where} must list at least {ctx.get('min_length', 1)} item(s)")
    if kind in {"literal_error", "enum"}:
        return _Problem(loc, f"{where} must be {ctx.get('expected')}, not {_shown(value)}")
    if kind == "greater_than_equal":
        return _Problem(loc, f"{where} must be {ctx.get('ge')} or more, not {_shown(value)}")
    return _Problem(loc, f"{where}: {error['msg']}")


def _shown(value: Any) -> str:
    if value is None:
        return "null (nothing is written)"
    if isinstance(value, dict | list):
        return f"a {_yaml_type(value)}"
    return f"{value!r} (a {_yaml_type(value)})"


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys allowed in the mapping at ``loc``, found by walking the model's fields."""
    model: type[BaseModel] = MailboxAccessPolicy
    annotation: Any = model
    for part in loc:
        if isinstance(part, int):
            annotation = _item_type(annotation)
            continue
        target = _model_in(annotation)
        if target is None:
            return []
        fields = {info.alias or name: info for name, info in target.model_fields.items()}
        info = fields.get(part)
        if info is None:
            return []
        annotation = info.annotation
    target = _model_in(annotation)
    if target is None:
        return []
    return [info.alias or name for name, info in target.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _item_type(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in {typing.Union, types.UnionType}:
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _item_type(arg)
    if origin in {tuple, list}:
        return typing.get_args(annotation)[0]
    return annotation


# --- members ------------------------------------------------------------------------------------------------------


def _resolve_members(
    spec: MailboxAccessPolicy, path: Path, locations: Mapping[str, tuple[int, int]]
) -> MemberExpectation:
    if spec.group is None:
        return NO_GROUP
    members: Members = spec.group.members
    if members.file is not None:
        return _members_from_file(members.file, path, locations)
    if members.exactly is not None:
        return MemberExpectation(
            exactly=frozenset(a.casefold() for a in members.exactly),
            at_least=frozenset(),
            at_most=None,
            source="policy",
        )
    return MemberExpectation(
        exactly=None,
        at_least=frozenset(a.casefold() for a in members.at_least or ()),
        at_most=frozenset(a.casefold() for a in members.at_most) if members.at_most is not None else None,
        source="policy",
    )


def _members_from_file(name: str, policy_path: Path, locations: Mapping[str, tuple[int, int]]) -> MemberExpectation:
    """Read exactly the members from a file beside the policy; errors point at the `file:` key, then the file."""
    line, column = locations.get("group.members.file", (1, 1))
    try:
        file = contained_path(policy_path.parent, name)
        raw = read_regular_file(file, MAX_MEMBERS_BYTES)
    except UnreadableFile as exc:
        raise PolicyError(f"members file '{name}' {exc.reason}", policy_path, line, column) from None
    addresses = parse_members(decode_utf8(raw, file), file)
    if not addresses:
        raise PolicyError(
            f"members file '{name}' lists no addresses; write one SMTP address per line", policy_path, line, column
        )
    return MemberExpectation(exactly=frozenset(addresses), at_least=frozenset(), at_most=None, source=str(file))
