"""Differential test: the auditor's effective scope (EXA040) is exactly the set of mailboxes the lab lets the
service account open, for thousands of random tenants (issue 9, item 2).

The lab (``audit/lab``: its own OPATH evaluator and Authorizer) and the auditor (``audit/collect`` -> snapshot ->
``audit/evaluate``, ``audit/opath``) implement Exchange's access rules independently; this holds one against the
other. Each tenant is drawn by ``tests/differential/tenants.py`` and read both ways by
``tests/differential/harness.py``:

- lab side: the lab's EWS handler answers, for every mailbox, the GetFolder(calendar) request exchangelib sends
  for an impersonated probe (ConnectingSID PrimarySmtpAddress = the mailbox's primary address), as the service
  account; NoError = the lab lets the account open that mailbox.
- auditor side: the collector's own ``collect_state`` runs its plan through the lab's CmdletHost as the auditing
  account; each output object is written as Partial CLIXML by the lab's serializer and read back by the auditor's
  deserializer (``audit.collect.psrp.fast_output_object``); mapping, the snapshot model, the policy model and the
  engine's EXA040 are production code.

Layers bypassed, for speed (a real round trip costs about a second a tenant; 2,000 tenants must take under a
minute): the network (HTTP, NTLM, WSMan/PSRP fragments and the runspace pool; the EWS SOAP envelope's HTTP
transport and exchangelib itself), the lab's HTTP server and fault injection, and pypsrp's slow deserializer (the
auditor's fast path reads the same CLIXML). The round trip of each output object is memoized on the (frozen)
object, since the built-in roles and assignments repeat from tenant to tenant. All of these have their own
end-to-end tests in tests/e2e. Drawn tenants also drop the built-in assignments of roles other than
ApplicationImpersonation and the auditor's view-only roles (``tenants.KEPT_BUILTIN_ROLES``): neither side reads
them for this question.

Size: ``EXAUDIT_DIFFERENTIAL_EXAMPLES`` tenants (default 2,100, of which 2,055 distinct; derandomized: the same
tenants in every CI run);
``EXAUDIT_DIFFERENTIAL_SEED=<int>`` draws other tenants from that seed (a local run can go larger);
``EXAUDIT_DIFFERENTIAL_FEATURES`` overrides :data:`FEATURES` (``all``, ``none`` or a comma list). On a failure the
message holds the tenant as a lab scenario file, the seed, and hypothesis prints the blob that replays it
(``@reproduce_failure``). Every disagreement found was fixed on the side that was wrong and its tenant kept in
``tests/differential/regressions/`` (replayed by :func:`test_regression`).

Not drawn, because only one side reads them (so the answer would be ERROR on the auditor's side, fail closed, or
"matches nothing" on the lab's): filters over Title, UserPrincipalName, WindowsEmailAddress (lab only),
DistinguishedName, Guid, HiddenFromAddressListsEnabled (auditor only), -lt/-gt; RecipientWriteScope Self or MyGAL
(the auditor says ERROR); scopes without a filter (New-ManagementScope requires -RecipientRestrictionFilter).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from ruamel.yaml import YAML

from audit.lab.tenant import load_tenant
from tests.differential.harness import compare
from tests.differential.tenants import READER, SERVICE, Features, build, login_of, principal_of, tenant_documents

# The rules other helpers added to both sides today, each switched on once its code was on main (see Features): all
# five were on main at the 16:10 merge (rules-scope: exclusive scopes, RecipientRoot, OU scopes; rules-ident:
# per-form identities, RFC 4514 DNs).
FEATURES = Features.from_env(
    Features(exclusive=True, recipient_root=True, ou_scope=True, identities=True, dn_forms=True)
)

# 2,100 draws hold 2,055 distinct tenants (hypothesis repeats a few): at least 2,000 per CI run.
EXAMPLES = int(os.environ.get("EXAUDIT_DIFFERENTIAL_EXAMPLES", "2100"))
SEED = os.environ.get("EXAUDIT_DIFFERENTIAL_SEED", "").strip()
# Shrinking a tenant takes minutes (hypothesis stops at 300 s); a failure prints the whole tenant and its blob, and
# EXAUDIT_DIFFERENTIAL_SHRINK=1 shrinks it to a minimal one locally.
SHRINK = os.environ.get("EXAUDIT_DIFFERENTIAL_SHRINK", "") == "1"
PHASES = tuple(p for p in Phase if SHRINK or p not in (Phase.shrink, Phase.explain))
REGRESSIONS = Path(__file__).parent / "regressions"


def scenario_text(doc: dict[str, Any]) -> str:
    """A drawn tenant as a lab scenario file (save it under regressions/ to keep it)."""
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None
    yaml.width = 120
    yaml.dump(doc, out)
    return out.getvalue()


def _replay() -> str:
    """How to draw this failure again (the seed of a seeded run; a derandomized run repeats itself)."""
    if SEED:
        return f"Seed {SEED}: replay with EXAUDIT_DIFFERENTIAL_SEED={SEED} EXAUDIT_DIFFERENTIAL_EXAMPLES={EXAMPLES}."
    return "Derandomized (no seed): the same run draws the same tenants again; or use the @reproduce_failure blob."


def _settings(test: Any) -> Any:
    configured = settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,  # nothing written under the worktree; a failure prints its blob instead
        derandomize=not SEED,
        print_blob=True,
        phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(test)
    return seed(int(SEED))(configured) if SEED else configured


@pytest.mark.timeout(
    900
)  # 2,100 tenants take about 60 s on this shared machine; a loaded CI machine may take a few times that
@_settings
@given(doc=tenant_documents(FEATURES))
def test_auditor_scope_is_what_the_lab_opens(doc: dict[str, Any]) -> None:
    tenant = build(doc)
    verdicts = compare(tenant, login_of(tenant), principal_of(tenant), READER)
    if not verdicts.agree():
        pytest.fail(
            "The auditor's effective scope (EXA040) and the mailboxes the lab opens differ:\n  "
            + verdicts.explain()
            + f"\nFeatures: {FEATURES}. {_replay()} "
            + "The tenant, as a lab scenario file:\n"
            + scenario_text(doc),
            pytrace=False,
        )


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.yaml")), ids=lambda p: p.stem)
def test_regression(path: Path) -> None:
    """Each disagreement found once stays fixed (the file's header says which side was wrong, and why)."""
    tenant = load_tenant(path)
    verdicts = compare(tenant, login_of(tenant), principal_of(tenant), READER)
    assert verdicts.agree(), verdicts.explain()


def test_strategy_draws_what_the_test_needs() -> None:
    """The first tenants drawn cover nesting, every assignment path and state, and scopes that select some only."""
    seen: dict[str, int] = {}

    @settings(max_examples=150, deadline=None, database=None, derandomize=True)
    @given(doc=tenant_documents(FEATURES))
    def draw(doc: dict[str, Any]) -> None:
        tenant = build(doc)
        nested = any(any(m in {g["name"] for g in doc["groups"]} for m in g["members"]) for g in doc["groups"])
        found = {
            "nested group": nested,
            "disabled": any(a.enabled is False for a in tenant.role_assignments),
            "delegating": any(a.delegation == "Delegating" for a in tenant.role_assignments),
            "via role group": any(a.assignee_type == "RoleGroup" and not a.is_builtin for a in tenant.role_assignments),
            "via security group": any(a.assignee_type == "SecurityGroup" for a in tenant.role_assignments),
            "direct": any(a.assignee_type == "User" for a in tenant.role_assignments),
            "compound filter": any(
                " -and " in s.recipient_filter or " -or " in s.recipient_filter for s in tenant.scopes
            ),
            "negation": any("-not " in s.recipient_filter for s in tenant.scopes),
            "wildcard": any("-like" in s.recipient_filter for s in tenant.scopes),
        }
        group_dns = {g.dn for g in tenant.groups}
        found["filter names a real group"] = any(dn in s.recipient_filter for s in tenant.scopes for dn in group_dns)
        verdicts = compare(tenant, login_of(tenant), principal_of(tenant), READER)
        mailboxes = sum(1 for _ in tenant.mailboxes())
        found["some mailboxes in scope, not all"] = 0 < len(verdicts.lab) < mailboxes
        found["nothing reachable"] = not verdicts.lab
        for name, hit in found.items():
            seen[name] = seen.get(name, 0) + int(hit)

    draw()
    missing = sorted(name for name, count in seen.items() if count < 3)
    assert not missing, f"the strategy rarely draws: {', '.join(missing)} ({seen})"
    assert seen["some mailboxes in scope, not all"] >= 40, seen


def test_the_harness_sees_each_kind_of_difference() -> None:
    """The comparison fails when the two sides read different tenants: one mailbox more, or the role not reaching."""
    doc: dict[str, Any] = {
        "users": [
            {"name": "A 0", "alias": "u0", "department": "Sales"},
            {"name": "B 1", "alias": "u1", "department": "HR"},
            {"name": SERVICE, "alias": SERVICE},
            {"name": READER, "alias": READER, "type": "User"},
        ],
        "role_groups": [{"name": "View-Only Organization Management", "members": [READER]}],
        "scopes": [{"name": "S0", "recipient_filter": "Department -eq 'Sales'"}],
        "role_assignments": [{"name": "RA0", "assignee": SERVICE, "role": "ApplicationImpersonation", "scope": "S0"}],
        "accounts": [{"user": READER, "role": "auditor"}, {"user": SERVICE, "role": "service"}],
    }
    tenant = build(doc)
    same = compare(tenant, login_of(tenant), principal_of(tenant), READER)
    assert same.agree(), same.explain()
    assert same.lab == {"u0@contoso.com"}
    wider = build({**doc, "scopes": [{"name": "S0", "recipient_filter": "Department -like '*'"}]})
    assert not compare(tenant, login_of(tenant), principal_of(tenant), READER, audited=wider).agree()
    disabled = build({**doc, "role_assignments": [{**doc["role_assignments"][0], "enabled": False}]})
    no_right = compare(tenant, login_of(tenant), principal_of(tenant), READER, audited=disabled)
    assert not no_right.agree()
    assert "no granting" in no_right.explain()
    assert not compare(disabled, login_of(tenant), principal_of(tenant), READER, audited=tenant).agree()
