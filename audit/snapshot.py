"""The snapshot: everything collected and probed, as typed records in a versioned, hashed JSON document.

A snapshot is what `exaudit collect` writes and `exaudit evaluate --snapshot` reads. Records mirror what the
Exchange cmdlets return (`Get-ManagementRoleAssignment`, `Get-ManagementScope`, ...), already parsed from the
Partial serialization at the collector edge (see the collector for the wire details). The raw cmdlet output is
kept beside them as evidence. A SHA-256 over the canonical JSON of the content is verified on load, so an edited
snapshot is refused rather than evaluated.

Missing data is explicit: every cmdlet call is listed in ``calls`` with whether it succeeded; a check that needs
a cmdlet that failed (or was never called) reports ERROR, never PASS.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from audit.errors import SnapshotError
from audit.files import DEFAULT_FILE_MODE
from audit.snappack import Objects

SCHEMA_VERSION = 2
"""The snapshot schema this exaudit writes and the newest it reads (2 added the Exchange Online records)."""

OLDEST_SCHEMA_VERSION = 1
"""The oldest snapshot schema this exaudit still reads (version 1 has no Exchange Online records)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the state came from. Never holds a credential."""

    platform: str  # "on-premises" | "exchange-online"
    psrp_endpoint: str  # e.g. "http://ex01.contoso.com/PowerShell" or "lab"
    ews_url: str  # on-premises: the EWS URL; Exchange Online: the Microsoft Graph base URL the probes used
    service_account: str  # the principal whose access was probed (a UPN, SMTP address or appId; not a secret)
    # Every endpoint by role, e.g. {"adminapi": ..., "graph": ..., "authority": ...}; never a credential.
    endpoints: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CollectionCall:
    """One cmdlet call made during collection, and whether it worked."""

    cmdlet: str
    parameters: dict[str, str]
    ok: bool
    object_count: int
    duration_ms: float
    error: str | None = None  # what went wrong, for a human; ERROR findings quote it
    error_kind: str | None = None  # e.g. "CommandNotFound", "Timeout", "ManagementObjectNotFound", "Transport"


@dataclass(frozen=True, slots=True)
class RawOutput:
    """The cmdlet output as received (adapted properties, values as strings or lists), kept as evidence."""

    cmdlet: str
    parameters: dict[str, str]
    # A live run holds a large output packed until the snapshot is written (audit.snappack); read back from a
    # file it is always the tuple. Either way the same objects, the same JSON.
    objects: Objects
    # The properties kept of each object when exaudit dropped the others on receipt (the server sent them all:
    # Exchange's no-language session has no Select-Object to ask for fewer); None: every property as received.
    kept_properties: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    """A management role assignment (`Get-ManagementRoleAssignment`), as ExchangeRoleAssignmentPresentation."""

    name: str
    identity: str
    role: str
    role_assignee: str  # canonical name of the assignee, e.g. "contoso.com/Users/svcServiceAccount"
    role_assignee_name: str  # the assignee's Name, e.g. "svcServiceAccount" or a role group's Name
    role_assignee_type: str  # User | SecurityGroup | RoleGroup | RoleAssignmentPolicy | ServicePrincipal | ...
    assignment_method: str  # Direct | RoleGroup | SecurityGroup | RoleAssignmentPolicy
    delegation_type: str  # Regular | Delegating | DelegatingOrgWide (RoleAssignmentDelegationType)
    enabled: bool
    recipient_write_scope: str  # Organization | CustomRecipientScope | OU | MyGAL | Self | ... | NotApplicable
    custom_recipient_write_scope: str | None = None
    custom_resource_scope: str | None = None  # Exchange Online RBAC for Applications
    recipient_ou_scope: str | None = None
    distinguished_name: str = ""
    guid: str = ""
    # Exchange Online RBAC for Applications: -RecipientAdministrativeUnitScope (an administrative unit's id).
    recipient_administrative_unit_scope: str | None = None
    when_changed: str | None = None  # ISO 8601 UTC when Exchange reported it (propagation delay, 2 h in EXO)


@dataclass(frozen=True, slots=True)
class ManagementScope:
    """A management scope (`Get-ManagementScope`). ``recipient_filter`` is the filter as Exchange stored it."""

    name: str
    identity: str
    scope_restriction_type: str  # RecipientScope | ServerScope | DatabaseScope | ...
    exclusive: bool
    recipient_filter: str | None = None
    recipient_root: str | None = None
    distinguished_name: str = ""
    guid: str = ""
    when_changed: str | None = None  # ISO 8601 UTC, when reported


@dataclass(frozen=True, slots=True)
class ManagementRole:
    """A management role (`Get-ManagementRole`)."""

    name: str
    identity: str
    role_type: str


@dataclass(frozen=True, slots=True)
class RoleGroup:
    """A role group (`Get-RoleGroup`), with its roles, assignments and direct members (canonical names)."""

    name: str
    display_name: str
    identity: str
    distinguished_name: str
    guid: str
    role_group_type: str
    roles: tuple[str, ...] = ()
    role_assignments: tuple[str, ...] = ()
    members: tuple[str, ...] = ()  # identities (canonical names) as Get-RoleGroup/Get-RoleGroupMember show them
    managed_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """A group (`Get-Group`), merged with its distribution-group facts when it is mail-enabled."""

    name: str
    display_name: str
    identity: str
    distinguished_name: str
    guid: str
    recipient_type_details: str  # MailUniversalSecurityGroup | UniversalSecurityGroup | RoleGroup | ...
    group_type: str  # e.g. "Universal, SecurityEnabled"
    members: tuple[str, ...] = ()  # direct members, identities (canonical names)
    primary_smtp_address: str | None = None
    hidden_from_address_lists_enabled: bool | None = None  # None: not mail-enabled, not read
    member_join_restriction: str | None = None  # Open | Closed | ApprovalRequired
    member_depart_restriction: str | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """A recipient (`Get-Recipient`), with its direct group memberships as DNs (what MemberOfGroup matches)."""

    name: str
    identity: str
    distinguished_name: str
    guid: str
    alias: str
    display_name: str
    primary_smtp_address: str
    recipient_type: str  # UserMailbox | MailUniversalSecurityGroup | MailUser | ...
    recipient_type_details: str
    email_addresses: tuple[str, ...] = ()  # proxy addresses, "SMTP:" upper case marks the primary
    member_of: tuple[str, ...] = ()  # DNs of groups this recipient is a *direct* member of
    department: str = ""
    company: str = ""
    custom_attributes: tuple[str, ...] = ()  # CustomAttribute1..15, "" when empty
    hidden_from_address_lists_enabled: bool = False


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A mailbox (`Get-Mailbox`)."""

    name: str
    identity: str
    distinguished_name: str
    primary_smtp_address: str
    user_principal_name: str
    recipient_type_details: str  # UserMailbox | SharedMailbox | RoomMailbox | ...
    account_disabled: bool = False
    throttling_policy: str | None = None  # None: the default policy applies


