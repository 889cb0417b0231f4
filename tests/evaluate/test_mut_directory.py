"""The snapshot's index (audit.evaluate.directory.Directory): every identity form finds its record, and only it.

Issue 14's mutation run: each lookup is held to what it promises in its docstring (the identity forms it
accepts, case-insensitive and blank-insensitive keys, a DN written another way, every match returned) and the
membership walks to the paths and members they report (shortest path first, cycles, nesting, the limit).
"""

from __future__ import annotations

import pytest

from audit.evaluate.directory import Directory, Hop, describe_path, key, smtp_addresses
from audit.snapshot import Group, Mailbox, Recipient, RoleAssignment, RoleGroup, Snapshot, Target, User

DOM = "contoso.com/"


def user(name: str, **kw: object) -> User:
    fields: dict[str, object] = {
        "name": name,
        "identity": f"{DOM}Users/{name}",
        "distinguished_name": f"CN={name},CN=Users,DC=contoso,DC=com",
        "user_principal_name": f"{name.lower()}@upn.contoso.com",
        "sam_account_name": f"sam-{name.lower()}",
        "recipient_type_details": "User",
        "account_disabled": False,
        "windows_email_address": f"{name.lower()}@wea.contoso.com",
    }
    fields.update(kw)
    return User(**fields)  # type: ignore[arg-type]


def recipient(name: str, kind: str = "UserMailbox", **kw: object) -> Recipient:
    fields: dict[str, object] = {
        "name": name,
        "identity": f"{DOM}Users/{name}",
        "distinguished_name": f"CN={name},CN=Users,DC=contoso,DC=com",
        "guid": "g-" + name,
        "alias": name.lower(),
        "display_name": f"{name} (display)",
        "primary_smtp_address": f"{name.lower()}@contoso.com",
        "recipient_type": kind,
        "recipient_type_details": kind,
        "email_addresses": (f"SMTP:{name.lower()}@contoso.com",),
    }
    fields.update(kw)
    return Recipient(**fields)  # type: ignore[arg-type]


def mailbox(name: str, **kw: object) -> Mailbox:
    fields: dict[str, object] = {
        "name": name,
        "identity": f"{DOM}Users/{name}",
        "distinguished_name": f"CN={name},CN=Users,DC=contoso,DC=com",
        "primary_smtp_address": f"{name.lower()}@contoso.com",
        "user_principal_name": f"{name.lower()}@upn.contoso.com",
        "recipient_type_details": "UserMailbox",
    }
    fields.update(kw)
    return Mailbox(**fields)  # type: ignore[arg-type]


def group(name: str, *members: str, **kw: object) -> Group:
    fields: dict[str, object] = {
        "name": name,
        "display_name": f"{name} (display)",
        "identity": f"{DOM}Groups/{name}",
        "distinguished_name": f"CN={name},OU=Groups,DC=contoso,DC=com",
        "guid": "g-" + name,
        "recipient_type_details": "MailUniversalSecurityGroup",
        "group_type": "Universal, SecurityEnabled",
        "members": members,
        "primary_smtp_address": f"{name.lower()}@groups.contoso.com",
    }
    fields.update(kw)
    return Group(**fields)  # type: ignore[arg-type]


def role_group(name: str, *members: str, **kw: object) -> RoleGroup:
    fields: dict[str, object] = {
        "name": name,
        "display_name": f"{name} (display)",
        "identity": f"{DOM}Microsoft Exchange Security Groups/{name}",
        "distinguished_name": f"CN={name},OU=Microsoft Exchange Security Groups,DC=contoso,DC=com",
        "guid": "rg-" + name,
        "role_group_type": "Standard",
        "members": members,
    }
    fields.update(kw)
    return RoleGroup(**fields)  # type: ignore[arg-type]


def snapshot(**kw: object) -> Snapshot:
    target = Target(platform="on-premises", psrp_endpoint="lab", ews_url="lab", service_account="svc")
    return Snapshot(tool_version="t", collected_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:00:01Z",
                    target=target, **kw)  # type: ignore[arg-type]  # fmt: skip


