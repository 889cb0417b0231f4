"""Parser cases: every operator, quoting form, wrapper, escape and error position."""

from __future__ import annotations

import pytest

from audit.opath import And, Comparison, FilterError, Not, Operator, Or, SystemValue, parse

DN = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"
A = Comparison("Alias", Operator.EQ, "a")
B = Comparison("Department", Operator.EQ, "b")
C = Comparison("Company", Operator.EQ, "c")

PARSES = {
    # operators, each spelled as the docs write them and in other cases
    "eq": ("Alias -eq 'a'", A),
    "ne": ("Alias -ne 'a'", Comparison("Alias", Operator.NE, "a")),
    "lt": ("Name -lt 'm'", Comparison("Name", Operator.LT, "m")),
    "gt": ("Name -gt 'm'", Comparison("Name", Operator.GT, "m")),
    "like": ("Name -like 'ad*'", Comparison("Name", Operator.LIKE, "ad*")),
    "notlike": ("Name -notlike '*x'", Comparison("Name", Operator.NOTLIKE, "*x")),
    "operator-upper": ("Alias -EQ 'a'", A),
    "operator-mixed": ("Name -NotLike '*x'", Comparison("Name", Operator.NOTLIKE, "*x")),
    "and": ("Alias -eq 'a' -and Department -eq 'b'", And((A, B))),
    "or": ("Alias -eq 'a' -or Department -eq 'b'", Or((A, B))),
    "and-upper": ("Alias -eq 'a' -AND Department -eq 'b'", And((A, B))),
    "not-parens": ("-not(Alias -eq 'a')", Not(A)),
    "not-space": ("-not (Alias -eq 'a')", Not(A)),
    "not-comparison": ("-not Alias -eq 'a'", Not(A)),
    "not-not": ("-not -not Alias -eq 'a'", Not(Not(A))),
    "and-chain-is-one-node": ("Alias -eq 'a' -and Department -eq 'b' -and Company -eq 'c'", And((A, B, C))),
    # PowerShell: -and and -or have equal precedence and group left to right
    "or-then-and": ("Alias -eq 'a' -or Department -eq 'b' -and Company -eq 'c'", And((Or((A, B)), C))),
    "and-then-or": ("Alias -eq 'a' -and Department -eq 'b' -or Company -eq 'c'", Or((And((A, B)), C))),
    "parens-group": ("Alias -eq 'a' -or (Department -eq 'b' -and Company -eq 'c')", Or((A, And((B, C))))),
    "parens-nested-stay-nested": (
        "((Alias -eq 'a') -and (Department -eq 'b')) -and (Company -eq 'c')",
        And((And((A, B)), C)),
    ),
    "redundant-parens": ("((((Alias -eq 'a'))))", A),
    # property names: case-insensitive, canonical spelling kept; unknown names kept as typed
    "property-lower": ("memberofgroup -eq 'x'", Comparison("MemberOfGroup", Operator.EQ, "x")),
    "property-upper": ("CUSTOMATTRIBUTE7 -eq 'x'", Comparison("CustomAttribute7", Operator.EQ, "x")),
    "property-unknown": ("Frobnicate -eq 'x'", Comparison("Frobnicate", Operator.EQ, "x")),
    # values
    "single-quoted-escape": ("Name -eq 'O''Brien'", Comparison("Name", Operator.EQ, "O'Brien")),
    "single-quoted-empty": ("Name -eq ''", Comparison("Name", Operator.EQ, "")),
    "double-quoted": ('Name -eq "x y"', Comparison("Name", Operator.EQ, "x y")),
    "double-quoted-escape": ('Name -eq "say ""hi"""', Comparison("Name", Operator.EQ, 'say "hi"')),
    "double-quoted-backtick": ('Name -eq "say `"hi`""', Comparison("Name", Operator.EQ, 'say "hi"')),
    "double-quoted-holds-single": ('Name -eq "O\'Brien"', Comparison("Name", Operator.EQ, "O'Brien")),
    "single-quoted-holds-double": ("Name -eq 'a\"b'", Comparison("Name", Operator.EQ, 'a"b')),
    "true": (
        "HiddenFromAddressListsEnabled -eq $true",
        Comparison("HiddenFromAddressListsEnabled", Operator.EQ, SystemValue.TRUE),
    ),
    "false-upper": (
        "HiddenFromAddressListsEnabled -eq $FALSE",
        Comparison("HiddenFromAddressListsEnabled", Operator.EQ, SystemValue.FALSE),
    ),
    "null": ("Department -ne $null", Comparison("Department", Operator.NE, SystemValue.NULL)),
    "number": ("CustomAttribute1 -eq 42", Comparison("CustomAttribute1", Operator.EQ, 42)),
    "negative-number": ("CustomAttribute1 -gt -5", Comparison("CustomAttribute1", Operator.GT, -5)),
    "quoted-true-is-text": ("Name -eq '$true'", Comparison("Name", Operator.EQ, "$true")),
    "value-with-braces": ("Name -like 'SystemMailbox{*'", Comparison("Name", Operator.LIKE, "SystemMailbox{*")),
    "value-with-operators": ("Name -eq 'a -and b -or (c)'", Comparison("Name", Operator.EQ, "a -and b -or (c)")),
    "no-blanks": ("(Alias-eq'a')-and(Department-eq'b')", And((A, B))),
    "blanks-everywhere": ("  \t( Alias  -eq  'a' )\n -and\n ( Department -eq 'b' )  ", And((A, B))),
    # whole-filter wrappers as typed in PowerShell
    "braces": ("{MemberOfGroup -eq '" + DN + "'}", Comparison("MemberOfGroup", Operator.EQ, DN)),
    "braces-blanks": ("  { Alias -eq 'a' }  ", A),
    "braces-double-quoted-value": ('{Name -eq "x"}', Comparison("Name", Operator.EQ, "x")),
    "braces-system-value": (
        "{HiddenFromAddressListsEnabled -eq $true}",
        Comparison("HiddenFromAddressListsEnabled", Operator.EQ, SystemValue.TRUE),
    ),
    "double-quote-wrapper": ("\"MemberOfGroup -eq '" + DN + "'\"", Comparison("MemberOfGroup", Operator.EQ, DN)),
    "double-quote-wrapper-escaped-dollar": (
        '"HiddenFromAddressListsEnabled -eq `$true"',
        Comparison("HiddenFromAddressListsEnabled", Operator.EQ, SystemValue.TRUE),
    ),
    "double-quote-wrapper-doubled-quote": ('"Name -eq ""x"""', Comparison("Name", Operator.EQ, "x")),
    "double-quote-wrapper-lone-dollar": ("\"Name -like '$'\"", Comparison("Name", Operator.LIKE, "$")),
    "single-quote-wrapper": (
        "'HiddenFromAddressListsEnabled -eq $false'",
        Comparison("HiddenFromAddressListsEnabled", Operator.EQ, SystemValue.FALSE),
    ),
    "single-quote-wrapper-doubled": ("'Name -eq ''x'''", Comparison("Name", Operator.EQ, "x")),
    "single-quote-wrapper-escape-in-value": ("'Name -eq ''O''''Brien'''", Comparison("Name", Operator.EQ, "O'Brien")),
}