@dataclass(frozen=True, slots=True)
class User:
    """A user (`Get-User`): the principal whose access is audited."""

    name: str
    identity: str
    distinguished_name: str
    user_principal_name: str
    sam_account_name: str
    recipient_type_details: str
    account_disabled: bool
    sid: str = ""
    windows_email_address: str = ""


@dataclass(frozen=True, slots=True)
class ThrottlingPolicy:
    """A throttling policy (`Get-ThrottlingPolicy`); ``ews_max_concurrency`` None means Unlimited."""

    name: str
    identity: str
    scope: str  # Global | Organization | Regular
    is_default: bool
    ews_max_concurrency: int | None


@dataclass(frozen=True, slots=True)
class Organization:
    """Organization facts (`Get-OrganizationConfig`)."""

    name: str
    identity: str
    is_exchange_online: bool
    ews_enabled: bool | None = None
    # Exchange Online (Get-OrganizationConfig -RetrieveEwsOperationAccessPolicy): the EWS app allow list.
    # None: not read; () read and empty (from 1 October 2026 EWSEnabled True with an empty list blocks all EWS).
    ews_allowed_app_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ServicePrincipal:
    """An Exchange Online service principal pointer (`Get-ServicePrincipal`, created by New-ServicePrincipal).

    https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
    """

    display_name: str
    app_id: str  # the Entra application (client) id
    object_id: str  # the Entra service principal's object id (shown as ObjectId, formerly ServiceId)
    identity: str = ""
    name: str = ""
    when_changed: str | None = None