def uid(name: str) -> str:
    return f"{DOM}Users/{name}"


def gid(name: str) -> str:
    return f"{DOM}Groups/{name}"


def rgid(name: str) -> str:
    return f"{DOM}Microsoft Exchange Security Groups/{name}"


# Keys and addresses ---------------------------------------------------------------------------------------------


def test_a_key_ignores_case_and_surrounding_blanks() -> None:
    assert key("  Ad.Viseur@Contoso.COM \t") == "ad.viseur@contoso.com"
    assert key("STRASSE") == key("straße")
    assert key(None) == ""
    assert key("") == ""


def test_smtp_addresses_are_the_primary_and_the_smtp_proxies_only() -> None:
    r = recipient(
        "Ad",
        primary_smtp_address=" Ad@Contoso.com",
        email_addresses=("SMTP:ad@contoso.com", "smtp:Ad.Alias@contoso.com", "sMtP:x@contoso.com", "X500:/o=ad",
                         "sip:ad@contoso.com", "smtp:", "noprefix@contoso.com"),
    )  # fmt: skip
    assert smtp_addresses(r) == frozenset({"ad@contoso.com", "ad.alias@contoso.com", "x@contoso.com"})
    none = recipient("Bea", primary_smtp_address="", email_addresses=("smtp:bea@contoso.com",))
    assert smtp_addresses(none) == frozenset({"bea@contoso.com"})
    d = Directory(snapshot())
    assert d.addresses(r) == smtp_addresses(r)
    assert smtp_addresses(recipient("Cor", email_addresses=())) == frozenset({"cor@contoso.com"})
    # RFC 5321 allows a colon in a quoted local part: the type is what comes before the first colon.
    quoted = recipient("Dirk", email_addresses=('smtp:"dirk:field"@contoso.com',))
    assert smtp_addresses(quoted) == frozenset({"dirk@contoso.com", '"dirk:field"@contoso.com'})


# Users ----------------------------------------------------------------------------------------------------------


def test_a_user_is_found_by_each_of_its_names() -> None:
    ad = user("Ad")
    d = Directory(snapshot(users=(ad, user("Bea"))))
    for name in (
        uid("Ad"),
        "cn=ad,cn=users,dc=contoso,dc=com",
        "AD@UPN.contoso.com",
        "ad@wea.contoso.com",
        "SAM-AD",
        " ad ",
        "CN=Ad, CN=Users, DC=contoso, DC=com",  # a DN written another way
    ):
        assert d.users(name) == [ad], name
    assert d.users("Nobody") == []
    assert d.users("") == []


def test_users_without_an_optional_name_are_not_found_by_the_empty_text() -> None:
    bare = user("Bare", windows_email_address="", sam_account_name="", user_principal_name="")
    d = Directory(snapshot(users=(bare,)))
    assert d.users("") == []
    assert d.users("bare") == [bare]


def test_every_user_of_an_ambiguous_name_is_returned() -> None:
    one = user("Same", identity=uid("Same1"), distinguished_name="CN=Same1,CN=Users,DC=contoso,DC=com")
    two = user("Same", identity=uid("Same2"), distinguished_name="CN=Same2,CN=Users,DC=contoso,DC=com")
    d = Directory(snapshot(users=(one, two)))
    assert d.users("same") == [one, two]
    assert d.canonical("same") == uid("Same1").casefold()  # the first one read
    assert d.label("SAME") == "Same"


# Mailboxes and recipients -----------------------------------------------------------------------------------------


def test_a_mailbox_is_found_by_identity_dn_address_and_upn() -> None:
    ad = mailbox("Ad")
    no_dn = mailbox("Bea", distinguished_name="", user_principal_name="")
    d = Directory(snapshot(mailboxes=(ad, no_dn)))
    for name in (uid("AD"), "CN=Ad,CN=Users,DC=contoso,DC=com", "cn = ad , cn=users,dc=contoso,dc=com",
                 "AD@contoso.com", "ad@upn.contoso.com"):  # fmt: skip
        assert d.mailboxes(name) == [ad], name
    assert d.mailboxes("bea@contoso.com") == [no_dn]
    assert d.mailboxes(uid("Bea")) == [no_dn]
    assert d.mailboxes("") == []
    assert d.mailboxes("nobody@contoso.com") == []


