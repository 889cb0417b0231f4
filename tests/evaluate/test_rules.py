"""Exchange's access rules (audit.evaluate.rules): each names existing checks and cites Microsoft, and
docs/checks.md shows every one (the page itself is held to the generator by test_catalogue.py)."""

from __future__ import annotations

from audit.evaluate import CHECKS
from audit.evaluate.catalogue import catalogue_markdown
from audit.evaluate.rules import RULES

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
