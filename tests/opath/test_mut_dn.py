"""-like on a DN property and the loose form of a pattern that is not a DN (audit.opath.dn, normal, evaluate).

Issue 14's mutation run of the opath modules changed since their first measurement: a ``-like`` pattern that is
not itself a DN ('*OU=Sales*') is compared as lower-case text with the blanks around its commas dropped, both
when evaluated over recipients and when two filters are compared; a value that is not a DN in an equality keeps
the form no DN has; and only DN properties get that loose treatment.
"""

from __future__ import annotations

import dataclasses

from audit.opath import compile_filter, equivalent, normalize, parse
from audit.opath.dn import canonical_dn, is_dn, loose_dn_pattern, parse_dn
from audit.opath.nodes import Comparison, Operator
from audit.snapshot import Recipient

SALES = "CN=Sales Team,OU=Sales,DC=contoso,DC=com"


def _recipient(*member_of: str, department: str = "") -> Recipient:
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
        department=department,
    )


def test_the_loose_form_drops_the_blanks_around_commas_and_the_case() -> None:
    assert loose_dn_pattern("*OU=Sales , DC=Contoso ,DC=com*") == "*ou=sales,dc=contoso,dc=com*"
    assert loose_dn_pattern("*OU=Sales  ,  DC=x") == "*ou=sales,dc=x"


def test_a_like_pattern_that_is_not_a_dn_matches_however_its_commas_are_spaced() -> None:
    scope = compile_filter(parse("MemberOfGroup -like '*OU=Sales , DC=contoso*'"))
    assert scope(_recipient(SALES))
    assert not scope(_recipient("CN=Sales Team,OU=Support,DC=contoso,DC=com"))
    assert not compile_filter(parse("MemberOfGroup -notlike '*OU=Sales , DC=contoso*'"))(_recipient(SALES))


def test_normalize_keeps_a_like_pattern_that_is_not_a_dn_in_its_loose_form() -> None:
    for operator in ("-like", "-notlike"):
        got = normalize(parse(f"MemberOfGroup {operator} '*OU=Sales , DC=Contoso*'"))
        assert got == Comparison("MemberOfGroup", Operator(operator), "*ou=sales,dc=contoso*")
    assert equivalent(
        parse("MemberOfGroup -like '*OU=Sales , DC=contoso*'"), parse("memberofgroup -like '*ou=sales,dc=contoso*'")
    )


def test_normalize_gives_a_dn_pattern_with_a_wildcard_its_canonical_dn_form() -> None:
    got = normalize(parse("MemberOfGroup -like 'CN = Sales*, OU=Sales,DC=contoso,DC=com'"))
    assert got == Comparison("MemberOfGroup", Operator.LIKE, "cn=sales*,ou=sales,dc=contoso,dc=com")


def test_normalize_marks_an_equality_with_a_value_that_is_not_a_dn() -> None:
    got = normalize(parse("MemberOfGroup -eq 'Sales , Team'"))
    assert got == Comparison("MemberOfGroup", Operator.EQ, canonical_dn("Sales , Team"))
    assert isinstance(got, Comparison)
    assert got.value == "\x00not a dn:sales , team"


def test_a_text_property_keeps_the_blanks_around_its_commas_in_a_like_pattern() -> None:
    scope = compile_filter(parse("Department -like 'Sales , North*'"))
    assert scope(_recipient(department="Sales , North East"))
    assert not scope(_recipient(department="Sales,North East"))


def test_a_like_pattern_that_is_a_dn_is_compared_in_canonical_form() -> None:
    scope = compile_filter(parse("MemberOfGroup -like 'CN = Sales*;OU=Sales;DC=contoso;DC=com'"))
    assert scope(_recipient(SALES))
    assert not scope(dataclasses.replace(_recipient(SALES), member_of=("CN=Sales Team,OU=Other,DC=contoso,DC=com",)))