def test_a_mailbox_lookup_returns_a_copy() -> None:
    ad = mailbox("Ad")
    d = Directory(snapshot(mailboxes=(ad,)))
    d.mailboxes(uid("Ad")).clear()
    d.mailboxes("ad@contoso.com").clear()
    assert d.mailboxes(uid("Ad")) == [ad]
    assert d.mailboxes("ad@contoso.com") == [ad]


def test_a_recipient_is_found_by_identity_or_dn_and_by_any_smtp_address() -> None:
    ad = recipient("Ad", email_addresses=("SMTP:ad@contoso.com", "smtp:ad.alias@contoso.com"))
    no_dn = recipient("Bea", distinguished_name="")
    d = Directory(snapshot(recipients=(ad, no_dn)))
    assert d.recipient(uid("ad")) is ad
    assert d.recipient("CN=Ad,CN=Users,DC=contoso,DC=com") is ad
    assert d.recipient("cn=ad, cn=users, dc=contoso, dc=com") is ad
    assert d.recipient("ad@contoso.com") is None  # an address is not an identity
    assert d.recipient_by_address(" AD.Alias@Contoso.com ") is ad
    assert d.recipient_by_address(uid("Ad")) is ad
    assert d.recipient_by_address("bea@contoso.com") is no_dn
    assert d.recipient_by_address("nobody@contoso.com") is None
    assert d.recipient("") is None


def test_an_address_two_recipients_claim_finds_the_first() -> None:
    one = recipient("One", email_addresses=("smtp:shared@contoso.com",))
    two = recipient("Two", email_addresses=("smtp:shared@contoso.com",))
    d = Directory(snapshot(recipients=(one, two)))
    assert d.recipient_by_address("shared@contoso.com") is one


# Groups and role groups -------------------------------------------------------------------------------------------


def test_a_group_is_found_by_identity_dn_and_by_its_names() -> None:
    sales = group("Sales", primary_smtp_address="Sales.Team@contoso.com")
    no_dn = group("Loose", distinguished_name="", primary_smtp_address=None, display_name="")
    d = Directory(snapshot(groups=(sales, no_dn)))
    assert d.group(gid("SALES")) is sales
    assert d.group("cn=sales,ou=groups,dc=contoso,dc=com") is sales
    assert d.group("CN=Sales, OU=Groups, DC=contoso, DC=com") is sales
    assert d.group_by_dn("cn = SALES ; ou=groups;dc=contoso;dc=com") is sales
    assert d.group_by_dn("CN=Sales,OU=Other,DC=contoso,DC=com") is None
    assert d.group_by_dn("") is None
    assert d.group(gid("Loose")) is no_dn
    assert d.groups_named("sales") == [sales]
    assert d.groups_named("SALES (Display)") == [sales]
    assert d.groups_named("sales.team@contoso.com") == [sales]
    assert d.groups_named("loose") == [no_dn]
    assert d.groups_named("") == []
    d.groups_named("sales").clear()
    assert d.groups_named("sales") == [sales]


def test_groups_sharing_a_display_name_are_all_named() -> None:
    a = group("A", display_name="Field")
    b = group("B", display_name="Field")
    d = Directory(snapshot(groups=(a, b)))
    assert d.groups_named("field") == [a, b]