@dataclass(frozen=True, slots=True)
class EntraServicePrincipal:
    """The app's service principal in Entra ID (Microsoft Graph ``GET /servicePrincipals``)."""

    id: str  # object id
    app_id: str
    display_name: str
    account_enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class AppRoleGrant:
    """One Entra app role assignment the app holds (Graph ``appRoleAssignments``), resolved to its permission.

    Entra grants are a union with Exchange's RBAC for Applications: an org-wide ``Calendars.ReadWrite`` here
    removes every scope set in Exchange. https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
    """

    resource_app_id: str  # 00000003-0000-0000-c000-000000000000 Microsoft Graph, 00000002-0000-0ff1-ce00-... EXO
    resource_display_name: str
    app_role_id: str
    permission: str  # the app role's value, e.g. "Calendars.ReadWrite", "full_access_as_app"; "" when unresolved
    principal_id: str = ""  # the service principal holding it
    created: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationRow:
    """One row of `Test-ServicePrincipalAuthorization` (with ``-Resource`` when ``resource`` is set)."""

    resource: str | None  # the mailbox tested, None for the run without -Resource
    role_name: str
    granted_permissions: tuple[str, ...]
    allowed_resource_scope: str
    scope_type: str  # CustomRecipientScope | AdministrativeUnit | Organization | ...
    in_scope: bool | None  # None: "Not Run" or a value that is neither true nor false
    raw_in_scope: str = ""  # as received, kept as evidence (bool or string on the wire: unverified)


@dataclass(frozen=True, slots=True)
class ApplicationAccessPolicy:
    """An Application Access Policy (`Get-ApplicationAccessPolicy`, legacy): confines Entra grants only."""

    identity: str
    app_ids: tuple[str, ...]
    scope_name: str
    scope_identity: str
    access_right: str  # RestrictAccess | DenyAccess
    description: str = ""


@dataclass(frozen=True, slots=True)
class AdministrativeUnit:
    """An Entra administrative unit used as a role assignment's scope, with its member mailboxes' addresses."""

    id: str
    display_name: str
    members: tuple[str, ...] = ()  # user principal names or primary SMTP addresses, case as received


@dataclass(frozen=True, slots=True)
class ExchangeServer:
    """An Exchange server (`Get-ExchangeServer`)."""

    name: str
    fqdn: str
    admin_display_version: str  # "Version 15.2 (Build 1544.4)"
    edition: str = ""
    server_role: str = ""


class ProbeOutcome(enum.StrEnum):
    """What one probe (an impersonated EWS request, or an app-only Microsoft Graph request) ended in."""

    ALLOWED = "allowed"  # EWS NoError; Graph 200/201/204
    DENIED = "denied"  # EWS ErrorImpersonateUserDenied; Graph 403 ErrorAccessDenied: refused, as intended for canaries
    NO_IMPERSONATION_RIGHT = "no_impersonation_right"  # ErrorImpersonationDenied
    NO_MAILBOX = "no_mailbox"  # EWS ErrorNonExistentMailbox; Graph 404 (no such user, MailboxNotEnabledForRESTAPI)
    AUTH_FAILED = "auth_failed"  # HTTP 401
    ERROR = "error"  # anything else: timeout, throttled past the deadline, 5xx, malformed reply


