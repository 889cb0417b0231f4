"""The auditor's DN comparison (audit.opath.dn): RFC 4514 syntax, values ignoring case; malformed text is no DN."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.opath import compile_filter, equivalent, parse
from audit.opath import dn as audit_dn
from audit.opath.dn import canonical_dn, is_dn, parse_dn
from audit.snapshot import Recipient
from tests.dn_cases import WrittenDn, dnish_text, minimal_text, written_dns

SETTINGS = settings(max_examples=300, deadline=None, database=None)
GROUP = "CN=Doe\\, John (Field),OU=Groups,DC=contoso,DC=com"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("CN=Doe\\, John,OU=Groups,DC=contoso,DC=com", "cn=doe\\2c john , ou=GROUPS;dc=Contoso,DC=COM"),
        ("CN=Doe\\, John,DC=x", "CN=Doe\\2C John,DC=x"),  # RFC 4514 2.4: an escaped char or its hex pair
        ("CN=\\C3\\A9t\\C3\\A9,DC=x", "cn=ÉTÉ,dc=x"),  # hex pairs are UTF-8 octets; values ignore case
        ("2.5.4.3=a,0.9.2342.19200300.100.1.25=x", "CN=A,DC=X"),  # OIDs name the same attribute types
        ("CN=a+OU=b,DC=x", "OU=b + CN=a,DC=x"),  # a multi-valued RDN is a set
        ("CN=a\\=b,DC=x", "CN=a=b,DC=x"),  # "=" may be escaped or not
        ("CN=\\ a\\ ,DC=x", "CN=\\20a\\20,DC=x"),  # escaped blanks at both ends are data
    ],
)
def test_same_dn(left: str, right: str) -> None:
    assert canonical_dn(left) == canonical_dn(right)
    assert is_dn(left)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("CN=a,DC=x", "CN=a,DC=y"),
        ("CN=\\ a,DC=x", "CN=a,DC=x"),  # an escaped leading blank is part of the value, an unescaped one is not
        ("CN=a+OU=b,DC=x", "CN=a,OU=b,DC=x"),  # one two-valued RDN is not two RDNs
        ("CN=#616263,DC=x", "CN=\\#616263,DC=x"),  # BER hex is not the string starting with "#"
        ("CN=a,DC=x", "DC=x,CN=a"),  # RDN order matters
    ],
)
def test_different_dn(left: str, right: str) -> None:
    assert canonical_dn(left) != canonical_dn(right)


@pytest.mark.parametrize(
    "text",
    ["", "garbage", "CN=a,", "CN=a,,DC=x", "=a", "CN=a\\", "CN=a\\zz", 'CN=a"b', "CN=a<b", "CN=\\C3", "C N=a", "1cn=a"],
)
def test_not_a_dn_equals_no_dn(text: str) -> None:
    assert not is_dn(text)
    assert parse_dn(text) is None or parse_dn(text) == ()
    assert canonical_dn(text) != canonical_dn("CN=a,DC=x")
    assert canonical_dn(canonical_dn(text)) == canonical_dn(text)


@SETTINGS
@given(written_dns())
def test_any_writing_of_a_dn_parses_to_its_structure(dn: WrittenDn) -> None:
    parsed = parse_dn(dn.text)
    assert parsed is not None, dn.text
    assert tuple(tuple(sorted(rdn)) for rdn in parsed) == dn.key
    # ... and prints as the plainest writing of the same structure does, whatever the writing
    assert canonical_dn(dn.text) == canonical_dn(minimal_text(dn.rdns))


@SETTINGS
@given(written_dns())
def test_canonical_form_is_a_fixed_point(dn: WrittenDn) -> None:
    once = canonical_dn(dn.text)
    assert canonical_dn(once) == once
    assert parse_dn(once) is not None


@SETTINGS
@given(written_dns(), st.randoms(use_true_random=False))
def test_case_of_ascii_types_and_values_does_not_matter(dn: WrittenDn, rng: object) -> None:
    if not dn.text.isascii():
        return
    recased = "".join(ch.upper() if getattr(rng, "random")() < 0.5 else ch.lower() for ch in dn.text)  # noqa: B009
    assert canonical_dn(recased) == canonical_dn(dn.text)


@SETTINGS
@given(st.one_of(dnish_text, written_dns().map(lambda d: d.text)))
def test_fast_path_agrees_with_the_full_parse(text: str) -> None:
    audit_dn.canonical_dn.cache_clear()
    parsed = parse_dn(text)
    expected = audit_dn._printed(parsed) if parsed else None
    got = canonical_dn(text)
    assert (got if is_dn(text) else None) == expected


def _recipient(*member_of: str) -> Recipient:
    return Recipient(
        name="x",
        identity="contoso.com/Users/x",
        distinguished_name="CN=x,OU=Users,DC=contoso,DC=com",
        guid="g",
        alias="x",
        display_name="x",
        primary_smtp_address="x@contoso.com",
        recipient_type="UserMailbox",
        recipient_type_details="UserMailbox",
        member_of=member_of,
    )


@pytest.mark.parametrize(
    "written",
    [
        "CN=Doe\\2C John (Field),OU=Groups,DC=contoso,DC=com",
        "cn=doe\\, john (field), ou=groups, dc=contoso, dc=com",
        "CN = Doe\\, John (Field) ; OU=Groups;DC=contoso;DC=com",
        "2.5.4.3=Doe\\, John (Field),2.5.4.11=Groups,DC=contoso,DC=com",
    ],
)
def test_member_of_group_compares_dns(written: str) -> None:
    """EXA040's evaluation: MemberOfGroup matches the group however its DN is written (and only a DN matches)."""
    scope = compile_filter(parse(f"MemberOfGroup -eq '{written}'"))
    assert scope(_recipient(GROUP))
    assert not scope(_recipient("CN=Doe\\, Jane (Field),OU=Groups,DC=contoso,DC=com"))
    assert not compile_filter(parse(f"MemberOfGroup -ne '{written}'"))(_recipient(GROUP))
    assert equivalent(parse(f"MemberOfGroup -eq '{GROUP}'"), parse(f"MemberOfGroup -eq '{written}'"))


def test_member_of_group_with_a_malformed_dn_matches_no_one() -> None:
    scope = compile_filter(parse("MemberOfGroup -eq 'CN=Doe, John (Field),OU=Groups,DC=contoso,DC=com'"))
    assert not scope(_recipient(GROUP))  # the unescaped comma makes " John (Field)" an RDN without "="