@pytest.mark.parametrize(("text", "expected"), list(PARSES.values()), ids=list(PARSES))
def test_parses(text: str, expected: object) -> None:
    assert parse(text) == expected


ERRORS = {
    # text, position (0-based, in the text as given), words the message must contain
    "empty": ("", 0, "expected a property name"),
    "blank": ("   ", 3, "expected a property name"),
    "case-sensitive-operator": ("Name -ceq 'x'", 5, "-ceq"),
    "explicit-insensitive-operator": ("Name -ilike 'x'", 5, "-like"),
    "unsupported-operator": ("Name -ge 'x'", 5, "not an OPATH operator"),
    "match-operator": ("Name -match 'x'", 5, "not an OPATH operator"),
    "operator-without-hyphen": ("Name eq 'x'", 5, "with its hyphen"),
    "equals-sign": ("Name = 'x'", 5, "expected a comparison operator"),
    "missing-operator": ("Name", 4, "expected a comparison operator"),
    "logical-where-comparison": ("Name -and 'x'", 5, "expected a comparison operator"),
    "missing-value": ("Name -eq", 8, "expected a value"),
    "bare-word-value": ("RecipientType -eq UserMailbox", 18, "expected a value"),
    "variable": ("Name -eq $user", 9, "PowerShell variable"),
    "number-with-unit": ("MaxSendSize -gt 50MB", 16, "quote values"),
    "decimal": ("CustomAttribute1 -eq 1.5", 21, "quote values"),
    "unterminated-single": ("Name -eq 'abc", 13, "closing '"),
    "unterminated-double": ('Name -eq "abc', 13, 'closing "'),
    "typographic-quote": ("Name -eq \u2019abc\u2019", 9, "typographic quote"),
    "unclosed-paren": ("(Name -eq 'x'", 13, "expected ')'"),
    "stray-close-paren": ("Name -eq 'x')", 12, "no matching '('"),
    "empty-parens": ("()", 1, "expected a property name"),
    "dangling-and": ("Name -eq 'x' -and", 17, "the filter ends here"),
    "starts-with-and": ("-and Name -eq 'x'", 0, "expected a property name"),
    "bang": ("!(Name -eq 'x')", 0, "-not"),
    "trailing-junk": ("Name -eq 'x' Alias -eq 'y'", 13, "expected -and, -or"),
    "two-values": ("Name -eq 'x' 'y'", 13, "expected -and, -or"),
    "unclosed-brace": ("{Name -eq 'x'", 13, "'}'"),
    "empty-braces": ("{}", 1, "expected a property name"),
    "inside-braces-position": ("{ Name -eq }", 11, "expected a value"),
    "double-wrapper-unclosed": ("\"Name -eq 'x'", 13, "double quote closing"),
    "double-wrapper-trailing": ("\"Name -eq 'x'\" -and", 14, "after the closing double quote"),
    "double-wrapper-true": ('"HiddenFromAddressListsEnabled -eq $true"', 35, "`$true"),
    "double-wrapper-variable": ("\"Name -eq '$user'\"", 11, "expands the variable $user"),
    "double-wrapper-subexpression": ("\"MemberOfGroup -eq '$($ADGroup.DistinguishedName)'\"", 20, "subexpression"),
    "double-wrapper-position-after-escape": ('"Name -eq ""x"" -and"', 20, "the filter ends here"),
    "single-wrapper-unclosed": ("'Name -eq ''x''", 15, "single quote closing"),
    "single-wrapper-undoubled-quote": ("'Name -eq 'x''", 11, "write each quote"),
    "single-wrapper-position": ("'Name -ceq ''x'''", 6, "-ceq"),
    "too-deep": ("(" * 200 + "Name -eq 'x'" + ")" * 200, 128, "nests deeper"),
}


@pytest.mark.parametrize(("text", "position", "words"), list(ERRORS.values()), ids=list(ERRORS))
def test_errors_name_what_was_expected_and_where(text: str, position: int, words: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse(text)
    error = caught.value
    assert error.position == position, error
    assert words in error.reason
    assert error.text == text


def test_error_message_points_at_the_character() -> None:
    with pytest.raises(FilterError, match=r"at character 6 in filter \"Name -ceq 'x'\""):
        parse("Name -ceq 'x'")


def test_double_quote_wrapper_backtick_escapes_are_powershells() -> None:
    assert parse("\"Notes -eq 'a`tb'\"") == Comparison("Notes", Operator.EQ, "a\tb")


def test_typographic_quotes_around_the_filter_get_a_hint() -> None:
    with pytest.raises(FilterError, match="typographic quote") as caught:
        parse("\u201cAlias -eq 'a'\u201d")
    assert caught.value.position == 0


def test_long_filters_parse_in_linear_time() -> None:
    # 20,000 operands: quadratic slicing would take minutes; this parses in well under a second.
    text = " -or ".join(f"Alias -eq 'user{i}'" for i in range(20_000))
    f = parse(text)
    assert isinstance(f, Or)
    assert len(f.operands) == 20_000