def test_a_role_group_is_found_by_identity_dn_and_by_its_names() -> None:
    rg = role_group("Org Admins")
    other = role_group("Other", display_name="")
    d = Directory(snapshot(role_groups=(rg, other)))
    assert d.role_group(rgid("org admins")) is rg
    assert d.role_group("CN=Org Admins,OU=Microsoft Exchange Security Groups,DC=contoso,DC=com") is rg
    assert d.role_group("cn=org admins , ou=microsoft exchange security groups,dc=contoso,dc=com") is rg
    assert d.role_group(gid("Org Admins")) is None
    assert d.role_groups_named("ORG ADMINS") == [rg]
    assert d.role_groups_named("org admins (display)") == [rg]
    assert d.role_groups_named("other") == [other]
    assert d.role_groups_named("") == []
    d.role_groups_named("org admins").clear()
    assert d.role_groups_named("org admins") == [rg]


def test_assignments_are_indexed_by_role_in_any_case() -> None:
    def assignment(name: str, role: str) -> RoleAssignment:
        return RoleAssignment(
            name=name, identity=name, role=role, role_assignee=uid("Ad"), role_assignee_name="Ad",
            role_assignee_type="User", assignment_method="Direct", delegation_type="Regular", enabled=True,
            recipient_write_scope="Organization",
        )  # fmt: skip

    one, two, three = (
        assignment("1", "ApplicationImpersonation"),
        assignment("2", " applicationimpersonation"),
        (assignment("3", "Mail Recipients")),
    )
    d = Directory(snapshot(role_assignments=(one, two, three)))
    assert d.assignments_by_role["applicationimpersonation"] == [one, two]
    assert d.assignments_by_role["mail recipients"] == [three]


# What an identity names ---------------------------------------------------------------------------------------------


def test_canonical_is_the_identity_of_the_record_any_form_names() -> None:
    d = Directory(
        snapshot(
            groups=(group("Sales"),),
            role_groups=(role_group("Admins"),),
            recipients=(recipient("Ad"),),
            users=(user("Svc"),),
        )
    )
    assert d.canonical("CN=Sales, OU=Groups, DC=contoso, DC=com") == gid("sales").casefold()
    assert d.canonical("cn=admins,ou=microsoft exchange security groups,dc=contoso,dc=com") == rgid("admins").casefold()
    assert d.canonical("CN=Ad,CN=Users,DC=contoso,DC=com") == uid("ad").casefold()
    assert d.canonical("svc@upn.contoso.com") == uid("svc").casefold()
    assert d.canonical(" Unknown Thing ") == "unknown thing"
    assert d.canonical("CN=Unknown, DC=x") == "cn=unknown, dc=x"


def test_a_dn_is_matched_to_the_form_the_records_write_whichever_record_holds_it() -> None:
    """The DN forms are read from every kind of record; a DN no record has stays as written."""
    d = Directory(
        snapshot(
            role_groups=(role_group("Admins"),),
            groups=(group("Sales"),),
            recipients=(recipient("Rec"),),
            mailboxes=(mailbox("Box"),),
            users=(user("Usr"),),
        )
    )
    assert d.is_group("CN=Admins, OU=Microsoft Exchange Security Groups, DC=contoso, DC=com")
    assert d.is_group("CN=Sales, OU=Groups, DC=contoso, DC=com")
    assert d.recipient("CN=Rec, CN=Users, DC=contoso, DC=com") is not None
    assert d.mailboxes("CN=Box, CN=Users, DC=contoso, DC=com") != []
    assert d.users("CN=Usr, CN=Users, DC=contoso, DC=com") != []
    assert d.label("CN=Nobody, CN=Users, DC=contoso, DC=com") == "CN=Nobody, CN=Users, DC=contoso, DC=com"


def test_each_kind_of_record_is_found_by_another_writing_of_its_dn_first_lookup() -> None:
    """The first DN lookup builds the map of DN forms: whichever kind it is for, every kind is in it."""
    for probe in ("users", "mailboxes", "recipient"):
        d = Directory(snapshot(recipients=(recipient("Rec"),), mailboxes=(mailbox("Box"),), users=(user("Usr"),)))
        if probe == "users":
            assert d.users("CN=Usr , CN=Users,DC=contoso,DC=com") != []
        elif probe == "mailboxes":
            assert d.mailboxes("CN=Box , CN=Users,DC=contoso,DC=com") != []
        else:
            assert d.recipient("CN=Rec , CN=Users,DC=contoso,DC=com") is not None
        assert d.users("CN=Usr ; CN=Users;DC=contoso;DC=com") != []
        assert d.mailboxes("CN=Box ; CN=Users;DC=contoso;DC=com") != []
        assert d.recipient("CN=Rec ; CN=Users;DC=contoso;DC=com") is not None


