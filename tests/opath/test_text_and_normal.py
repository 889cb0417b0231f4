"""Printing as Exchange stores filters, the canonical form, and semantic equivalence."""

from __future__ import annotations

import pytest

from audit.opath import (
    And,
    Comparison,
    Filter,
    Not,
    Operator,
    Or,
    SystemValue,
    canonical_dn,
    canonical_proxy,
    equivalent,
    member_of_group,
    normalize,
    parse,
    properties,
    to_text,
)

DN = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"
A = Comparison("Alias", Operator.EQ, "a")
B = Comparison("Department", Operator.NE, "b")
C = Comparison("Company", Operator.LIKE, "c*")

TEXTS = {
    "single-no-parens": (Comparison("Alias", Operator.EQ, "user1"), "Alias -eq 'user1'"),
    "member-of-group": (member_of_group(DN), f"MemberOfGroup -eq '{DN}'"),
    "and": (And((A, B)), "((Alias -eq 'a') -and (Department -ne 'b'))"),
    "or-of-three": (Or((A, B, C)), "((Alias -eq 'a') -or (Department -ne 'b') -or (Company -like 'c*'))"),
    "nested": (And((Or((A, B)), C)), "(((Alias -eq 'a') -or (Department -ne 'b')) -and (Company -like 'c*'))"),
    "not-top": (Not(C), "-not(Company -like 'c*')"),
    "not-inside": (And((A, Not(C))), "((Alias -eq 'a') -and (-not(Company -like 'c*')))"),
    "not-not": (Not(Not(A)), "-not(-not(Alias -eq 'a'))"),
    "not-compound": (Not(And((A, B))), "-not((Alias -eq 'a') -and (Department -ne 'b'))"),
    "escape": (Comparison("Name", Operator.EQ, "O'Brien"), "Name -eq 'O''Brien'"),
    "system": (Comparison("Department", Operator.NE, SystemValue.NULL), "Department -ne $null"),
    "number": (Comparison("CustomAttribute1", Operator.GT, -3), "CustomAttribute1 -gt -3"),
    "double-quote-in-value": (Comparison("Name", Operator.EQ, 'a"b'), "Name -eq 'a\"b'"),
}


@pytest.mark.parametrize(("f", "text"), list(TEXTS.values()), ids=list(TEXTS))
def test_to_text_is_the_form_exchange_regenerates(f: Filter, text: str) -> None:
    assert to_text(f) == text
    assert parse(text) == f


def test_to_text_uses_the_canonical_property_spelling() -> None:
    assert to_text(parse('{memberofgroup -EQ "x"}')) == "MemberOfGroup -eq 'x'"


EQUIVALENT = {
    "s5-typed-vs-stored": (f"\"MemberOfGroup -eq '{DN}'\"", f"MemberOfGroup -eq '{DN}'"),
    "dn-case-and-blanks": (
        f"MemberOfGroup -eq '{DN}'",
        "memberofgroup -eq 'cn=securitygroup-callpro calendar access, ou=Groups, dc=CONTOSO, dc=com'",
    ),
    "braces-vs-quotes": ("{Alias -eq 'a'}", "'Alias -eq ''a'''"),
    "operand-order": ("Alias -eq 'a' -and Department -eq 'b'", "Department -eq 'b' -and Alias -eq 'a'"),
    "flatten": ("(A1 -eq 'a' -and A2 -eq 'b') -and A3 -eq 'c'", "A1 -eq 'a' -and (A2 -eq 'b' -and A3 -eq 'c')"),
    "dedupe": ("Alias -eq 'a' -and Alias -eq 'A'", "Alias -eq 'a'"),
    "double-negation": ("-not -not Alias -eq 'a'", "Alias -eq 'a'"),
    "not-eq-is-ne": ("-not(Alias -eq 'a')", "Alias -ne 'a'"),
    "not-like-is-notlike": ("-not(Name -like 'a*')", "Name -notlike 'a*'"),
    "de-morgan": ("-not(Alias -eq 'a' -or Department -eq 'b')", "Alias -ne 'a' -and Department -ne 'b'"),
    "like-without-wildcard": ("Name -like 'Bob'", "Name -eq 'bob'"),
    "boolean-text": ("HiddenFromAddressListsEnabled -eq 'False'", "HiddenFromAddressListsEnabled -eq $false"),
    "boolean-ne": ("HiddenFromAddressListsEnabled -ne $false", "HiddenFromAddressListsEnabled -eq $true"),
    "number-as-text": ("CustomAttribute1 -eq 7", "CustomAttribute1 -eq '7'"),
    "value-case": ("Department -eq 'Field Sales'", "department -eq 'FIELD SALES'"),
    "smtp-prefix": ("EmailAddresses -eq 'SMTP:A@contoso.com'", "EmailAddresses -eq 'a@contoso.com'"),
    # A dynamic distribution group filter as typed, and as Exchange regenerated it (extra parentheses and the
    # system exclusions it appends; real stored text from a public script).
    "exchange-regenerated": (
        "{(RecipientType -eq 'UserMailbox') -and (City -eq 'Dublin') -and (-not(Name -like 'SystemMailbox{*'))"
        " -and (-not(Name -like 'CAS_{*')) -and (-not(RecipientTypeDetailsValue -eq 'MailboxPlan'))"
        " -and (-not(RecipientTypeDetailsValue -eq 'DiscoveryMailbox'))"
        " -and (-not(RecipientTypeDetailsValue -eq 'ArbitrationMailbox'))}",
        "((((RecipientType -eq 'UserMailbox') -and (City -eq 'Dublin'))) -and (-not(Name -like 'SystemMailbox{*'))"
        " -and (-not(Name -like 'CAS_{*')) -and (-not(RecipientTypeDetailsValue -eq 'MailboxPlan'))"
        " -and (-not(RecipientTypeDetailsValue -eq 'DiscoveryMailbox'))"
        " -and (-not(RecipientTypeDetailsValue -eq 'ArbitrationMailbox')))",
    ),
}


