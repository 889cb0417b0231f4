"""Fixtures for the report tests: a fixed, realistic AuditResult (FAIL, ERROR, SKIP and PASS; hostile names)."""

from __future__ import annotations

import pytest

from audit.findings import AuditResult, Finding, RunInfo, Severity, SourceLocation, Status, Subject

XSS_NAME = "<img src=x onerror=alert(1)>"
POLICY = "callpro-calendar-access"
POLICY_FILE = "policies/callpro.yaml"
DOC_ASSIGNMENT = "https://learn.microsoft.com/powershell/module/exchange/get-managementroleassignment"


def _loc(line: int, column: int = 3) -> SourceLocation:
    return SourceLocation(POLICY_FILE, line, column)


def sample_findings() -> tuple[Finding, ...]:
    """Twelve findings across two policies, deliberately out of order."""
    return (
        Finding(
            check_id="EXA001",
            title="Service account exists and is enabled",
            status=Status.PASS,
            severity=Severity.HIGH,
            message="svcServiceAccount@contoso.com exists and is enabled.",
            policy=POLICY,
            expected="enabled user svcServiceAccount@contoso.com",
            actual="enabled user svcServiceAccount@contoso.com",
            rationale="The vendor logs in as this account; a missing or disabled account breaks calendar sync.",
            doc_url="https://learn.microsoft.com/powershell/module/exchange/get-user",
            location=_loc(7),
        ),
        Finding(
            check_id="EXA033",
            title="Group members match the policy",
            status=Status.FAIL,
            severity=Severity.HIGH,
            message=f"2 unexpected members and 1 missing member in SecurityGroup-CallPro Calendar Access: {XSS_NAME}",
            policy=POLICY,
            expected="25 members listed in the policy",
            actual="26 members (2 unexpected, 1 missing)",
            remediation=(
                "Remove-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' "
                "-Member 'ceo@contoso.com' -Confirm:$false\n"
                "Add-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' "
                "-Member 'ad.viseur@contoso.com'"
            ),
            rationale="Every member of the group is a mailbox the vendor can open; an extra member is extra access.",
            doc_url="https://learn.microsoft.com/powershell/module/exchange/remove-distributiongroupmember",
            evidence=(
                f"unexpected: {XSS_NAME} (evil@contoso.com)",
                "unexpected: CEO | Board <ceo@contoso.com> `pwsh` **bold** [link](javascript:alert(1))",
                "missing: ad.viseur@contoso.com",
                *(f"member: field.sales{n:02d}@contoso.com" for n in range(1, 23)),
            ),
            location=_loc(24, 5),
        ),
        Finding(
            check_id="EXA031",
            title="Group is hidden from address lists",
            status=Status.SKIP,
            severity=Severity.LOW,
            message="Waived until 2027-01-31: group must stay visible until migration week.",
            policy=POLICY,
            rationale="A visible group invites people to ask to join it.",
            location=_loc(40),
            waived_by="group must stay visible until migration week",
        ),
        Finding(
            check_id="EXA012",
            title="Impersonation assignment is scoped",
            status=Status.FAIL,
            severity=Severity.CRITICAL,
            message=(
                "The ApplicationImpersonation assignment to CallPro Calendar Access has no custom scope: "
                "the service account can impersonate every mailbox in the organization."
            ),
            policy=POLICY,
            expected=(
                "RecipientWriteScope CustomRecipientScope, CustomRecipientWriteScope 'Scope-CallPro Calendar Access'"
            ),
            actual="RecipientWriteScope Organization, CustomRecipientWriteScope (none)",
            remediation=(
                "Set-ManagementRoleAssignment -Identity 'ApplicationImpersonation-CallProCalendarAcc-1234567' "
                "-CustomRecipientWriteScope 'Scope-CallPro Calendar Access'"
            ),
            rationale="An unscoped ApplicationImpersonation assignment reaches every mailbox, the CEO's included.",
            doc_url=DOC_ASSIGNMENT,
            evidence=(
                "Get-ManagementRoleAssignment: Name=ApplicationImpersonation-CallProCalendarAcc-1234567",
                "RoleAssigneeName=CallPro Calendar Access RecipientWriteScope=Organization",
            ),
            location=_loc(14),
        ),
        Finding(
            check_id="EXA050",
            title="In-scope mailboxes can be impersonated",
            status=Status.ERROR,
            severity=Severity.HIGH,
            message="3 of 25 probes timed out after 10 s; whether those mailboxes are reachable is unknown.",
            policy=POLICY,
            expected="GetFolder(calendar) succeeds for every member",
            actual="22 succeeded, 3 timed out",
            rationale="The integration breaks for any member it cannot impersonate.",
            evidence=("timeout: field.sales03@contoso.com", "timeout: field.sales07@contoso.com"),
            location=_loc(52),
        ),
        Finding(
            check_id="EXA051",
            title="Canaries are refused",
            status=Status.PASS,
            severity=Severity.CRITICAL,
            message="Both canaries were refused with ErrorImpersonateUserDenied.",
            policy=POLICY,
            evidence=(
                "ceo@contoso.com: ErrorImpersonateUserDenied",
                "hr-shared@contoso.com: ErrorImpersonateUserDenied",
            ),
            location=_loc(55),
        ),
        Finding(
            check_id="EXA020",
            title="Management scope filter means the expected filter",
            status=Status.PASS,
            severity=Severity.HIGH,
            message="Scope-CallPro Calendar Access filters on MemberOfGroup of the expected group.",
            policy=POLICY,
            location=_loc(18),
        ),
        Finding(
            check_id="EXA060",
            title="Platform facts",
            status=Status.SKIP,
            severity=Severity.INFO,
            message="Exchange Server 2019 on-premises: ApplicationImpersonation and EWS are supported.",
            policy=POLICY,
        ),
        Finding(
            check_id="EXA032",
            title="Group membership is closed",
            status=Status.FAIL,
            severity=Severity.MEDIUM,
            message="MemberJoinRestriction is Open: anyone can add themselves to the group.",
            policy=POLICY,
            expected="MemberJoinRestriction Closed, MemberDepartRestriction Closed",
            actual="MemberJoinRestriction Open, MemberDepartRestriction Closed",
            remediation=(
                "Set-DistributionGroup -Identity 'SecurityGroup-CallPro Calendar Access' -MemberJoinRestriction Closed"
            ),
            doc_url="https://learn.microsoft.com/powershell/module/exchange/set-distributiongroup",
            location=_loc(42),
        ),
        Finding(
            check_id="EXA001",
            title="Service account exists and is enabled",
            status=Status.PASS,
            severity=Severity.HIGH,
            message="svcPlanner@contoso.com exists and is enabled.",
            policy="planner-room-access",
            location=SourceLocation("policies/planner.yaml", 6, 3),
        ),
        Finding(
            check_id="EXA014",
            title="Role group holds exactly the expected roles and members",
            status=Status.PASS,
            severity=Severity.HIGH,
            message="Planner Room Access holds ApplicationImpersonation only, with svcPlanner as its only member.",
            policy="planner-room-access",
            location=SourceLocation("policies/planner.yaml", 11, 5),
        ),
        Finding(
            check_id="EXA035",
            title="Every member is a mailbox that can be synced",
            status=Status.FAIL,
            severity=Severity.LOW,
            message="room-12@contoso.com is a MailUser, not a mailbox.",
            policy="planner-room-access",
            expected="UserMailbox or RoomMailbox",
            actual="MailUser",
            location=SourceLocation("policies/planner.yaml", 20, 7),
        ),
    )