def test_the_first_record_of_a_dn_sets_the_form_it_is_found_by() -> None:
    """Two records of one DN written two ways (a group and its recipient): the first read (role groups, groups,
    recipients, mailboxes, users) decides the form, and a third writing finds the record under that form."""
    written = "CN=Sales,OU=Groups,DC=contoso,DC=com"
    d = Directory(
        snapshot(
            groups=(group("Sales", distinguished_name=written),),
            recipients=(recipient("Sales", distinguished_name="cn=sales, ou=groups, dc=contoso, dc=com"),),
        )
    )
    assert d.group("CN = Sales;OU=Groups;DC=contoso;DC=com") is not None


def test_label_is_the_name_of_the_record_or_the_identity_itself() -> None:
    d = Directory(
        snapshot(
            role_groups=(role_group("Admins", display_name="Admins Display"),),
            groups=(group("Sales"),),
            recipients=(recipient("Ad"),),
            users=(user("Svc"),),
        )
    )
    assert d.label(rgid("admins")) == "Admins"
    assert d.label(gid("SALES")) == "Sales"
    assert d.label(uid("ad")) == "Ad"
    assert d.label("sam-svc") == "Svc"
    assert d.label("Who Knows") == "Who Knows"


def test_label_prefers_the_role_group_then_the_group_then_the_recipient() -> None:
    """One identity that several indexes hold (a group is also a recipient): the label comes in that order."""
    ident = gid("Both")
    d = Directory(
        snapshot(
            role_groups=(role_group("RG name", identity=ident, distinguished_name="CN=RG,DC=x"),),
            groups=(group("Group name", identity=ident, distinguished_name="CN=G,DC=x"),),
            recipients=(recipient("Recipient name", identity=ident, distinguished_name="CN=R,DC=x"),),
            users=(user("User name", identity=ident, distinguished_name="CN=U,DC=x"),),
        )
    )
    assert d.label(ident) == "RG name"
    d = Directory(
        snapshot(
            groups=(group("Group name", identity=ident, distinguished_name="CN=G,DC=x"),),
            recipients=(recipient("Recipient name", identity=ident, distinguished_name="CN=R,DC=x"),),
            users=(user("User name", identity=ident, distinguished_name="CN=U,DC=x"),),
        )
    )
    assert d.label(ident) == "Group name"
    d = Directory(
        snapshot(
            recipients=(recipient("Recipient name", identity=ident, distinguished_name="CN=R,DC=x"),),
            users=(user("User name", identity=ident, distinguished_name="CN=U,DC=x"),),
        )
    )
    assert d.label(ident) == "Recipient name"


def test_canonical_prefers_the_group_then_the_role_group_then_the_recipient_then_the_user() -> None:
    d = Directory(
        snapshot(
            groups=(group("G", identity=gid("G-Real"), distinguished_name="CN=Same,DC=x"),),
            role_groups=(role_group("RG", identity=rgid("RG-Real"), distinguished_name="CN=Same,DC=x"),),
            recipients=(recipient("R", identity=uid("R-Real"), distinguished_name="CN=Same,DC=x"),),
            users=(user("U", identity=uid("U-Real"), distinguished_name="CN=Same,DC=x"),),
        )
    )
    assert d.canonical("cn=same,dc=x") == gid("g-real").casefold()
    d = Directory(
        snapshot(
            role_groups=(role_group("RG", identity=rgid("RG-Real"), distinguished_name="CN=Same,DC=x"),),
            recipients=(recipient("R", identity=uid("R-Real"), distinguished_name="CN=Same,DC=x"),),
            users=(user("U", identity=uid("U-Real"), distinguished_name="CN=Same,DC=x"),),
        )
    )
    assert d.canonical("cn=same,dc=x") == rgid("rg-real").casefold()
    d = Directory(
        snapshot(
            recipients=(recipient("R", identity=uid("R-Real"), distinguished_name="CN=Same,DC=x"),),
            users=(user("U", identity=uid("U-Real"), distinguished_name="CN=Same,DC=x"),),
        )
    )
    assert d.canonical("cn=same,dc=x") == uid("r-real").casefold()