@pytest.mark.parametrize(("a", "b"), list(EQUIVALENT.values()), ids=list(EQUIVALENT))
def test_equivalent(a: str, b: str) -> None:
    assert equivalent(parse(a), parse(b))
    assert equivalent(parse(b), parse(a))


DIFFERENT = {
    "other-group": (f"MemberOfGroup -eq '{DN}'", f"MemberOfGroup -eq '{DN.replace('Calendar', 'Claendar')}'"),
    "eq-vs-ne": ("Alias -eq 'a'", "Alias -ne 'a'"),
    "and-vs-or": ("Alias -eq 'a' -and Department -eq 'b'", "Alias -eq 'a' -or Department -eq 'b'"),
    "not-lt-is-not-gt": ("-not(Name -lt 'm')", "Name -gt 'm'"),
    "like-vs-eq-with-wildcard": ("Name -like 'a*'", "Name -eq 'a*'"),
    "escaped-comma-blank-is-data": ("DistinguishedName -eq 'CN=Doe\\, John'", "DistinguishedName -eq 'CN=Doe\\,John'"),
    "null-vs-empty-text": ("Department -eq $null", "Department -eq '$null'"),
    "different-property": ("Alias -eq 'a'", "Name -eq 'a'"),
    "precedence": ("A1 -eq 'a' -or A2 -eq 'b' -and A3 -eq 'c'", "A1 -eq 'a' -or (A2 -eq 'b' -and A3 -eq 'c')"),
}


@pytest.mark.parametrize(("a", "b"), list(DIFFERENT.values()), ids=list(DIFFERENT))
def test_not_equivalent(a: str, b: str) -> None:
    assert not equivalent(parse(a), parse(b))


def test_normal_form_is_sorted_flat_and_negation_free() -> None:
    f = parse("-not(-not(Department -eq 'B') -or -not(Alias -eq 'A')) -and (Company -eq 'C')")
    assert to_text(normalize(f)) == "((Alias -eq 'a') -and (Company -eq 'c') -and (Department -eq 'b'))"


def test_normal_form_keeps_negation_it_cannot_push() -> None:
    assert normalize(parse("-not(Name -gt 'm')")) == Not(Comparison("Name", Operator.GT, "m"))


def test_normalize_is_idempotent() -> None:
    f = parse(EQUIVALENT["exchange-regenerated"][1])
    assert normalize(normalize(f)) == normalize(f)


def test_s5_seed_filter_equals_the_stored_scope_filter() -> None:
    # S5: New-ManagementScope ... -RecipientRestrictionFilter "MemberOfGroup -eq '$($ADGroup.DistinguishedName)'"
    # PowerShell expands the subexpression, so Exchange receives the text below (with its double quotes as typed
    # in a script); Exchange stores its own regeneration of it.
    typed = f"\"MemberOfGroup -eq '{DN}'\""
    stored = to_text(member_of_group(DN))
    assert stored == f"MemberOfGroup -eq '{DN}'"
    assert equivalent(parse(typed), parse(stored))
    assert parse(typed) == member_of_group(DN)


def test_s5_typo_leaves_a_filter_that_names_no_group() -> None:
    # With the article's "Claendar" typo Get-Group fails, $ADGroup is $null and the expanded filter has an empty
    # DN: it parses, but it is not the intended scope and matches no recipient's group.
    broken = parse("\"MemberOfGroup -eq ''\"")
    assert broken == Comparison("MemberOfGroup", Operator.EQ, "")
    assert not equivalent(broken, member_of_group(DN))


def test_member_of_group_ignores_surrounding_blanks() -> None:
    assert member_of_group(f"  {DN} ") == Comparison("MemberOfGroup", Operator.EQ, DN)


def test_properties_lists_every_property_read() -> None:
    f = parse("-not(memberofgroup -eq 'x') -or (Alias -eq 'a' -and Frob -eq 1)")
    assert properties(f) == frozenset({"MemberOfGroup", "Alias", "Frob"})


@pytest.mark.parametrize(
    ("dn", "canonical"),
    [
        ("CN=A,OU=B,DC=c", "cn=a,ou=b,dc=c"),
        ("CN=A, OU=B , DC=c ", "cn=a,ou=b,dc=c"),
        ("CN=Doe\\, John, OU=B", "cn=doe\\, john,ou=b"),
        ("CN=trailing\\ , OU=B", "cn=trailing\\ ,ou=b"),
        ("CN=a\\\\, DC=b", "cn=a\\\\,dc=b"),
    ],
)
def test_canonical_dn(dn: str, canonical: str) -> None:
    assert canonical_dn(dn) == canonical
    assert canonical_dn(canonical) == canonical


@pytest.mark.parametrize(
    ("address", "canonical"),
    [("SMTP:A@contoso.com", "smtp:a@contoso.com"), ("a@Contoso.com", "smtp:a@contoso.com"), ("X500:/o=X", "x500:/o=x")],
)
def test_canonical_proxy(address: str, canonical: str) -> None:
    assert canonical_proxy(address) == canonical
