"""Exchange's access rules (audit.evaluate.rules): each names existing checks and cites Microsoft, and
docs/checks.md shows every one (the page itself is held to the generator by test_catalogue.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from audit.collect import mapping
from audit.evaluate import CHECKS, evaluate
from audit.evaluate.catalogue import catalogue_markdown
from audit.evaluate.rules import RULES, AccessRule
from audit.findings import Status
from audit.policy import LoadedPolicy
from audit.snapshot import ManagementScope, Snapshot

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

# The rules issue 9 asks the page to explain, by a word of their names.
REQUIRED = (
    "Exclusive scopes",
    "RecipientRoot",
    "OU-scoped",
    "ConnectingSID",
    "LDAP DNs",
    "memberTypes",
    "canary sample is capped",
    "renamed group",
    "not recursive",
    "Disabled assignments",
    "Delegating assignments",
)


def test_every_rule_names_existing_checks_and_a_microsoft_source() -> None:
    assert len({rule.name for rule in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.checks, rule.name
        assert set(rule.checks) <= CHECKS.keys(), rule.name
        assert rule.sources[0].startswith("https://learn.microsoft.com/"), rule.name
        assert all(url.startswith("https://") for url in rule.sources), rule.name
        assert rule.exchange.endswith("."), rule.name


def test_the_rules_the_issue_names_are_there() -> None:
    for word in REQUIRED:
        assert [rule for rule in RULES if word in rule.name], word


def test_each_rule_is_on_the_page_with_its_checks_and_sources() -> None:
    page = catalogue_markdown()
    section = page[page.index("## Exchange's access rules") :]
    for rule in RULES:
        assert f"### {rule.name}" in section
        links = ", ".join(f"[{c}](#{c.lower()})" for c in rule.checks)
        assert f"| {rule.name} | {links} |" in section
        for url in rule.sources:
            assert f"- <{url}>" in section


def _rule(word: str) -> AccessRule:
    return next(rule for rule in RULES if word in rule.name)


def test_the_ou_rule_says_where_the_collector_reads_the_ou() -> None:
    # Get-ManagementRoleAssignment (ExchangeRoleAssignmentPresentation) shows the OU in CustomRecipientWriteScope
    # with RecipientWriteScope OU; the rule must say what the collector reads, and no property Exchange lacks.
    row = {
        "Name": "A",
        "Role": "ApplicationImpersonation",
        "RoleAssignee": "contoso.com/Users/svc",
        "RoleAssigneeType": "User",
        "RoleAssignmentDelegationType": "Regular",
        "Enabled": True,
        "RecipientWriteScope": "OU",
        "CustomRecipientWriteScope": "contoso.com/Field Sales",
    }
    (ou,) = mapping.role_assignments([row])
    assert ou.recipient_ou_scope == "contoso.com/Field Sales"
    text = _rule("OU-scoped").exchange
    assert "RecipientWriteScope OU and the OU, in canonical form, in CustomRecipientWriteScope" in text
    assert "has no RecipientOrganizationUnitScope property" in text
    (exclusive,) = mapping.role_assignments([{**row, "RecipientWriteScope": "ExclusiveRecipientScope"}])
    assert exclusive.custom_recipient_write_scope == "contoso.com/Field Sales"  # the scope's name, for an exclusive
    assert "RecipientWriteScope ExclusiveRecipientScope with the scope's name in CustomRecipientWriteScope" in (
        _rule("Exclusive scopes").exchange
    )


def test_apps_are_exempt_from_exclusive_scopes_as_the_rule_says(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # "Exclusive management scopes don't restrict app access" (RBAC for Applications): an exclusive scope over a
    # member of the app's scope takes nothing away from the app.
    assert "exclusive scopes do not restrict apps" in _rule("Exclusive scopes").exchange
    assert _rule("Exclusive scopes").sources[-1].endswith("/permissions-exo/application-rbac")
    vip = ManagementScope(
        name="VIP Mailboxes",
        identity="VIP Mailboxes",
        scope_restriction_type="RecipientScope",
        exclusive=True,
        recipient_filter="PrimarySmtpAddress -eq 'dirk.dealer@contoso.com'",
    )
    snap = dataclasses.replace(online, scopes=(*online.scopes, vip))
    found = {f.check_id: f for f in evaluate(exo_policy, snap, NOW)}
    assert found["EXA040"].status is Status.PASS
    assert found["EXA050"].status is Status.PASS


def test_the_checks_that_name_a_rule_report_it() -> None:
    # EXA050 names the exclusive scope or the root behind a refusal (audit.evaluate.probes), EXA020 compares roots.
    assert {"EXA040", "EXA050"} <= set(_rule("Exclusive scopes").checks)
    assert {"EXA020", "EXA040", "EXA050"} <= set(_rule("RecipientRoot").checks)