@dataclass(frozen=True, slots=True)
class Probe:
    """One impersonation probe of one mailbox."""

    mailbox: str  # primary SMTP address
    expect: str  # "allow" | "deny"
    source: str  # "groupMembers" | "list" | "canary" | "sample"
    operation: str  # "calendarRead" | "calendarWrite"
    outcome: ProbeOutcome
    response_code: str = ""  # the EWS ResponseCode or HTTP status behind the outcome
    detail: str = ""
    elapsed_ms: float = 0.0
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """How probing went as a whole."""

    started_at: str
    finished_at: str
    concurrency: int
    deadline_seconds: float
    completed: bool  # False: the deadline or an abort cut the run short; missing probes are ERROR
    error: str | None = None
    concurrency_note: str = ""  # why fewer probes ran at once than asked (e.g. the throttling policy is unknown)
    # Write-probe items left by earlier runs (killed between create and delete), searched for by their marker in
    # every calendar probed for access: None when no search was made.
    leftovers_found: int | None = None
    leftovers_removed: int = 0
    leftovers: tuple[str, ...] = ()  # one line per mailbox with leftovers or a failed search (evidence)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one collection saw. Build it with the collector, or load it with :func:`load`."""

    tool_version: str
    collected_at: str  # ISO 8601 UTC, start of collection
    finished_at: str
    target: Target
    schema_version: int = SCHEMA_VERSION
    organization: Organization | None = None
    servers: tuple[ExchangeServer, ...] = ()
    role_assignments: tuple[RoleAssignment, ...] = ()
    scopes: tuple[ManagementScope, ...] = ()
    roles: tuple[ManagementRole, ...] = ()
    role_groups: tuple[RoleGroup, ...] = ()
    groups: tuple[Group, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    mailboxes: tuple[Mailbox, ...] = ()
    users: tuple[User, ...] = ()
    throttling_policies: tuple[ThrottlingPolicy, ...] = ()
    # Exchange Online (schema 2): the Exchange side read over InvokeCommand, the Entra side over Graph.
    service_principals: tuple[ServicePrincipal, ...] = ()
    entra_service_principals: tuple[EntraServicePrincipal, ...] = ()
    app_role_grants: tuple[AppRoleGrant, ...] = ()
    authorizations: tuple[AuthorizationRow, ...] = ()
    application_access_policies: tuple[ApplicationAccessPolicy, ...] = ()
    administrative_units: tuple[AdministrativeUnit, ...] = ()
    probes: tuple[Probe, ...] = ()
    probe_run: ProbeRun | None = None
    calls: tuple[CollectionCall, ...] = ()
    evidence: tuple[RawOutput, ...] = field(default=(), repr=False)

    def call_status(self, cmdlet: str) -> tuple[bool, str]:
        """Whether every call of ``cmdlet`` succeeded, and if not, why (never called counts as failed)."""
        calls = [c for c in self.calls if c.cmdlet.lower() == cmdlet.lower()]
        if not calls:
            return False, f"{cmdlet} was not called during collection"
        failed = [c for c in calls if not c.ok]
        if failed:
            return False, f"{cmdlet} failed: {failed[0].error or 'unknown error'}"
        return True, ""


_ADAPTER: pydantic.TypeAdapter[Snapshot] = pydantic.TypeAdapter(Snapshot)


def _canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON of a snapshot document without its ``sha256`` member."""
    body = {k: v for k, v in content.items() if k != "sha256"}
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


# A snapshot exaudit writes is the canonical JSON of its content with the checksum inserted as the first member, so
# that reading it back can verify the checksum over the raw bytes instead of re-serializing a large document.
# An unkeyed checksum finds damage, not a deliberate edit (anyone can recompute it): audit/bundle.py signs.
_CHECKSUM_PREFIX = re.compile(rb'\A\{"sha256":"([0-9a-f]{64})",')


def to_document(snapshot: Snapshot) -> dict[str, Any]:
    """The JSON document of a snapshot, checksummed with its SHA-256."""
    doc: dict[str, Any] = _ADAPTER.dump_python(snapshot, mode="json")
    doc["sha256"] = content_hash(doc)
    return doc


def dumps(snapshot: Snapshot) -> str:
    """The snapshot as checksummed canonical JSON text (the checksum first)."""
    return _checksummed_text(snapshot)[0]


def _checksummed_text(snapshot: Snapshot) -> tuple[str, str]:
    return checksum_document(_ADAPTER.dump_python(snapshot, mode="json"))


def checksum_document(content: dict[str, Any]) -> tuple[str, str]:
    """Checksummed JSON text of a snapshot document (the checksum first, then the canonical content) and its hash."""
    text = _canonical({k: v for k, v in content.items() if k != "sha256"})
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return '{"sha256":"' + sha + '",' + text[1:] + "\n", sha


# The name callers on other branches still import (tests/hostile, bench): the same function.
seal_document = checksum_document


def write(snapshot: Snapshot, path: Path, mode: int = DEFAULT_FILE_MODE) -> str:
    """Write the checksummed snapshot to ``path`` (streamed, atomically, mode 0600 unless told); returns its SHA-256.

    The file is in the line layout of audit/snapfile.py, compressed when its name ends in .gz (or .zst).
    """
    from audit import snapfile  # noqa: PLC0415  (the container imports this module's records)

    return snapfile.write(snapshot, path, mode)


def digest(snapshot: Snapshot) -> str:
    """The SHA-256 :func:`write` records for ``snapshot``, streamed (no text of the whole snapshot in memory)."""
    from audit import snapfile  # noqa: PLC0415

    return snapfile.digest(snapshot)


def _fast_load(data: bytes, source: str) -> tuple[Snapshot, str] | None:
    """Verify and parse a snapshot in exaudit's own checksummed layout without building an intermediate dict.

    Returns None when the bytes are not in that layout (hand-edited or pretty-printed snapshots), so that the
    general path decides.
    """
    match = _CHECKSUM_PREFIX.match(data)
    if match is None:
        return None
    end = len(data)  # without trailing whitespace; bytes.rstrip would copy the whole snapshot to find it
    while end and data[end - 1] in b" \t\r\n":
        end -= 1
    digest = hashlib.sha256(b"{")
    digest.update(memoryview(data)[match.end() : end])
    claimed = match.group(1).decode("ascii")
    if digest.hexdigest() != claimed:
        return None
    try:
        snapshot = _ADAPTER.validate_json(data)
    except pydantic.ValidationError:
        return None  # the general path explains what is wrong
    if not OLDEST_SCHEMA_VERSION <= snapshot.schema_version <= SCHEMA_VERSION:
        return None
    return snapshot, claimed


def check_schema_version(version: object, source: str) -> None:
    """Refuse a snapshot whose schema exaudit never wrote or does not read yet (SnapshotError naming what to do)."""
    if not isinstance(version, int) or isinstance(version, bool):
        raise SnapshotError(f"{source}: not a snapshot (no integer 'schema_version')")
    if version < OLDEST_SCHEMA_VERSION:
        raise SnapshotError(
            f"{source}: snapshot schema {version} is not one exaudit ever wrote (it reads {OLDEST_SCHEMA_VERSION} "
            f"to {SCHEMA_VERSION}); refusing to evaluate it."
        )
    if version > SCHEMA_VERSION:
        raise SnapshotError(
            f"{source}: written with snapshot schema {version}; this exaudit reads up to {SCHEMA_VERSION}. "
            "Upgrade exaudit to evaluate it."
        )


def from_document(doc: object, source: str = "<snapshot>") -> tuple[Snapshot, str]:
    """Verify and parse a snapshot document; returns the snapshot and its SHA-256."""
    if not isinstance(doc, dict):
        raise SnapshotError(f"{source}: not a snapshot (expected a JSON object at the top)")
    check_schema_version(doc.get("schema_version"), source)
    claimed = doc.get("sha256")
    if not isinstance(claimed, str):
        raise SnapshotError(f"{source}: no 'sha256' checksum; refusing a snapshot without one")
    actual = content_hash(doc)
    if actual != claimed:
        raise SnapshotError(
            f"{source}: SHA-256 mismatch (recorded {claimed[:12]}..., content {actual[:12]}...): the snapshot "
            "was changed after it was written. Collect a new one with `exaudit collect`."
        )
    body = {k: v for k, v in doc.items() if k != "sha256"}
    try:
        snapshot = _ADAPTER.validate_python(body)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SnapshotError(
            f"{source}: invalid snapshot at '{where}': {first['msg']} ({exc.error_count()} problem(s))"
        ) from exc
    return snapshot, claimed


def loads(text: str | bytes, source: str = "<snapshot>", *, layout: bool = True) -> tuple[Snapshot, str]:
    """Parse and verify snapshot JSON text, in any layout (``layout`` False: not the line layout, already tried)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if layout and data[:2] == b"{\n":  # perhaps the line layout audit/snapfile.py writes
        from audit import snapfile  # noqa: PLC0415

        loaded = snapfile.loads_layout(data, source)
        if loaded is not None:
            return loaded
    fast = _fast_load(data, source)
    if fast is not None:
        return fast
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise SnapshotError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); the file is corrupt or truncated"
        ) from exc
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"{source}: not UTF-8 text; the file is corrupt") from exc
    return from_document(doc, source)


def load(path: Path, *, evidence: bool = False) -> tuple[Snapshot, str]:
    """Read, verify and parse a snapshot file (plain, .gz or .zst); returns the snapshot and its SHA-256.

    Every byte is verified; the raw cmdlet output (``evidence``) is parsed only when asked for, since no check reads
    it (:func:`audit.snapfile.load_evidence` reads it on its own).
    """
    from audit import snapfile  # noqa: PLC0415

    return snapfile.load(path, evidence=evidence)