def test_the_canonical_form_escapes_only_what_rfc_4514_requires_and_in_one_way() -> None:
    """canonical_dn prints values back with RFC 4514 escapes: specials, a leading '#', blanks at either end, and
    control characters (and DEL) as hex; a blank inside a value and a '#' after its start stay as they are."""
    cases = {
        "CN=#0403616263,DC=x": "cn=#0403616263,dc=x",  # a BER value stays hex, marked by its '#'
        "CN=a\\ ,DC=x": "cn=a\\ ,dc=x",
        "CN=\\ a b\\ ,DC=x": "cn=\\ a b\\ ,dc=x",
        "CN=a b, DC=x": "cn=a b,dc=x",
        "CN=ab c, DC=x": "cn=ab c,dc=x",
        "CN=b#c, DC=x": "cn=b#c,dc=x",
        "CN=a\\7fb,DC=x": "cn=a\\7fb,dc=x",
        "CN=a\\0ab;DC=x": "cn=a\\0ab,dc=x",
        "CN=a\\1fb;DC=x": "cn=a\\1fb,dc=x",
        'CN=\\#x\\,y\\+z\\"q\\<\\>\\=\\;\\\\w,DC=x': 'cn=\\#x\\,y\\+z\\"q\\<\\>\\=\\;\\\\w,dc=x',
    }
    for written, canonical in cases.items():
        assert canonical_dn(written) == canonical, written


BER = "\ud800#"  # how parse_dn marks a value written as '#' and BER hex

PARSED = {
    "": (),
    "   ": (),
    "CN=a": ((("cn", "a"),),),
    "CN=a+UID=b,DC=x": ((("cn", "a"), ("uid", "b")), (("dc", "x"),)),
    "cn = A ; dc = X": ((("cn", "a"),), (("dc", "x"),)),
    "CN=a\\2Cb": ((("cn", "a,b"),),),
    "CN=a\\,b": ((("cn", "a,b"),),),
    "2.5.4.3=x": ((("cn", "x"),),),
    "1.2.3=x": ((("1.2.3", "x"),),),
    "0.9.2342.19200300.100.1.25=com": ((("dc", "com"),),),
    " CN = x ": ((("cn", "x"),),),
    "CN=\\ a\\ ": ((("cn", " a "),),),
    "CN=#0403": ((("cn", BER + "0403"),),),
    "CN= #0A0B ": ((("cn", BER + "0a0b"),),),
    "CN=#0a0b": ((("cn", BER + "0a0b"),),),
    "CN=\\c3\\a9": ((("cn", "é"),),),
    "CN=ÉCOLE": ((("cn", "école"),),),
    "CN=a=b": ((("cn", "a=b"),),),
    "A-1=x": ((("a-1", "x"),),),
    "XCN=x": ((("xcn", "x"),),),
    "CNX=x": ((("cnx", "x"),),),
    "CN=\\#a": ((("cn", "#a"),),),
    "CN=a#": ((("cn", "a#"),),),
    "CN=x" + "y" * 16380: ((("cn", "x" + "y" * 16380),),),  # 16,384 characters: the longest DN read
    # Not DNs: None
    "CN=x" + "y" * 16381: None,
    "CN=a\\q": None,
    "CN": None,
    "\\,CN=x": None,
    "1CN=x": None,
    "CN=#04G3": None,
    "CN=#04\\2C": None,
    "CN=#": None,
    'CN=a"b': None,
    "CN=a<b": None,
    "CN=a>b": None,
    "CN=a\x00b": None,
    "CN=a\ud800": None,
    "CN=\\ff": None,
    "CN=a,": None,
    ",CN=a": None,
    "CN=a,,DC=x": None,
    "CN=a+": None,
    "a_b=x": None,
    "-a=x": None,
    "01.2=x": None,
    "1.02=x": None,
    "1=x": None,
    "\t": None,  # only blanks make an empty DN; other white space is text
    "\n": None,
    "XX": None,
    "\tCN=x": None,
    "CN\t=x": None,
}


def test_parse_dn_reads_rfc_4514_and_refuses_what_is_not_a_dn() -> None:
    for text, parsed in PARSED.items():
        assert parse_dn(text) == parsed, text[:40]
        assert is_dn(text) is bool(parsed), text[:40]
