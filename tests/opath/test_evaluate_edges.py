"""Evaluation edge cases: the whole filter in every compile error, and values at the edges of each property kind.

tests/opath/test_evaluate.py holds the operators and properties one by one; these cases add what an admin sees
when a filter cannot be evaluated (the reason and the whole stored filter it came from, so a policy error can be
traced to its scope), and recipients whose values sit at the edges: no primary address, a line break in a
value, a proxy address of another type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from audit.opath import EVALUABLE_PROPERTIES, FilterError, compile_filter, matches, parse, to_text
from audit.snapshot import Recipient

# One evaluable comparison beside the faulty one: the error must quote the whole filter, not only the bad part.
_BESIDE = "(Alias -eq 'ad.viseur') -and "

COMPILE_ERRORS = {
    "boolean-like": (
        "(HiddenFromAddressListsEnabled -like 'T*')",
        "'HiddenFromAddressListsEnabled' is a boolean; only -eq and -ne compare it",
    ),
    "boolean-lt": (
        "(HiddenFromAddressListsEnabled -lt $true)",
        "'HiddenFromAddressListsEnabled' is a boolean; only -eq and -ne compare it",
    ),
    "boolean-text": (
        "(HiddenFromAddressListsEnabled -eq 'yes')",
        "'HiddenFromAddressListsEnabled' is a boolean; compare it with $true or $false",
    ),
    "text-with-false": ("(Alias -eq $false)", "'Alias' holds text; compare it with a quoted value, not $false"),
    "gt-null": ("(Alias -gt $null)", "only -eq and -ne compare with $null, not -gt"),
    "unknown": ("(Frobnicate -eq 'x')", "unknown property 'Frobnicate'"),
    "typo": ("(alias2 -eq 'x')", "unknown property 'alias2'; did you mean 'Alias'?"),
    "known-not-recorded": (
        "(Manager -eq 'CN=x')",
        "'Manager' is a filterable Exchange property, but the snapshot does not record it, so exaudit cannot "
        f"evaluate it; evaluable properties: {', '.join(sorted(EVALUABLE_PROPERTIES))}",
    ),
}


@pytest.mark.parametrize(("comparison", "reason"), list(COMPILE_ERRORS.values()), ids=list(COMPILE_ERRORS))
def test_compile_error_gives_the_reason_and_the_whole_filter(comparison: str, reason: str) -> None:
    f = parse(_BESIDE + comparison)
    with pytest.raises(FilterError) as caught:
        compile_filter(f)
    assert caught.value.reason == reason
    assert caught.value.text == to_text(f)
    assert caught.value.position is None
    assert str(caught.value) == f"{reason} in filter {to_text(f)!r}"


EDGES: dict[str, tuple[str, dict[str, Any], bool]] = {
    # PrimarySmtpAddress reads the primary address even when no proxy repeats it, and "" is no address.
    "primary-without-proxies": ("PrimarySmtpAddress -eq 'x@contoso.com'", {
        "primary_smtp_address": "x@contoso.com", "email_addresses": ()}, True),
    "primary-empty-is-null": ("PrimarySmtpAddress -eq $null", {"primary_smtp_address": "", "email_addresses": ()},
                              True),
    "primary-empty-ne-null": ("PrimarySmtpAddress -ne $null", {"primary_smtp_address": "", "email_addresses": ()},
                              False),
    # -like on EmailAddresses compares the whole proxy address, type prefix included, as well as the bare SMTP
    # address: '*contoso*' finds an X500 address, 'smtp:*' only SMTP ones.
    "proxy-like-any-type": ("EmailAddresses -like '*contoso*'", {
        "primary_smtp_address": "", "email_addresses": ("X500:/o=Contoso/ou=Exchange",)}, True),
    "proxy-like-prefix-other-type": ("EmailAddresses -like 'smtp:*'", {
        "primary_smtp_address": "", "email_addresses": ("X500:/o=Contoso/ou=Exchange",)}, False),
    # A text property is not a proxy address: no "smtp:" is put in front of it.
    "text-is-not-a-proxy": ("Name -like 'smtp:*'", {}, False),
    "text-with-colon": ("Name -like 'ad:*'", {"name": "ad:viseur"}, True),
    # CustomAttribute2 of a recipient that records only the first custom attribute has no value.
    "custom-attribute-past-the-recorded": ("CustomAttribute2 -eq $null", {"custom_attributes": ("a",)}, True),
    # -lt and -gt are strict: an equal value (in any case) is neither less nor greater.
    "lt-equal": ("Name -lt 'AD.VISEUR'", {}, False),
    "gt-equal": ("Name -gt 'AD.VISEUR'", {}, False),
    # '*' matches across a line break (AD text values may hold one).
    "like-across-line-break": ("DisplayName -like 'Ad*Viseur'", {"display_name": "Ad\nViseur"}, True),
    "like-line-break-suffix": ("CustomAttribute1 -like 'note*'", {"custom_attributes": ("note\nsecond line",)}, True),
}  # fmt: skip


@pytest.mark.parametrize(("text", "fields", "expected"), list(EDGES.values()), ids=list(EDGES))
def test_edge_values(
    text: str, fields: dict[str, Any], expected: bool, make_recipient: Callable[..., Recipient]
) -> None:
    assert matches(parse(text), make_recipient(**fields)) is expected