def test_is_group_for_groups_role_groups_and_group_recipients_only() -> None:
    d = Directory(
        snapshot(
            groups=(group("Sales"),),
            role_groups=(role_group("Admins"),),
            recipients=(
                recipient("Dyn", "DynamicDistributionGroup", identity=gid("Dyn")),
                recipient("MailGroup", "MailUniversalSecurityGroup", identity=gid("MailGroup")),
                recipient("Ad"),
            ),
            users=(user("Svc"),),
        )
    )
    assert d.is_group(gid("sales"))
    assert d.is_group("cn=sales,ou=groups,dc=contoso,dc=com")
    assert d.is_group(rgid("ADMINS"))
    assert d.is_group(gid("dyn"))
    assert d.is_group(gid("MailGroup"))
    assert not d.is_group(uid("Ad"))
    assert not d.is_group(uid("Svc"))
    assert not d.is_group("Nothing")


# Membership -----------------------------------------------------------------------------------------------------


def _nested() -> Directory:
    """Svc is in Inner (by DN) and in Outer; Inner is in Outer and in the role group Admins; Outer in Inner (cycle)."""
    return Directory(
        snapshot(
            users=(user("Svc"),),
            recipients=(recipient("Svc"), recipient("Ad"), recipient("Bea")),
            groups=(
                group("Inner", "CN=Svc,CN=Users,DC=contoso,DC=com", uid("Ad"), gid("Outer")),
                group("Outer", uid("Svc"), gid("Inner"), uid("Bea"), uid("BEA")),
                group("Deep", "cn=OUTER,ou=groups,dc=contoso,dc=com"),
            ),
            role_groups=(role_group("Admins", gid("Inner"), gid("Inner")),),
        )
    )


def test_containers_are_every_group_reached_with_the_shortest_path() -> None:
    d = _nested()
    paths = d.containers(["svc@upn.contoso.com"])
    assert paths == {
        gid("inner").casefold(): (Hop("Svc", "Inner", "group"),),
        gid("outer").casefold(): (Hop("Svc", "Outer", "group"),),
        rgid("admins").casefold(): (Hop("Svc", "Inner", "group"), Hop("Inner", "Admins", "role group")),
        gid("deep").casefold(): (Hop("Svc", "Outer", "group"), Hop("Outer", "Deep", "group")),
    }
    assert list(paths) == [
        gid("inner").casefold(),
        gid("outer").casefold(),
        rgid("admins").casefold(),
        gid("deep").casefold(),
    ]
    assert (
        describe_path("svcServiceAccount", paths[gid("deep").casefold()])
        == "svcServiceAccount -> group 'Outer' -> group 'Deep'"
    )
    assert describe_path("svc", ()) == "svc"


def test_containers_of_several_identities_and_of_none() -> None:
    d = _nested()
    assert d.containers([]) == {}
    assert d.containers(["Nobody"]) == {}
    paths = d.containers([uid("Ad"), uid("Bea")])
    assert paths[gid("inner").casefold()] == (Hop("Ad", "Inner", "group"),)
    assert paths[gid("outer").casefold()] == (Hop("Bea", "Outer", "group"),)
    # a group given as the start is not its own container
    assert gid("inner").casefold() not in d.containers([gid("Inner")])
    assert d.containers([gid("Inner")])[gid("outer").casefold()] == (Hop("Inner", "Outer", "group"),)


