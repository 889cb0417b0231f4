"""The canonical form at its edges: only a junction of the same kind is flattened, and unknown names lower-cased.

EXA020 and EXA021 call two filters the same when their canonical forms are equal, so flattening a nested
``-and`` into an ``-or`` (or the reverse) would call a narrower scope filter equal to a wider one.
"""

from __future__ import annotations

import pytest

from audit.opath import Comparison, Operator, canonical_dn, equivalent, normalize, parse

SAME = {
    "nested-or": ("(Alias -eq 'a') -or ((Alias -eq 'b') -or (Alias -eq 'c'))", "Alias -eq 'a' -or Alias -eq 'b' -or "
                  "Alias -eq 'c'"),
    "nested-and": ("((Alias -eq 'a') -and (Company -eq 'b')) -and (Department -eq 'c')",
                   "Department -eq 'c' -and Company -eq 'b' -and Alias -eq 'a'"),
    # Properties exaudit cannot evaluate still compare by kind: a boolean ('True' is $true; -ne $true is -eq
    # $false), a DN (blanks after the RDN commas ignored), text (-like without a wildcard is -eq).
    "boolean-text": ("AuditEnabled -eq 'True'", "AuditEnabled -eq $true"),
    "boolean-ne-true": ("AuditEnabled -ne $true", "AuditEnabled -eq $false"),
    "boolean-ne-false": ("AuditEnabled -ne $false", "AuditEnabled -eq $true"),
    "dn-blanks": ("Manager -eq 'CN=Ada Viseur, OU=Users, DC=contoso, DC=com'",
                  "Manager -eq 'cn=ada viseur,ou=users,dc=contoso,dc=com'"),
    "text-like-without-wildcard": ("Office -like 'Paris'", "Office -eq 'PARIS'"),
}  # fmt: skip

DIFFERENT = {
    # a OR (b AND c) reaches fewer recipients than a OR b OR c
    "and-inside-or": ("(Alias -eq 'a') -or ((Company -eq 'b') -and (Department -eq 'c'))",
                      "Alias -eq 'a' -or Company -eq 'b' -or Department -eq 'c'"),
    # a AND (b OR c) reaches more recipients than a AND b AND c
    "or-inside-and": ("(Alias -eq 'a') -and ((Company -eq 'b') -or (Department -eq 'c'))",
                      "Alias -eq 'a' -and Company -eq 'b' -and Department -eq 'c'"),
    "boolean-ne-true-is-not-eq-true": ("AuditEnabled -ne $true", "AuditEnabled -eq $true"),
    "text-blanks-after-comma-are-data": ("Office -eq 'Paris, Nord'", "Office -eq 'Paris,Nord'"),
}  # fmt: skip


@pytest.mark.parametrize(("a", "b"), list(SAME.values()), ids=list(SAME))
def test_same_kind_junctions_flatten(a: str, b: str) -> None:
    assert equivalent(parse(a), parse(b))


@pytest.mark.parametrize(("a", "b"), list(DIFFERENT.values()), ids=list(DIFFERENT))
def test_other_kind_junctions_stay_nested(a: str, b: str) -> None:
    assert not equivalent(parse(a), parse(b))
    assert not equivalent(parse(b), parse(a))


def test_unknown_property_name_is_lower_cased() -> None:
    # Exchange reads property names case-insensitively; a name outside Microsoft's list has no spelling to take.
    assert normalize(parse("FrobNicate -eq 'X'")) == Comparison("frobnicate", Operator.EQ, "x")


def test_boolean_text_that_is_not_true_or_false_is_lower_cased() -> None:
    assert normalize(parse("AuditEnabled -eq 'Yes'")) == Comparison("AuditEnabled", Operator.EQ, "yes")


def test_dn_escaped_trailing_blank_is_kept() -> None:
    # "\ " at the very end is an escaped blank: data, which the stripping of blanks around separators keeps.
    assert canonical_dn("CN=Doe\\ , OU=Users\\ ") == "cn=doe\\ ,ou=users\\ "
