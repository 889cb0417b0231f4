"""Every parse error in full, as an admin reads it: the whole reason, and the character it points at.

tests/opath/test_parse.py checks that each error names what was expected; this table holds the complete text and
the position, so a changed hint, a lost quote in the ``found ...`` part or a position that drifts inside a
``"..."`` or ``'...'`` wrapper (doubled quotes, backtick escapes) fails a test.
"""

from __future__ import annotations

import pytest

from audit.errors import FilterError
from audit.opath import parse

MESSAGES = {
    "empty": ("", 0, "empty filter; expected a property name, '(' or -not"),
    "blank": ("   ", 3, "empty filter; expected a property name, '(' or -not"),
    "case-sensitive-operator": (
        "Name -ceq 'x'",
        5,
        "'-ceq' is not an OPATH operator: OPATH has no case-sensitive or explicitly "
        "case-insensitive variants; write '-eq' (OPATH comparisons ignore case)",
    ),
    "explicit-insensitive-operator": (
        "Name -ilike 'x'",
        5,
        "'-ilike' is not an OPATH operator: OPATH has no case-sensitive or explicitly "
        "case-insensitive variants; write '-like' (OPATH comparisons ignore case)",
    ),
    "unsupported-operator": (
        "Name -ge 'x'",
        5,
        "'-ge' is not an OPATH operator; expected a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike)",
    ),
    "match-operator": (
        "Name -match 'x'",
        5,
        "'-match' is not an OPATH operator; expected a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike)",
    ),
    "operator-without-hyphen": (
        "Name eq 'x'",
        5,
        "expected a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike): write '-eq' with its hyphen",
    ),
    "equals-sign": (
        "Name = 'x'",
        5,
        "expected a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike) after 'Name', found '='",
    ),
    "missing-operator": (
        "Name",
        4,
        "expected a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike) after 'Name'; the filter ends here",
    ),
    "logical-where-comparison": (
        "Name -and 'x'",
        5,
        "expected a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike) after 'Name', found '-and'",
    ),
    "missing-value": (
        "Name -eq",
        8,
        "expected a value ('text', \"text\", $true, $false, $null or a number) after '-eq'; the filter ends here",
    ),
    "bare-word-value": (
        "RecipientType -eq UserMailbox",
        18,
        "expected a value ('text', \"text\", $true, $false, $null or a number) after '-eq', found 'UserMailbox'",
    ),
    "variable": (
        "Name -eq $user",
        9,
        "'$user' is a PowerShell variable, which Exchange cannot resolve inside a filter; expected "
        "a value ('text', \"text\", $true, $false, $null or a number)",
    ),
    "number-with-unit": (
        "MaxSendSize -gt 50MB",
        16,
        "expected a value ('text', \"text\", $true, $false, $null or a number), found '50MB'; quote "
        "values that are not integers",
    ),
    "decimal": (
        "CustomAttribute1 -eq 1.5",
        21,
        "expected a value ('text', \"text\", $true, $false, $null or a number), found '1'; quote "
        "values that are not integers",
    ),
    "unterminated-single": ("Name -eq 'abc", 13, "unterminated text value opened at position 9; expected a closing '"),
    "unterminated-double": ('Name -eq "abc', 13, 'unterminated text value opened at position 9; expected a closing "'),
    "typographic-quote": (
        "Name -eq \u2019abc\u2019",
        9,
        "expected a value ('text', \"text\", $true, $false, $null or a number), found the typographic"
        " quote '\u2019'; use a plain ' or \"",
    ),
    "unclosed-paren": ("(Name -eq 'x'", 13, "expected ')' to close the '(' at position 0, found the end of the filter"),
    "stray-close-paren": ("Name -eq 'x')", 12, "unexpected ')' with no matching '('"),
    "empty-parens": ("()", 1, "expected a property name, '(' or -not, found ')'"),
    "dangling-and": ("Name -eq 'x' -and", 17, "expected a property name, '(' or -not; the filter ends here"),
    "starts-with-and": ("-and Name -eq 'x'", 0, "expected a property name, '(' or -not, found '-and'"),
    "bang": ("!(Name -eq 'x')", 0, "expected a property name, '(' or -not; OPATH has no '!', write -not"),
    "trailing-junk": ("Name -eq 'x' Alias -eq 'y'", 13, "expected -and, -or or the end of the filter, found 'Alias'"),
    "two-values": ("Name -eq 'x' 'y'", 13, 'expected -and, -or or the end of the filter, found "\'"'),
    "unclosed-brace": ("{Name -eq 'x'", 13, "expected '}' to close the '{' at position 0"),
    "empty-braces": ("{}", 1, "expected a property name, '(' or -not; the filter ends here"),
    "inside-braces-position": (
        "{ Name -eq }",
        11,
        "expected a value ('text', \"text\", $true, $false, $null or a number) after '-eq'; the filter ends here",
    ),
    "double-wrapper-unclosed": (
        "\"Name -eq 'x'",
        13,
        "expected a double quote closing the filter opened at position 0",
    ),
    "double-wrapper-trailing": (
        "\"Name -eq 'x'\" -and",
        14,
        "unexpected text after the closing double quote of the filter",
    ),
    "double-wrapper-true": (
        '"HiddenFromAddressListsEnabled -eq $true"',
        35,
        "PowerShell expands $true inside a double-quoted filter; write `$true (with a backtick) or "
        "wrap the filter in braces or single quotes",
    ),
    "double-wrapper-variable": (
        "\"Name -eq '$user'\"",
        11,
        "PowerShell expands the variable $user inside a double-quoted filter before Exchange sees "
        "it; give exaudit the expanded filter text",
    ),
    "double-wrapper-subexpression": (
        "\"MemberOfGroup -eq '$($ADGroup.DistinguishedName)'\"",
        20,
        "PowerShell expands the subexpression $(...) inside a double-quoted filter before Exchange "
        "sees it; give exaudit the expanded filter text (for a group, its DistinguishedName)",
    ),
    "double-wrapper-position-after-escape": (
        '"Name -eq ""x"" -and"',
        20,
        "expected a property name, '(' or -not; the filter ends here",
    ),
    "single-wrapper-unclosed": (
        "'Name -eq ''x''",
        15,
        "expected a single quote closing the filter opened at position 0",
    ),
    "single-wrapper-undoubled-quote": (
        "'Name -eq 'x''",
        11,
        "unexpected text after the closing single quote of the filter; inside a single-quoted "
        "filter write each quote of a value twice ('Name -eq ''x''')",
    ),
    "operator-starting-with-c": (
        "Name -contains 'x'",
        5,
        "'-contains' is not an OPATH operator; expected a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike)",
    ),
    "bare-word-with-digit": (
        "Name -eq a1",
        9,
        "expected a value ('text', \"text\", $true, $false, $null or a number) after '-eq', found 'a1'",
    ),
    "double-wrapper-variable-with-underscore": (
        "\"Name -eq '$ad_group'\"",
        11,
        "PowerShell expands the variable $ad_group inside a double-quoted filter before Exchange sees it; give exaudit "
        "the expanded filter text",
    ),
    "or-where-operator": (
        "Name -or 'x'",
        5,
        "expected a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike) after 'Name', found '-or'",
    ),
    "not-where-operator": (
        "Name -not 'x'",
        5,
        "expected a comparison operator (-eq, -ne, -lt, -gt, -like, -notlike) after 'Name', found '-not'",
    ),
    "double-wrapper-position": (
        '"Name -ceq 1"',
        6,
        "'-ceq' is not an OPATH operator: OPATH has no case-sensitive or explicitly case-insensitive variants; "
        "write '-eq' (OPATH comparisons ignore case)",
    ),
    "single-wrapper-position-at-the-end": (
        "'Name -eq'",
        9,
        "expected a value ('text', \"text\", $true, $false, $null or a number) after '-eq'; the filter ends here",
    ),
    "single-wrapper-position": (
        "'Name -ceq ''x'''",
        6,
        "'-ceq' is not an OPATH operator: OPATH has no case-sensitive or explicitly "
        "case-insensitive variants; write '-eq' (OPATH comparisons ignore case)",
    ),
    "double-wrapper-ends-in-doubled-quote": (
        '"Name -eq \'x\'""',
        15,
        "expected a double quote closing the filter opened at position 0",
    ),
    "double-wrapper-doubled-quote-position": (
        '"Name -eq \'a\' """',
        14,
        "expected -and, -or or the end of the filter, found '\"'",
    ),
    "single-wrapper-doubled-quote-position": (
        "'Name -eq ''a'' '''",
        16,
        'expected -and, -or or the end of the filter, found "\'"',
    ),
    "double-wrapper-ends-in-backtick": (
        "\"Name -eq 'x'`",
        14,
        "expected a double quote closing the filter opened at position 0",
    ),
    "double-wrapper-escaped-position": (
        "\"Name -eq 'x' `$\"",
        15,
        "expected -and, -or or the end of the filter, found '$'",
    ),
    "double-wrapper-ends-in-dollar": (
        '"Name -eq $',
        11,
        "expected a double quote closing the filter opened at position 0",
    ),
    "double-wrapper-unclosed-variable": (
        '"Name -eq $x',
        10,
        "PowerShell expands the variable $x inside a double-quoted filter before Exchange sees it; "
        "give exaudit the expanded filter text",
    ),
    "double-wrapper-one-letter-variable": (
        "\"Name -eq '$a'\"",
        11,
        "PowerShell expands the variable $a inside a double-quoted filter before Exchange sees it; "
        "give exaudit the expanded filter text",
    ),
    "double-wrapper-false": (
        '"HiddenFromAddressListsEnabled -eq $False"',
        35,
        "PowerShell expands $False inside a double-quoted filter; write `$False (with a backtick) "
        "or wrap the filter in braces or single quotes",
    ),
    "stray-dollar": ("Name -eq 'x' $y", 13, "expected -and, -or or the end of the filter, found '$'"),
}


@pytest.mark.parametrize(("text", "position", "reason"), list(MESSAGES.values()), ids=list(MESSAGES))
def test_parse_error_reason_and_position(text: str, position: int, reason: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse(text)
    assert (caught.value.reason, caught.value.position) == (reason, position)
    shown = f" in filter {text!r}" if text else ""
    assert str(caught.value) == f"{reason} at character {position + 1}{shown}"