def sample_info() -> RunInfo:
    """Fixed run facts (no clock, no randomness) so golden files stay byte-identical."""
    return RunInfo(
        tool_version="0.1.0",
        generated_at="2026-11-26T10:15:00Z",
        policies=(POLICY_FILE, "policies/planner.yaml"),
        target="https://ex01.contoso.com/PowerShell",
        snapshot_sha256="3f1c9a0e5b7d2c4f6a8e0b1d3c5f7a9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a",
        collected_at="2026-11-26T10:14:41Z",
        server_version="Version 15.2 (Build 1544.4)",
        subjects=(
            Subject(
                policy=POLICY,
                principal="svcServiceAccount@contoso.com",
                role="ApplicationImpersonation",
                via="role group CallPro Calendar Access",
                scope="CallPro Calendar Scope",
                recipient_filter=(
                    "MemberOfGroup -eq 'SecurityGroup-CallPro Calendar Access' (direct members of the group)"
                ),
                group=f"SecurityGroup-CallPro Calendar Access {XSS_NAME}",
            ),
        ),
    )


def build_sample_result() -> AuditResult:
    """The realistic result: FAIL, ERROR, SKIP and PASS findings across two policies."""
    return AuditResult(info=sample_info(), findings=sample_findings())


@pytest.fixture
def sample_result() -> AuditResult:
    """The realistic result every golden file is rendered from."""
    return build_sample_result()