def test_a_member_listed_twice_makes_one_container_entry() -> None:
    d = _nested()
    assert d.containers([uid("Bea")]) == {
        gid("outer").casefold(): (Hop("Bea", "Outer", "group"),),
        gid("inner").casefold(): (Hop("Bea", "Outer", "group"), Hop("Outer", "Inner", "group")),
        gid("deep").casefold(): (Hop("Bea", "Outer", "group"), Hop("Outer", "Deep", "group")),
        rgid("admins").casefold(): (
            Hop("Bea", "Outer", "group"),
            Hop("Outer", "Inner", "group"),
            Hop("Inner", "Admins", "role group"),
        ),
    }


def test_expand_members_reaches_the_leaves_through_nesting_once_each() -> None:
    d = _nested()
    leaves, nested = d.expand_members(gid("Outer"))
    assert leaves == [uid("Svc"), uid("Bea"), uid("Ad")]
    assert nested == [gid("Inner")]
    leaves, nested = d.expand_members("CN=Inner,OU=Groups,DC=contoso,DC=com")
    assert leaves == ["CN=Svc,CN=Users,DC=contoso,DC=com", uid("Ad"), uid("Bea")]
    assert nested == [gid("Outer")]


def test_expand_members_of_a_role_group_and_of_what_is_no_group() -> None:
    d = _nested()
    leaves, nested = d.expand_members(rgid("Admins"))
    assert nested == [gid("Inner"), gid("Outer")]
    assert leaves == ["CN=Svc,CN=Users,DC=contoso,DC=com", uid("Ad"), uid("Bea")]
    assert d.expand_members(uid("Ad")) == ([], [])
    assert d.expand_members("Nobody") == ([], [])


def test_expand_members_stops_at_the_limit() -> None:
    d = _nested()
    assert d.expand_members(gid("Outer"), limit=1) == ([uid("Svc"), uid("Bea")], [gid("Inner")])
    assert d.expand_members(gid("Outer"), limit=2) == ([uid("Svc"), uid("Bea")], [gid("Inner")])
    assert d.expand_members(gid("Outer"), limit=3) == ([uid("Svc"), uid("Bea"), uid("Ad")], [gid("Inner")])
    assert d.expand_members(gid("Outer"), limit=0) == ([], [])


def test_expand_members_follows_a_group_that_is_only_a_recipient_no_further() -> None:
    """A dynamic group is a group (counted as nested) but has no Get-Group members to reach."""
    d = Directory(
        snapshot(
            recipients=(recipient("Dyn", "DynamicDistributionGroup", identity=gid("Dyn")), recipient("Ad")),
            groups=(group("Top", gid("Dyn"), uid("Ad")),),
        )
    )
    assert d.expand_members(gid("Top")) == ([uid("Ad")], [gid("Dyn")])


@pytest.mark.parametrize("start", [gid("Outer"), "cn=outer,ou=groups,dc=contoso,dc=com"])
def test_the_group_expanded_is_not_its_own_member(start: str) -> None:
    d = _nested()
    _, nested = d.expand_members(start)
    assert gid("Outer") not in nested


def test_a_member_dn_written_another_way_or_unknown_does_not_break_the_index() -> None:
    d = Directory(
        snapshot(
            groups=(
                group("Outer", uid("Svc")),
                group("Deep", "CN=Outer , OU=Groups,DC=contoso,DC=com", "CN=Stranger,OU=Users,DC=fabrikam,DC=com"),
            ),
            users=(user("Svc"),),
        )
    )
    assert d.containers([uid("Svc")])[gid("deep").casefold()] == (
        Hop("Svc", "Outer", "group"),
        Hop("Outer", "Deep", "group"),
    )


def test_expand_members_stops_after_100000_members_by_default() -> None:
    """The walk is bounded (a hostile snapshot may nest without end): once 100,000 members are found, the groups
    still queued are not expanded."""
    many = tuple(f"leaf {i}" for i in range(100_000))
    d = Directory(snapshot(groups=(group("Huge", *many, gid("Tail")), group("Tail", "last leaf"))))
    leaves, nested = d.expand_members(gid("Huge"))
    assert len(leaves) == 100_000
    assert "last leaf" not in leaves
    assert nested == [gid("Tail")]
