"""A recursive-descent parser for OPATH recipient filters, as an admin types them and as Exchange stores them.

Grammar (PowerShell's rules, which Exchange's filter parser follows: ``-and`` and ``-or`` have the *same*
precedence and group left to right, see about_Operator_Precedence)::

    filter     := expression END
    expression := unary (("-and" | "-or") unary)*
    unary      := "-not" unary | primary
    primary    := "(" expression ")" | comparison
    comparison := PROPERTY OPERATOR value
    value      := 'text' | "text" | $true | $false | $null | integer

Whole-filter wrappers are accepted as typed on a PowerShell command line (recipient-filters.md, "Additional OPATH
syntax information"): ``{ ... }``, ``"..."`` (with ``""`` and backtick escapes) and ``'...'`` (with ``''``).
Error positions are 0-based offsets into the text given to :func:`parse`, wrappers included.
"""

from __future__ import annotations

from audit.errors import FilterError
from audit.opath.nodes import And, Comparison, Filter, Not, Operator, Or, SystemValue, Value
from audit.opath.properties import canonical_name

_COMPARISON = {op.value[1:]: op for op in Operator}
_SYSTEM = {"true": SystemValue.TRUE, "false": SystemValue.FALSE, "null": SystemValue.NULL}
_EXPECT_OPERATOR = "a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike)"
_EXPECT_OPERAND = "a property name, '(' or -not"
_EXPECT_VALUE = "a value ('text', \"text\", $true, $false, $null or a number)"
_TYPOGRAPHIC_QUOTES = "\u2018\u2019\u201a\u201b\u201c\u201d\u201e"
# PowerShell's escape sequences in double-quoted strings (about_Special_Characters).
_BACKTICK = {"0": "\0", "a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_MAX_DEPTH = 128  # Exchange's own regenerated filters nest about 45 deep; deeper is a mistake or an attack


def parse(text: str) -> Filter:
    """Parse an OPATH filter, with or without a ``{ }``, ``" "`` or ``' '`` wrapper, into a Filter.

    Raises:
        FilterError: the text is not a valid filter; ``position`` is the 0-based offset of the problem.
    """
    inner, offsets = _unwrap(text)
    return _Parser(text, inner, offsets).parse()


def _unwrap(text: str) -> tuple[str, list[int]]:
    """Return the filter inside any whole-filter wrapper, and the original offset of each of its characters.

    The offsets list has one extra entry: the original position just past the filter's end.
    """
    stripped = text.strip()
    if not stripped:
        raise FilterError(f"empty filter; expected {_EXPECT_OPERAND}", text, len(text))
    start = len(text) - len(text.lstrip())
    end = start + len(stripped)  # one past the last non-blank character
    first = text[start]
    if first == "{":
        if text[end - 1] != "}" or end - 1 == start:
            raise FilterError(f"expected '}}' to close the '{{' at position {start}", text, end)
        return text[start + 1 : end - 1], list(range(start + 1, end))
    if first == '"':
        return _unquote_double(text, start, end)
    if first == "'":
        return _unquote_single(text, start, end)
    return text, list(range(len(text) + 1))


def _unquote_single(text: str, start: int, end: int) -> tuple[str, list[int]]:
    """Undo a PowerShell single-quoted wrapper: ``''`` stands for one quote; nothing is expanded."""
    chars: list[str] = []
    offsets: list[int] = []
    i = start + 1
    while i < end:
        ch = text[i]
        if ch == "'":
            if i + 1 < end and text[i + 1] == "'":
                chars.append("'")
                offsets.append(i)
                i += 2
                continue
            if i != end - 1:
                raise FilterError(
                    "unexpected text after the closing single quote of the filter; inside a single-quoted filter "
                    "write each quote of a value twice ('Name -eq ''x''')",
                    text,
                    i + 1,
                )
            offsets.append(i)
            return "".join(chars), offsets
        chars.append(ch)
        offsets.append(i)
        i += 1
    raise FilterError(f"expected a single quote closing the filter opened at position {start}", text, end)


def _unquote_double(text: str, start: int, end: int) -> tuple[str, list[int]]:
    """Undo a PowerShell double-quoted wrapper, refusing anything PowerShell would have expanded."""
    chars: list[str] = []
    offsets: list[int] = []
    i = start + 1
    while i < end:
        ch = text[i]
        if ch == '"':
            if i + 1 < end and text[i + 1] == '"':
                chars.append('"')
                offsets.append(i)
                i += 2
                continue
            if i != end - 1:
                raise FilterError("unexpected text after the closing double quote of the filter", text, i + 1)
            offsets.append(i)
            return "".join(chars), offsets
        if ch == "`":
            if i + 1 >= end:
                break
            # A backtick escapes the next character (`$true, `"); `n, `t and friends are control characters.
            chars.append(_BACKTICK.get(text[i + 1], text[i + 1]))
            offsets.append(i + 1)
            i += 2
            continue
        if ch == "$" and i + 1 < end and (text[i + 1].isalnum() or text[i + 1] in "_({"):
            raise FilterError(_expansion_message(text, i), text, i)
        chars.append(ch)
        offsets.append(i)
        i += 1
    raise FilterError(f"expected a double quote closing the filter opened at position {start}", text, end)


def _expansion_message(text: str, at: int) -> str:
    """Explain what PowerShell would have substituted at ``text[at]`` inside a double-quoted filter."""
    if text.startswith("(", at + 1):
        return (
            "PowerShell expands the subexpression $(...) inside a double-quoted filter before Exchange sees it; "
            "give exaudit the expanded filter text (for a group, its DistinguishedName)"
        )
    word = _word(text, at + 1)
    if word.lower() in _SYSTEM:
        return (
            f"PowerShell expands ${word} inside a double-quoted filter; write `${word} (with a backtick) or wrap "
            "the filter in braces or single quotes"
        )
    return (
        f"PowerShell expands the variable ${word} inside a double-quoted filter before Exchange sees it; "
        "give exaudit the expanded filter text"
    )


def _word(text: str, start: int = 0) -> str:
    """Return the identifier at ``text[start]`` (letters, digits, underscore), without copying the rest."""
    end = start
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return text[start:end]


def _is_name_start(ch: str) -> bool:
    return ch.isascii() and (ch.isalpha() or ch == "_")


def _is_name_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


class _Parser:
    """One parse of one filter text; ``pos`` indexes the unwrapped text."""

    def __init__(self, original: str, text: str, offsets: list[int]) -> None:
        self.original = original
        self.text = text
        self.offsets = offsets
        self.pos = 0
        self.depth = 0

    def parse(self) -> Filter:
        result = self._expression()
        self._skip_blanks()
        if self.pos < len(self.text):
            if self.text[self.pos] == ")":
                raise self._error("unexpected ')' with no matching '('")
            raise self._error(f"expected -and, -or or the end of the filter, found {self._found()}")
        return result

    # -- grammar -------------------------------------------------------------------------------------------

    def _expression(self) -> Filter:
        first = self._unary()
        current: str | None = None
        operands: list[Filter] = [first]
        while True:
            self._skip_blanks()
            word = self._peek_hyphen_word()
            if word not in ("and", "or"):
                break
            self.pos += 1 + len(word)
            right = self._unary()
            if current is None or word == current:
                operands.append(right)
            else:
                # PowerShell: -and and -or share one precedence level and group left to right.
                operands = [_junction(current, operands), right]
            current = word
        return first if current is None else _junction(current, operands)

    def _unary(self) -> Filter:
        self._skip_blanks()
        if self._peek_hyphen_word() == "not":
            self._enter()
            self.pos += 4
            operand = self._unary()
            self.depth -= 1
            return Not(operand)
        return self._primary()

    def _primary(self) -> Filter:
        self._skip_blanks()
        if self.pos >= len(self.text):
            raise self._error(f"expected {_EXPECT_OPERAND}; the filter ends here")
        ch = self.text[self.pos]
        if ch == "(":
            opened = self.pos
            self._enter()
            self.pos += 1
            inner = self._expression()
            self.depth -= 1
            self._skip_blanks()
            if self.pos >= len(self.text) or self.text[self.pos] != ")":
                raise self._error(
                    f"expected ')' to close the '(' at position {self.offsets[opened]}, found {self._found()}"
                )
            self.pos += 1
            return inner
        if _is_name_start(ch):
            return self._comparison()
        if ch in _TYPOGRAPHIC_QUOTES:
            raise self._error(
                f"expected {_EXPECT_OPERAND}, found the typographic quote {ch!r}; wrap the filter in plain quotes"
            )
        if ch == "!":
            raise self._error(f"expected {_EXPECT_OPERAND}; OPATH has no '!', write -not")
        raise self._error(f"expected {_EXPECT_OPERAND}, found {self._found()}")

    def _comparison(self) -> Comparison:
        start = self.pos
        while self.pos < len(self.text) and _is_name_char(self.text[self.pos]):
            self.pos += 1
        name = self.text[start : self.pos]
        self._skip_blanks()
        operator = self._operator(name)
        self._skip_blanks()
        value = self._value(operator)
        return Comparison(canonical_name(name), operator, value)

    def _operator(self, name: str) -> Operator:
        at = self.pos
        if at >= len(self.text):
            raise self._error(f"expected {_EXPECT_OPERATOR} after '{name}'; the filter ends here")
        if self.text[at] == "-":
            word = _word(self.text, at + 1)
            lowered = word.lower()
            if lowered in _COMPARISON:
                self.pos += 1 + len(word)
                return _COMPARISON[lowered]
            if lowered[:1] in ("c", "i") and lowered[1:] in _COMPARISON:
                raise self._error(
                    f"'-{word}' is not an OPATH operator: OPATH has no case-sensitive or explicitly "
                    f"case-insensitive variants; write '-{lowered[1:]}' (OPATH comparisons ignore case)"
                )
            if lowered in ("and", "or", "not"):
                raise self._error(f"expected {_EXPECT_OPERATOR} after '{name}', found '-{word}'")
            raise self._error(f"'-{word}' is not an OPATH operator; expected {_EXPECT_OPERATOR}")
        word = _word(self.text, at)
        if word.lower() in _COMPARISON:
            raise self._error(f"expected {_EXPECT_OPERATOR}: write '-{word.lower()}' with its hyphen")
        raise self._error(f"expected {_EXPECT_OPERATOR} after '{name}', found {self._found()}")

    def _value(self, operator: Operator) -> Value:
        if self.pos >= len(self.text):
            raise self._error(f"expected {_EXPECT_VALUE} after '{operator.value}'; the filter ends here")
        ch = self.text[self.pos]
        if ch == "'":
            return self._quoted("'")
        if ch == '"':
            return self._quoted('"')
        if ch == "$":
            word = _word(self.text, self.pos + 1)
            if word.lower() in _SYSTEM:
                self.pos += 1 + len(word)
                return _SYSTEM[word.lower()]
            raise self._error(
                f"'${word}' is a PowerShell variable, which Exchange cannot resolve inside a filter; "
                f"expected {_EXPECT_VALUE}"
            )
        if ch.isdigit() or (ch == "-" and self.text[self.pos + 1 : self.pos + 2].isdigit()):
            return self._number()
        if ch in _TYPOGRAPHIC_QUOTES:
            raise self._error(f"expected {_EXPECT_VALUE}, found the typographic quote {ch!r}; use a plain ' or \"")
        raise self._error(f"expected {_EXPECT_VALUE} after '{operator.value}', found {self._found()}")

    def _quoted(self, quote: str) -> str:
        opened = self.pos
        self.pos += 1
        chars: list[str] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == quote:
                if text[self.pos + 1 : self.pos + 2] == quote:
                    chars.append(quote)
                    self.pos += 2
                    continue
                self.pos += 1
                return "".join(chars)
            if quote == '"' and ch == "`" and text[self.pos + 1 : self.pos + 2] == '"':
                chars.append('"')
                self.pos += 2
                continue
            chars.append(ch)
            self.pos += 1
        raise self._error(
            f"unterminated text value opened at position {self.offsets[opened]}; expected a closing {quote}"
        )

    def _number(self) -> int:
        start = self.pos
        if self.text[self.pos] == "-":
            self.pos += 1
        while self.pos < len(self.text) and self.text[self.pos].isdigit():
            self.pos += 1
        if self.pos < len(self.text) and (_is_name_char(self.text[self.pos]) or self.text[self.pos] == "."):
            self.pos = start
            raise self._error(f"expected {_EXPECT_VALUE}, found {self._found()}; quote values that are not integers")
        return int(self.text[start : self.pos])

    # -- helpers -------------------------------------------------------------------------------------------

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self._error(f"the filter nests deeper than {_MAX_DEPTH} levels")

    def _skip_blanks(self) -> None:
        text = self.text
        while self.pos < len(text) and text[self.pos].isspace():
            self.pos += 1

    def _peek_hyphen_word(self) -> str | None:
        """Return the lower-cased word after a '-' at the cursor, or None."""
        if self.pos < len(self.text) and self.text[self.pos] == "-":
            return _word(self.text, self.pos + 1).lower()
        return None

    def _found(self) -> str:
        if self.pos >= len(self.text):
            return "the end of the filter"
        shown = self.text[self.pos]
        if _is_name_char(shown) or shown == "-":
            shown += _word(self.text, self.pos + 1)
        return repr(shown)

    def _error(self, message: str) -> FilterError:
        return FilterError(message, self.original, self.offsets[min(self.pos, len(self.offsets) - 1)])


def _junction(word: str, operands: list[Filter]) -> Filter:
    return And(tuple(operands)) if word == "and" else Or(tuple(operands))
