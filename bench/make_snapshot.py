"""Generate a large, checksummed snapshot (default 100,000 recipients, 2,000 in the scope group) for benchmarks.

The organization is the seed setup done right at scale: the CallPro role group with a scoped ApplicationImpersonation
assignment, the scope ``MemberOfGroup -eq '<DN of SecurityGroup-CallPro Calendar Access>'``, the group holding
``--members`` field sales mailboxes, and everyone else spread over user, shared and room mailboxes, mail users and
contacts, with 200 other groups, built-in role groups and assignments, probes for every member and the canaries,
and (by default) the raw cmdlet output as evidence, as ``exaudit collect`` keeps it.

``--policy-dir`` also writes the matching policy (``callpro-bench.yaml``, members from ``members.txt``), so that::

    python bench/make_snapshot.py /tmp/big.json --policy-dir /tmp/bench
    exaudit evaluate /tmp/bench/callpro-bench.yaml --snapshot /tmp/big.json --report-dir /tmp/reports

evaluates to COMPLIANT. The file is written as `exaudit collect` writes it (the line layout of audit/snapfile.py,
gzip-compressed when the name ends in .gz); ``--single-line`` writes the layout exaudit wrote before (checksum
first, one line), which bench/bench_evaluate.py uses as its baseline.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

from audit.snapfile import write_document
from audit.snapshot import SCHEMA_VERSION, checksum_document

DOMAIN = "contoso.com"
DC = "DC=contoso,DC=com"
RBAC = f"CN=RBAC,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,{DC}"
ESG = "Microsoft Exchange Security Groups"
GROUP = "SecurityGroup-CallPro Calendar Access"
GROUP_DN = f"CN={GROUP},OU=Groups,{DC}"
ROLE_GROUP = "CallPro Calendar Access"
SCOPE = "Scope-CallPro Calendar Access"
SVC = "svcServiceAccount"
ROOT = Path(__file__).resolve().parents[1]

FIRST = [
    "Ad",
    "Bea",
    "Cor",
    "Dirk",
    "Eva",
    "Fien",
    "Gijs",
    "Hanna",
    "Ivo",
    "Jet",
    "Kees",
    "Lot",
    "Maarten",
    "Noor",
    "Otto",
    "Pien",
    "Quinten",
    "Roos",
    "Sem",
    "Tess",
    "Umut",
    "Vera",
    "Wim",
    "Xandra",
    "Yara",
    "Zeno",
]
LAST = [
    "Viseur",
    "Buiten",
    "Veld",
    "Dealer",
    "Expediteur",
    "Field",
    "Grond",
    "Huis",
    "Intern",
    "Janssen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
]
DEPARTMENTS = ["Sales Office", "Finance", "Human Resources", "IT", "Logistics", "Marketing", "Legal", "Support"]


def _assignment(role: str, assignee: str, kind: str = "Regular", scope: str | None = None) -> dict[str, Any]:
    name = f"{role}-{assignee}" + ("-Delegating" if kind != "Regular" else "")
    return {
        "name": name,
        "identity": name,
        "role": role,
        "role_assignee": f"{DOMAIN}/{ESG}/{assignee}",
        "role_assignee_name": assignee,
        "role_assignee_type": "RoleGroup",
        "assignment_method": "Direct",
        "delegation_type": kind,
        "enabled": True,
        "recipient_write_scope": "CustomRecipientScope" if scope else "Organization",
        "custom_recipient_write_scope": scope,
        "custom_resource_scope": None,
        "recipient_ou_scope": None,
        "distinguished_name": f"CN={name},CN=Role Assignments,{RBAC}",
        "guid": "",
    }


def _role_group(name: str, roles: list[str], members: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": name if name == ROLE_GROUP else "",
        "identity": f"{DOMAIN}/{ESG}/{name}",
        "distinguished_name": f"CN={name},OU={ESG},{DC}",
        "guid": "",
        "role_group_type": "Standard",
        "roles": roles,
        "role_assignments": [f"{r}-{name}" for r in roles],
        "members": members,
        "managed_by": [],
    }


def _person(i: int, rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first} {last} {i:06d}", f"{first.lower()}.{last.lower()}.{i:06d}"


def build(recipients: int, members: int, evidence: bool, seed: int) -> dict[str, Any]:
    """The snapshot document (without its checksum)."""
    rng = random.Random(seed)
    recs: list[dict[str, Any]] = []
    mbxs: list[dict[str, Any]] = []
    group_members: list[str] = []
    other_groups = [f"Team {n:03d}" for n in range(200)]
    other_members: dict[str, list[str]] = {g: [] for g in other_groups}

    def add(name: str, alias: str, kind: str, details: str, member_of: list[str], dept: str, ou: str = "Users") -> None:
        identity = f"{DOMAIN}/{ou}/{name}"
        dn = f"CN={name},{'CN' if ou == 'Users' else 'OU'}={ou},{DC}"
        smtp = f"{alias}@{DOMAIN}" if kind != "MailContact" else f"{alias}@partner.example"
        recs.append(
            {
                "name": name,
                "identity": identity,
                "distinguished_name": dn,
                "guid": f"{len(recs):08x}-0000-4000-8000-{len(recs):012x}",
                "alias": alias,
                "display_name": name,
                "primary_smtp_address": smtp,
                "recipient_type": kind,
                "recipient_type_details": details,
                "email_addresses": [f"SMTP:{smtp}"],
                "member_of": member_of,
                "department": dept,
                "company": "Contoso",
                "custom_attributes": [],
                "hidden_from_address_lists_enabled": alias == SVC,
            }
        )
        if kind == "UserMailbox":
            mbxs.append(
                {
                    "name": name,
                    "identity": identity,
                    "distinguished_name": dn,
                    "primary_smtp_address": smtp,
                    "user_principal_name": smtp,
                    "recipient_type_details": details,
                    "account_disabled": details != "UserMailbox",
                    "throttling_policy": None,
                }
            )

    for i in range(members):
        name, alias = _person(i, rng)
        add(name, alias, "UserMailbox", "UserMailbox", [GROUP_DN], "Field Sales")
        group_members.append(f"{DOMAIN}/Users/{name}")
    add("Carla Eo", "ceo", "UserMailbox", "UserMailbox", [], "Executive")
    add("HR Shared", "hr-shared", "UserMailbox", "SharedMailbox", [], "Human Resources")
    add(SVC, SVC, "UserMailbox", "UserMailbox", [f"CN={ROLE_GROUP},OU={ESG},{DC}"], "IT")
    rest = recipients - members - 3 - 1 - len(other_groups)  # 1: the scope group itself
    for i in range(members, members + max(rest, 0)):
        name, alias = _person(i, rng)
        roll = rng.random()
        kind, details, ou = "UserMailbox", "UserMailbox", "Users"
        if roll < 0.03:
            details = "SharedMailbox"
        elif roll < 0.04:
            details = "RoomMailbox"
        elif roll < 0.08:
            kind = details = "MailUser"
        elif roll < 0.10:
            kind, details, ou = "MailContact", "MailContact", "Contacts"
        member_of = []
        if kind == "UserMailbox" and rng.random() < 0.5:
            team = rng.choice(other_groups)
            member_of.append(f"CN={team},OU=Groups,{DC}")
            other_members[team].append(f"{DOMAIN}/{ou}/{name}")
        add(name, alias, kind, details, member_of, rng.choice(DEPARTMENTS), ou)

    def group(name: str, alias: str, details: str, members_: list[str], hidden: bool, closed: bool) -> dict[str, Any]:
        recs.append(
            {
                "name": name,
                "identity": f"{DOMAIN}/Groups/{name}",
                "distinguished_name": f"CN={name},OU=Groups,{DC}",
                "guid": "",
                "alias": alias,
                "display_name": name,
                "primary_smtp_address": f"{alias}@{DOMAIN}",
                "recipient_type": details,
                "recipient_type_details": details,
                "email_addresses": [f"SMTP:{alias}@{DOMAIN}"],
                "member_of": [],
                "department": "",
                "company": "",
                "custom_attributes": [],
                "hidden_from_address_lists_enabled": hidden,
            }
        )
        return {
            "name": name,
            "display_name": name,
            "identity": f"{DOMAIN}/Groups/{name}",
            "distinguished_name": f"CN={name},OU=Groups,{DC}",
            "guid": "",
            "recipient_type_details": details,
            "group_type": "Universal, SecurityEnabled" if "Security" in details else "Universal",
            "members": members_,
            "primary_smtp_address": f"{alias}@{DOMAIN}",
            "hidden_from_address_lists_enabled": hidden,
            "member_join_restriction": "Closed" if closed else "Open",
            "member_depart_restriction": "Closed" if closed else "Open",
        }

    groups = [
        group(GROUP, "SecurityGroup-CallProCalendarAccess", "MailUniversalSecurityGroup", group_members, True, True)
    ]
    groups += [
        group(g, g.replace(" ", ""), "MailUniversalDistributionGroup", other_members[g], False, False)
        for g in other_groups
    ]
    role_groups = [
        _role_group(ROLE_GROUP, ["ApplicationImpersonation"], [f"{DOMAIN}/Users/{SVC}"]),
        _role_group(
            "Organization Management",
            ["ApplicationImpersonation", "Mail Recipients", "Role Management"],
            [f"{DOMAIN}/Users/Administrator"],
        ),
        _role_group("Hygiene Management", ["ApplicationImpersonation"], []),
        _role_group("View-Only Organization Management", ["View-Only Configuration", "View-Only Recipients"], []),
    ]
    assignments = [
        _assignment("ApplicationImpersonation", ROLE_GROUP, scope=SCOPE),
        _assignment("ApplicationImpersonation", "Organization Management", "DelegatingOrgWide"),
        _assignment("ApplicationImpersonation", "Hygiene Management"),
        _assignment("Mail Recipients", "Organization Management"),
        _assignment("Role Management", "Organization Management", "DelegatingOrgWide"),
        _assignment("View-Only Configuration", "View-Only Organization Management"),
        _assignment("View-Only Recipients", "View-Only Organization Management"),
    ]
    scopes = [
        {
            "name": SCOPE,
            "identity": SCOPE,
            "scope_restriction_type": "RecipientScope",
            "exclusive": False,
            "recipient_filter": f"MemberOfGroup -eq '{GROUP_DN}'",
            "recipient_root": None,
            "distinguished_name": f"CN={SCOPE},CN=Scopes,{RBAC}",
            "guid": "",
        }
    ]
    users = [
        {
            "name": SVC,
            "identity": f"{DOMAIN}/Users/{SVC}",
            "distinguished_name": f"CN={SVC},CN=Users,{DC}",
            "user_principal_name": f"{SVC}@{DOMAIN}",
            "sam_account_name": SVC,
            "recipient_type_details": "UserMailbox",
            "account_disabled": False,
            "sid": "S-1-5-21-3623811015-3361044348-30300820-1113",
            "windows_email_address": f"{SVC}@{DOMAIN}",
        }
    ]
    member_smtp = [r["primary_smtp_address"] for r in recs[:members]]
    probes = [
        {
            "mailbox": m,
            "expect": "allow",
            "source": "groupMembers",
            "operation": "calendarRead",
            "outcome": "allowed",
            "response_code": "NoError",
            "detail": "",
            "elapsed_ms": 40.0,
            "attempts": 1,
        }
        for m in member_smtp
    ] + [
        {
            "mailbox": m,
            "expect": "deny",
            "source": "canary",
            "operation": "calendarRead",
            "outcome": "denied",
            "response_code": "ErrorImpersonateUserDenied",
            "detail": "",
            "elapsed_ms": 20.0,
            "attempts": 1,
        }
        for m in (f"ceo@{DOMAIN}", f"hr-shared@{DOMAIN}")
    ]
    records = {
        "Get-OrganizationConfig": 1,
        "Get-ExchangeServer": 1,
        "Get-ManagementRoleAssignment": len(assignments),
        "Get-ManagementScope": len(scopes),
        "Get-ManagementRole": 6,
        "Get-RoleGroup": len(role_groups),
        "Get-Group": len(groups),
        "Get-DistributionGroup": len(groups),
        "Get-Recipient": len(recs),
        "Get-Mailbox": len(mbxs),
        "Get-ThrottlingPolicy": 1,
        "Get-User": 1,
    }
    calls = [
        {
            "cmdlet": c,
            "parameters": {"ResultSize": "Unlimited"},
            "ok": True,
            "object_count": n,
            "duration_ms": 100.0,
            "error": None,
            "error_kind": None,
        }
        for c, n in records.items()
    ]
    raw: list[dict[str, Any]] = []
    if evidence:
        raw = [
            {
                "cmdlet": "Get-Recipient",
                "parameters": {"ResultSize": "Unlimited"},
                "objects": [
                    {
                        "Name": r["name"],
                        "Alias": r["alias"],
                        "DisplayName": r["display_name"],
                        "Identity": r["identity"],
                        "DistinguishedName": r["distinguished_name"],
                        "Guid": r["guid"],
                        "RecipientType": r["recipient_type"],
                        "RecipientTypeDetails": r["recipient_type_details"],
                        "PrimarySmtpAddress": r["primary_smtp_address"],
                        "EmailAddresses": r["email_addresses"],
                        "Department": r["department"],
                        "Company": r["company"],
                        "HiddenFromAddressListsEnabled": r["hidden_from_address_lists_enabled"],
                    }
                    for r in recs
                ],
            },
            {
                "cmdlet": "Get-Mailbox",
                "parameters": {"ResultSize": "Unlimited"},
                "objects": [
                    {
                        "Name": m["name"],
                        "Identity": m["identity"],
                        "DistinguishedName": m["distinguished_name"],
                        "PrimarySmtpAddress": m["primary_smtp_address"],
                        "UserPrincipalName": m["user_principal_name"],
                        "RecipientTypeDetails": m["recipient_type_details"],
                        "ThrottlingPolicy": None,
                        "RoleAssignmentPolicy": "Default Role Assignment Policy",
                    }
                    for m in mbxs
                ],
            },
            {
                "cmdlet": "Get-Group",
                "parameters": {"ResultSize": "Unlimited"},
                "objects": [
                    {
                        "Name": g["name"],
                        "Identity": g["identity"],
                        "DistinguishedName": g["distinguished_name"],
                        "RecipientTypeDetails": g["recipient_type_details"],
                        "GroupType": g["group_type"],
                        "Members": g["members"],
                    }
                    for g in groups
                ],
            },
        ]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": "0.1.0",
        "collected_at": "2026-11-20T09:00:00Z",
        "finished_at": "2026-11-20T09:01:00Z",
        "target": {
            "platform": "on-premises",
            "psrp_endpoint": "http://exch01.contoso.com/PowerShell",
            "ews_url": "https://exch01.contoso.com/EWS/Exchange.asmx",
            "service_account": f"{SVC}@{DOMAIN}",
        },
        "organization": {"name": "Contoso", "identity": "Contoso", "is_exchange_online": False, "ews_enabled": None},
        "servers": [
            {
                "name": "EXCH01",
                "fqdn": f"exch01.{DOMAIN}",
                "admin_display_version": "Version 15.2 (Build 2562.17)",
                "edition": "Enterprise",
                "server_role": "Mailbox",
            }
        ],
        "role_assignments": assignments,
        "scopes": scopes,
        "roles": [
            {"name": r, "identity": r, "role_type": r.replace(" ", "").replace("-", "")}
            for r in (
                "ApplicationImpersonation",
                "Mail Recipients",
                "Role Management",
                "View-Only Configuration",
                "View-Only Recipients",
                "MyBaseOptions",
            )
        ],
        "role_groups": role_groups,
        "groups": groups,
        "recipients": recs,
        "mailboxes": mbxs,
        "users": users,
        "throttling_policies": [
            {
                "name": "GlobalThrottlingPolicy_0b04ec59-1b03-4a89-a87f-160b7b45945c",
                "identity": "GlobalThrottlingPolicy_0b04ec59-1b03-4a89-a87f-160b7b45945c",
                "scope": "Global",
                "is_default": True,
                "ews_max_concurrency": 27,
            }
        ],
        "probes": probes,
        "probe_run": {
            "started_at": "2026-11-20T09:00:30Z",
            "finished_at": "2026-11-20T09:01:00Z",
            "concurrency": 8,
            "deadline_seconds": 600.0,
            "completed": True,
            "error": None,
        },
        "calls": calls,
        "evidence": raw,
    }


def write_policy(directory: Path, doc: dict[str, Any], members: int) -> Path:
    """Write the policy (members from a file) that the generated snapshot complies with."""
    directory.mkdir(parents=True, exist_ok=True)
    addresses = [r["primary_smtp_address"] for r in doc["recipients"][:members]]
    (directory / "members.txt").write_text("# generated by bench/make_snapshot.py\n" + "\n".join(addresses) + "\n")
    text = (ROOT / "policies" / "callpro.yaml").read_text(encoding="utf-8")
    start = text.index("  members:\n    exactly:")
    end = text.index("\n\n", start)
    text = text[:start] + "  members:\n    file: members.txt" + text[end:]
    text = text.replace("name: callpro-calendar-access", "name: callpro-bench")
    path = directory / "callpro-bench.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the checksummed snapshot (.json, .json.gz)")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--no-evidence", action="store_true", help="leave out the raw cmdlet output")
    parser.add_argument("--policy-dir", type=Path, help="also write the matching policy and members file here")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--single-line", action="store_true", help="the older layout (one line, checksum first; plain .json only)"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    doc = build(args.recipients, args.members, not args.no_evidence, args.seed)
    if args.single_line:  # what `exaudit collect` wrote before the line layout
        text, doc["sha256"] = checksum_document(doc)
        args.out.write_text(text, encoding="utf-8")
    else:
        doc["sha256"] = write_document(doc, args.out, 0o644)  # the layout `exaudit collect` writes
    print(
        f"wrote {args.out}: {len(doc['recipients'])} recipients, {len(doc['mailboxes'])} mailboxes, "
        f"{args.members} group members, {args.out.stat().st_size / 2**20:.1f} MiB "
        f"in {time.perf_counter() - start:.1f} s"
    )
    if args.policy_dir:
        print(f"wrote {write_policy(args.policy_dir, doc, args.members)}")


if __name__ == "__main__":
    main()
