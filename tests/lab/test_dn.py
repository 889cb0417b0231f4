"""The lab's DN comparison (audit.lab.dn): RFC 4514 syntax, values ignoring case; held to the auditor's on any text."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.lab import dn as lab_dn
from audit.lab.authz import Authorizer, Decision
from audit.lab.dn import dn_equal, dn_key, dn_within, parse_dn
from audit.lab.server import scenario_path
from audit.lab.tenant import load_tenant
from audit.opath.dn import canonical_dn, is_dn
from tests.dn_cases import WrittenDn, dnish_text, written_dns

SETTINGS = settings(max_examples=300, deadline=None, database=None)
GROUP_DN = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"
FIELD = ["ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field"]


@SETTINGS
@given(written_dns())
def test_any_writing_of_a_dn_has_its_structure_key(dn: WrittenDn) -> None:
    lab_dn.dn_key.cache_clear()
    assert dn_key(dn.text) == dn.key, dn.text


@SETTINGS
@given(st.one_of(dnish_text, written_dns().map(lambda d: d.text)))
def test_fast_path_agrees_with_the_parser(text: str) -> None:
    try:
        parsed = parse_dn(text)
    except lab_dn.DnError:
        parsed = None
    expected = tuple(tuple(sorted((k, v.lower()) for k, v in rdn)) for rdn in parsed) if parsed else None
    lab_dn.dn_key.cache_clear()
    assert dn_key(text) == expected


@SETTINGS
@given(
    st.one_of(dnish_text, written_dns().map(lambda d: d.text)),
    st.one_of(dnish_text, written_dns().map(lambda d: d.text)),
)
def test_lab_and_auditor_agree_on_validity_and_equality(left: str, right: str) -> None:
    """Two implementations, one meaning: the differential test relies on it (issue 9)."""
    assert (dn_key(left) is not None) == is_dn(left), left
    if dn_key(left) is not None and dn_key(right) is not None:
        assert (dn_key(left) == dn_key(right)) == (canonical_dn(left) == canonical_dn(right))


@SETTINGS
@given(written_dns(), written_dns())
def test_agree_on_equality_of_near_dns(left: WrittenDn, right: WrittenDn) -> None:
    # the same structure written twice is equal on both sides; two structures are equal on neither or both
    assert (dn_key(left.text) == dn_key(right.text)) == (canonical_dn(left.text) == canonical_dn(right.text))


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("CN=Doe\\, John,DC=x", "cn=doe\\2C JOHN , dc=X", True),
        ("CN=a+OU=b;DC=x", "OU=b+CN=a,DC=x", True),
        ("2.5.4.3=a,DC=x", "CN=A,DC=x", True),
        ("CN=\\ a,DC=x", "CN=a,DC=x", False),
        ("CN=#616263,DC=x", "CN=\\#616263,DC=x", False),
        ("CN=a,DC=x", "not a dn", False),
        ("not a dn", "not a dn", False),
    ],
)
def test_dn_equal(left: str, right: str, same: bool) -> None:
    assert dn_equal(left, right) is same


def test_dn_within() -> None:
    assert dn_within("CN=a,OU=Field Sales,DC=contoso,DC=com", "ou=field sales, dc=contoso,dc=com")
    assert dn_within("OU=Field Sales,DC=contoso,DC=com", "OU=Field Sales,DC=contoso,DC=com")
    assert not dn_within("CN=a,OU=Field Sales Support,DC=contoso,DC=com", "OU=Field Sales,DC=contoso,DC=com")
    assert not dn_within("CN=a,DC=contoso,DC=com", "garbage")


@pytest.mark.parametrize(
    ("written", "reached"),
    [
        (GROUP_DN, True),
        ("cn=securitygroup-callpro calendar access, ou=groups, dc=CONTOSO, dc=com", True),
        ("CN = SecurityGroup-CallPro Calendar Access ; OU=Groups;DC=contoso;DC=com", True),
        ("2.5.4.3=SecurityGroup\\2DCallPro Calendar Access,2.5.4.11=Groups,DC=contoso,DC=com", True),
        ("CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso", False),  # another (parent) DN
        ("SecurityGroup-CallPro Calendar Access", False),  # a name is no DN: "don't match anything"
    ],
)
def test_member_of_group_scope_compares_dns(written: str, reached: bool) -> None:
    """The lab's impersonation decision reads the scope's MemberOfGroup DN as LDAP does, in any writing."""
    tenant = load_tenant(scenario_path("compliant"))
    tenant.scopes = tuple(
        dataclasses.replace(s, recipient_filter=f"MemberOfGroup -eq '{written}'")
        if s.name == "Scope-CallPro Calendar Access"
        else s
        for s in tenant.scopes
    )
    tenant.reindex()
    auth = Authorizer(tenant)
    want = Decision.ALLOWED if reached else Decision.IMPERSONATE_USER_DENIED
    assert [auth.decide("svcServiceAccount", f"{a}@contoso.com").decision for a in FIELD] == [want] * 6
    assert auth.decide("svcServiceAccount", "ceo@contoso.com").decision is Decision.IMPERSONATE_USER_DENIED


def test_tenant_lookups_by_dn_in_any_writing() -> None:
    tenant = load_tenant(scenario_path("compliant"))
    group = tenant.group("SecurityGroup-CallPro Calendar Access")
    assert group is not None
    assert tenant.by_dn("cn=securitygroup-callpro calendar access, ou=groups;dc=contoso,dc=COM") is group
    assert tenant.resolve("CN = SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com") is group
    ad = tenant.resolve_recipient("ad.viseur")
    assert ad is not None
    assert group.dn in tenant.member_of(ad.dn.upper())
    assert tenant.by_dn("garbage") is None
    assert tenant.member_of("garbage") == ()
