"""The Exchange cmdlets the lab's /PowerShell endpoint runs, with Exchange's behaviour rather than a friendlier one.

Commands arrive as psrpcore CreatePipeline commands (cmdlet name plus parameters). The runspace is in
no-language mode, as Exchange's remote endpoint is: script text is refused with ParseException; a cmdlet the
account's roles do not put in the session is CommandNotFoundException; an object that does not exist is a
non-terminating ManagementObjectNotFoundException; a result longer than -ResultSize (1000 by default) is cut
with Exchange's warning. Output objects carry the real type chains and property orders
(exchange-outputs.md section 4, exchange-rbac.md sections 1.3, 4.2).
"""

from __future__ import annotations

import datetime
import fnmatch
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from audit.lab.authz import Authorizer, visible_cmdlets
from audit.lab.clixml import (
    ADCONFIG_CHAIN,
    ADOBJECT_CHAIN,
    ADPRESENTATION_CHAIN,
    SC,
    ExchangeObject,
    M,
    MultiValued,
    Value,
    mvp_adobjectid,
    mvp_proxy_addresses,
    mvp_string,
)
from audit.lab.tenant import (
    Group,
    ManagementRole,
    ManagementScope,
    Recipient,
    RoleAssignment,
    RoleGroup,
    Tenant,
    ThrottlingPolicy,
)

__all__ = [
    "CommandCall",
    "Emission",
    "ErrorSpec",
    "ExchangeSession",
    "Output",
    "Warning",
    "run_pipeline",
]

# Fixed AD timestamps: the lab's objects were all "created" once; stable output keeps snapshots comparable.
_CREATED = datetime.datetime(2024, 3, 19, 12, 34, 17, tzinfo=datetime.UTC)
_CHANGED = datetime.datetime(2025, 6, 2, 9, 15, 42, tzinfo=datetime.UTC)
_EMPTY_GUID = uuid.UUID(int=0)

# The warning Exchange writes when the default -ResultSize (1000) cut the result.
RESULT_SIZE_WARNING = (
    "By default, only the first 1000 items are returned. Use the ResultSize parameter to specify the number of "
    'items returned. To return all items, specify "-ResultSize Unlimited". Be aware that, depending on the actual '
    "number of items, returning all items can take a long time and consume a large amount of memory. Also, we "
    "don't recommend storing the results in a variable. Instead, pipe the results to another task or script to "
    "perform batch changes."
)
DEFAULT_RESULT_SIZE = 1000

NO_LANGUAGE_MESSAGE = (
    "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
)
NOT_RECOGNIZED = (
    "The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check "
    "the spelling of the name, or if a path was included, verify that the path is correct and try again."
)


@dataclass(frozen=True, slots=True)
class CommandCall:
    """One command of a pipeline as the client sent it."""

    name: str
    is_script: bool
    parameters: list[tuple[str | None, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Output:
    """An object written to the output stream."""

    obj: ExchangeObject


@dataclass(frozen=True, slots=True)
class Warning:
    """A warning record."""

    message: str


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An error record: non-terminating (error stream) or terminating (PipelineState Failed)."""

    message: str
    exception_types: tuple[str, ...]
    category: int
    reason: str
    fully_qualified_error_id: str
    terminating: bool
    activity: str | None = None
    target_name: str | None = None
    target_type: str | None = None
    target_object: str | None = None
    hresult: int = -2146233087


Emission = Output | Warning | ErrorSpec

# ErrorCategory values (System.Management.Automation.ErrorCategory).
_NOT_SPECIFIED = 0
_INVALID_ARGUMENT = 5
_OBJECT_NOT_FOUND = 13
_PARSER_ERROR = 17


class _Terminate(Exception):
    def __init__(self, spec: ErrorSpec) -> None:
        super().__init__(spec.message)
        self.spec = spec


class _Unlimited:
    pass


UNLIMITED = _Unlimited()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    return str(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return True  # a switch given without a value
    text = str(value).strip().lower()
    if text in ("true", "$true", "1"):
        return True
    if text in ("false", "$false", "0"):
        return False
    raise ValueError(text)


# -- the cmdlet table ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cmdlet:
    name: str
    task: str  # .NET task class, as it appears in Exchange's FullyQualifiedErrorId
    parameters: tuple[str, ...]
    identity_type: str
    run: Callable[[ExchangeSession, dict[str, Any]], Iterable[ExchangeObject]]
    switches: frozenset[str] = frozenset()


class ExchangeSession:
    """One user's view of the tenant: runs cmdlets and reports each call."""

    def __init__(
        self,
        tenant: Tenant,
        user: str,
        on_cmdlet: Callable[[str, str, dict[str, str]], None] | None = None,
    ) -> None:
        self.tenant = tenant
        self.user = user
        self._on_cmdlet = on_cmdlet
        self._visible = visible_cmdlets(tenant, user)
        self._authz = Authorizer(tenant)
        self._errors: list[ErrorSpec] = []
        self._current: _Cmdlet | None = None

    @property
    def org(self) -> Any:
        """The tenant's organization record."""
        return self.tenant.organization

    # -- entry points -------------------------------------------------------------------------------------

    def run(self, statements: Sequence[Sequence[CommandCall]]) -> Iterator[Emission]:
        """Run every statement (a pipe of commands); a terminating error ends the whole pipeline."""
        try:
            for statement in statements:
                yield from self._statement(statement)
        except _Terminate as stop:
            yield stop.spec

    def _statement(self, commands: Sequence[CommandCall]) -> Iterator[Emission]:
        resolved: list[tuple[_Cmdlet, dict[str, Any]]] = []
        for call in commands:
            if call.is_script:
                raise _Terminate(
                    ErrorSpec(
                        message=NO_LANGUAGE_MESSAGE,
                        exception_types=(
                            "System.Management.Automation.ParseException",
                            "System.Management.Automation.RuntimeException",
                            "System.SystemException",
                        ),
                        category=_PARSER_ERROR,
                        reason="ParseException",
                        fully_qualified_error_id="ScriptsNotAllowed",
                        terminating=True,
                    )
                )
            known = _CMDLETS.get(call.name.strip().lower())
            if self._on_cmdlet is not None:
                # Every attempted cmdlet counts, including ones the session does not expose.
                reported = {(k or "").lstrip("-"): _text(v) for k, v in call.parameters}
                self._on_cmdlet(self.user, known.name if known else call.name.strip(), reported)
            cmdlet = self._lookup(call.name)
            params = self._bind(cmdlet, call.parameters)
            resolved.append((cmdlet, params))

        first, first_params = resolved[0]
        stream: Iterable[Emission] = self._invoke(first, first_params)
        for cmdlet, params in resolved[1:]:
            stream = self._piped(cmdlet, params, stream)
        yield from stream

    def _piped(self, cmdlet: _Cmdlet, params: dict[str, Any], upstream: Iterable[Emission]) -> Iterator[Emission]:
        """Bind each upstream object to -Identity, as Exchange's IdParameters take pipeline input."""
        for item in upstream:
            if isinstance(item, Output):
                identity = item.obj.get("Identity")
                yield from self._invoke(cmdlet, {**params, "Identity": identity if identity else item.obj.to_string})
            else:
                yield item

    def _lookup(self, name: str) -> _Cmdlet:
        cmdlet = _CMDLETS.get(name.strip().lower())
        if cmdlet is None or cmdlet.name not in self._visible:
            raise _Terminate(
                ErrorSpec(
                    message=NOT_RECOGNIZED.format(name),
                    exception_types=(
                        "System.Management.Automation.CommandNotFoundException",
                        "System.Management.Automation.RuntimeException",
                        "System.SystemException",
                    ),
                    category=_OBJECT_NOT_FOUND,
                    reason="CommandNotFoundException",
                    fully_qualified_error_id="CommandNotFoundException",
                    terminating=True,
                    target_name=name,
                    target_type="String",
                    target_object=name,
                )
            )
        return cmdlet

    def _bind(self, cmdlet: _Cmdlet, raw: Sequence[tuple[str | None, Any]]) -> dict[str, Any]:
        """Bind named (unique prefixes allowed, case-insensitive) and positional (-Identity) parameters."""
        bound: dict[str, Any] = {}
        positional: list[Any] = []
        known = {p.lower(): p for p in cmdlet.parameters}
        for name, value in raw:
            if name is None:
                positional.append(value)
                continue
            key = name.lstrip("-").lower()
            match = known.get(key)
            if match is None:
                candidates = [p for k, p in known.items() if k.startswith(key)]
                if len(candidates) == 1:
                    match = candidates[0]
                else:
                    self._parameter_error(cmdlet, name, ambiguous=len(candidates) > 1)
            assert match is not None
            bound[match] = value
        if positional:
            if "Identity" not in cmdlet.parameters or "Identity" in bound or len(positional) > 1:
                raise _Terminate(
                    ErrorSpec(
                        message=(
                            f"A positional parameter cannot be found that accepts argument '{_text(positional[-1])}'."
                        ),
                        exception_types=(
                            "System.Management.Automation.ParameterBindingException",
                            "System.Management.Automation.RuntimeException",
                            "System.SystemException",
                        ),
                        category=_INVALID_ARGUMENT,
                        reason="ParameterBindingException",
                        fully_qualified_error_id=f"PositionalParameterNotFound,{cmdlet.name}",
                        terminating=True,
                        activity=cmdlet.name,
                    )
                )
            bound["Identity"] = positional[0]
        for switch in cmdlet.switches:
            if switch in bound:
                try:
                    bound[switch] = _as_bool(bound[switch])
                except ValueError:
                    self._parameter_error(cmdlet, switch, bad_value=bound[switch])
        return bound

    def _parameter_error(self, cmdlet: _Cmdlet, name: str, *, ambiguous: bool = False, bad_value: Any = None) -> None:
        if bad_value is not None:
            message = (
                f"Cannot process argument transformation on parameter '{name}'. Cannot convert value "
                f'"{bad_value}" to type "System.Boolean".'
            )
            fqid = f"ParameterArgumentTransformationError,{cmdlet.name}"
        elif ambiguous:
            message = f"Parameter cannot be processed because the parameter name '{name}' is ambiguous."
            fqid = f"AmbiguousParameter,{cmdlet.name}"
        else:
            message = f"A parameter cannot be found that matches parameter name '{name}'."
            fqid = f"NamedParameterNotFound,{cmdlet.name}"
        raise _Terminate(
            ErrorSpec(
                message=message,
                exception_types=(
                    "System.Management.Automation.ParameterBindingException",
                    "System.Management.Automation.RuntimeException",
                    "System.SystemException",
                ),
                category=_INVALID_ARGUMENT,
                reason="ParameterBindingException",
                fully_qualified_error_id=fqid,
                terminating=True,
                activity=cmdlet.name,
            )
        )

    def _invoke(self, cmdlet: _Cmdlet, params: dict[str, Any]) -> Iterator[Emission]:
        self._current = cmdlet
        limit = self._result_size(cmdlet, params)
        self._errors = []
        for count, obj in enumerate(cmdlet.run(self, params)):
            yield from self._flush_errors()
            if limit is not None and count >= limit:
                if "ResultSize" not in params:
                    yield Warning(RESULT_SIZE_WARNING)
                break
            yield Output(obj)
        yield from self._flush_errors()

    def _flush_errors(self) -> Iterator[Emission]:
        while self._errors:
            yield self._errors.pop(0)

    def _result_size(self, cmdlet: _Cmdlet, params: dict[str, Any]) -> int | None:
        if "ResultSize" not in cmdlet.parameters:
            return None
        raw = params.get("ResultSize")
        if raw is None:
            return DEFAULT_RESULT_SIZE
        text = _text(raw).strip()
        if text.lower() == "unlimited":
            return None
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value <= 0:
            raise _Terminate(
                ErrorSpec(
                    message=(
                        f"Cannot process argument transformation on parameter 'ResultSize'. Cannot convert value "
                        f'"{text}" to type "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]". Error: "The value '
                        f'must be a positive integer or Unlimited."'
                    ),
                    exception_types=(
                        "System.Management.Automation.ParameterBindingException",
                        "System.Management.Automation.RuntimeException",
                        "System.SystemException",
                    ),
                    category=_INVALID_ARGUMENT,
                    reason="ParameterBindingArgumentTransformationException",
                    fully_qualified_error_id=f"ParameterArgumentTransformationError,{cmdlet.name}",
                    terminating=True,
                    activity=cmdlet.name,
                )
            )
        return value

    # -- helpers for the cmdlet bodies -------------------------------------------------------------------

    def not_found(self, identity: Any, id_type: str | None = None) -> None:
        """Queue Exchange's non-terminating ManagementObjectNotFoundException for ``identity``."""
        cmdlet = self._current
        assert cmdlet is not None
        text = _text(identity)
        task = cmdlet.task
        request = uuid.uuid4()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%m/%d/%Y %I:%M:%S %p")
        self._errors.append(
            ErrorSpec(
                message=(
                    f"The operation couldn't be performed because object '{text}' couldn't be found on "
                    f"'{self.org.domain_controller}'."
                ),
                exception_types=("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",),
                category=_NOT_SPECIFIED,
                reason="ManagementObjectNotFoundException",
                fully_qualified_error_id=(
                    f"[Server={self.org.server_name},RequestId={request},TimeStamp={stamp}] "
                    f"[FailureCategory=Cmdlet-ManagementObjectNotFoundException] 9A1B2C3D,{task}"
                ),
                terminating=False,
                activity=cmdlet.name,
                target_name=text,
                target_type=id_type or cmdlet.identity_type,
                target_object=text,
            )
        )

    def canonical(self, dn: str) -> str:
        """ADObjectId ToString of a directory object: its canonical name (exchange-outputs.md section 4)."""
        obj = self.tenant.by_dn(dn)
        if obj is not None:
            return obj.identity
        return dn

    def common_tail(
        self, dn: str, name: str, guid: str, category: str, classes: Sequence[str]
    ) -> list[tuple[str, Value]]:
        """The ADPresentationObject tail (seen on Mailbox and ExchangeServer)."""
        identity = self.canonical(dn)
        return [
            ("Identity", identity),
            ("IsValid", True),
            ("ExchangeVersion", "0.20 (15.0.0.0)"),
            ("Name", name),
            ("DistinguishedName", dn),
            ("Guid", uuid.UUID(guid)),
            ("ObjectCategory", f"{self.org.domain}/Configuration/Schema/{category}"),
            ("ObjectClass", mvp_string(classes)),
            ("WhenChanged", _CHANGED),
            ("WhenCreated", _CREATED),
            ("WhenChangedUTC", _CHANGED),
            ("WhenCreatedUTC", _CREATED),
            ("OrganizationId", ""),
            ("Id", identity),
            ("OriginatingServer", self.org.domain_controller),
            ("ObjectState", "Unchanged"),
        ]

    def config_tail(
        self, dn: str, name: str, guid: str, category: str, classes: Sequence[str], version: str = "0.20 (15.0.0.0)"
    ) -> list[tuple[str, Value]]:
        """The ADConfigurationObject tail (seen on AcceptedDomain, matches the ThrottlingPolicy fl)."""
        return [
            ("AdminDisplayName", ""),
            ("ExchangeVersion", version),
            ("Name", name),
            ("DistinguishedName", dn),
            ("Identity", name),
            ("Guid", uuid.UUID(guid)),
            ("ObjectCategory", f"{self.org.domain}/Configuration/Schema/{category}"),
            ("ObjectClass", mvp_string(classes)),
            ("WhenChanged", _CHANGED),
            ("WhenCreated", _CREATED),
            ("WhenChangedUTC", _CHANGED),
            ("WhenCreatedUTC", _CREATED),
            ("OrganizationId", ""),
            ("Id", name),
            ("OriginatingServer", self.org.domain_controller),
            ("IsValid", True),
            ("ObjectState", "Unchanged"),
        ]

    def groups_of(self, dn: str) -> set[str]:
        """Every group DN reaching ``dn`` (nested included), lower-case."""
        return self._authz.groups_of(dn)


# -- object builders ----------------------------------------------------------------------------------------

_RECIPIENT_CLASSES = ("top", "person", "organizationalPerson", "user")
_GROUP_CLASSES = ("top", "group")


def _address_list_membership(hidden: bool) -> MultiValued:
    if hidden:
        return mvp_adobjectid(())
    return mvp_adobjectid(("\\Mailboxes(VLV)", "\\All Recipients(VLV)", "\\Default Global Address List", "\\All Users"))


def _reduced_recipient(s: ExchangeSession, obj: Recipient | Group | RoleGroup) -> ExchangeObject:
    """Get-Recipient / Get-DistributionGroupMember / Get-RoleGroupMember output (ReducedRecipient : ADObject)."""
    org = s.org
    if isinstance(obj, Recipient):
        custom = obj.custom_attributes
        props: list[tuple[str, Value]] = [
            ("Alias", obj.alias),
            ("City", ""),
            ("Company", obj.company),
            *((f"CustomAttribute{i}", custom[i - 1]) for i in range(1, 16)),
            ("Database", org.database if obj.has_mailbox else None),
            ("Department", obj.department),
            ("DisplayName", obj.display_name),
            ("EmailAddresses", mvp_proxy_addresses(obj.email_addresses)),
            ("ExternalDirectoryObjectId", ""),
            ("FirstName", obj.first_name),
            ("HiddenFromAddressListsEnabled", obj.hidden_from_address_lists),
            ("LastName", obj.last_name),
            ("ManagedBy", mvp_adobjectid(())),
            ("Name", obj.name),
            ("OrganizationalUnit", obj.identity.rsplit("/", 1)[0]),
            ("PrimarySmtpAddress", obj.primary_smtp or ""),
            ("RecipientType", obj.recipient_type),
            ("RecipientTypeDetails", obj.recipient_type_details),
            ("SamAccountName", obj.sam_account_name),
            ("Title", obj.title),
            ("WindowsLiveID", ""),
        ]
        classes: Sequence[str] = _RECIPIENT_CLASSES
        category = "Person"
    else:
        custom = obj.custom_attributes if isinstance(obj, Group) else ("",) * 15
        props = [
            ("Alias", obj.alias if isinstance(obj, Group) else ""),
            ("City", ""),
            ("Company", ""),
            *((f"CustomAttribute{i}", custom[i - 1]) for i in range(1, 16)),
            ("Database", None),
            ("Department", obj.department if isinstance(obj, Group) else ""),
            ("DisplayName", obj.display_name),
            ("EmailAddresses", mvp_proxy_addresses(obj.email_addresses if isinstance(obj, Group) else ())),
            ("ExternalDirectoryObjectId", ""),
            ("FirstName", ""),
            ("HiddenFromAddressListsEnabled", obj.hidden_from_address_lists if isinstance(obj, Group) else False),
            ("LastName", ""),
            ("ManagedBy", mvp_adobjectid(s.canonical(dn) for dn in obj.managed_by)),
            ("Name", obj.name),
            ("OrganizationalUnit", obj.identity.rsplit("/", 1)[0]),
            ("PrimarySmtpAddress", (obj.primary_smtp or "") if isinstance(obj, Group) else ""),
            ("RecipientType", obj.recipient_type if isinstance(obj, Group) else "Group"),
            ("RecipientTypeDetails", obj.recipient_type_details if isinstance(obj, Group) else "RoleGroup"),
            ("SamAccountName", obj.sam_account_name),
            ("Title", ""),
            ("WindowsLiveID", ""),
        ]
        classes = _GROUP_CLASSES
        category = "Group"
    tail = s.common_tail(obj.dn, obj.name, obj.guid, category, classes)
    # ReducedRecipient derives from ADObject directly, so its tail has Name earlier; keep the common order.
    return ExchangeObject((M + "ReducedRecipient", *ADOBJECT_CHAIN), obj.name, tuple(props + tail))


def _mailbox(s: ExchangeSession, r: Recipient) -> ExchangeObject:
    """Get-Mailbox output (Mailbox : MailEnabledOrgPerson : MailEnabledRecipient : ADPresentationObject)."""
    org = s.org
    props: list[tuple[str, Value]] = [
        ("Database", org.database),
        ("UseDatabaseRetentionDefaults", True),
        ("RetainDeletedItemsUntilBackup", False),
        ("DeliverToMailboxAndForward", False),
        ("IsMailboxEnabled", True),
        ("ExchangeGuid", uuid.UUID(r.exchange_guid)),
        ("ArchiveGuid", _EMPTY_GUID),
        ("ThrottlingPolicy", r.throttling_policy),
        ("RoleAssignmentPolicy", "Default Role Assignment Policy"),
        ("ForwardingAddress", None),
        ("ForwardingSmtpAddress", None),
        ("ProhibitSendQuota", "Unlimited"),
        ("ServerName", org.server_name.lower()),
        ("AuditEnabled", False),
        ("AccountDisabled", r.account_disabled),
        ("IsShared", r.recipient_type_details == "SharedMailbox"),
        ("IsResource", r.recipient_type_details in ("RoomMailbox", "EquipmentMailbox")),
        ("SamAccountName", r.sam_account_name),
        ("UserPrincipalName", r.upn),
        ("AddressListMembership", _address_list_membership(r.hidden_from_address_lists)),
        ("Alias", r.alias),
        ("OrganizationalUnit", r.identity.rsplit("/", 1)[0]),
        *((f"CustomAttribute{i}", r.custom_attributes[i - 1]) for i in range(1, 16)),
        ("DisplayName", r.display_name),
        ("EmailAddresses", mvp_proxy_addresses(r.email_addresses)),
        ("HiddenFromAddressListsEnabled", r.hidden_from_address_lists),
        (
            "LegacyExchangeDN",
            f"/o={org.name}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={r.alias}",
        ),
        ("EmailAddressPolicyEnabled", True),
        ("PrimarySmtpAddress", r.primary_smtp or ""),
        ("RecipientType", r.recipient_type),
        ("RecipientTypeDetails", r.recipient_type_details),
        ("WindowsEmailAddress", r.primary_smtp or ""),
        ("MailTip", None),
    ]
    tail = s.common_tail(r.dn, r.name, r.guid, "Person", _RECIPIENT_CLASSES)
    chain = (M + "Mailbox", M + "MailEnabledOrgPerson", M + "MailEnabledRecipient", *ADPRESENTATION_CHAIN)
    return ExchangeObject(chain, r.name, tuple(props + tail))


def _user(s: ExchangeSession, r: Recipient) -> ExchangeObject:
    """Get-User output (User : OrgPersonPresentationObject : ADPresentationObject)."""
    props: list[tuple[str, Value]] = [
        ("IsSecurityPrincipal", True),
        ("SamAccountName", r.sam_account_name),
        ("Sid", r.sid),
        ("UserPrincipalName", r.upn),
        ("AccountDisabled", r.account_disabled),
        ("CanHaveMailbox", True),
        ("RemotePowerShellEnabled", True),
        ("RecipientType", r.recipient_type),
        ("RecipientTypeDetails", r.recipient_type_details),
        ("WindowsEmailAddress", r.primary_smtp or ""),
        ("City", ""),
        ("Company", r.company),
        ("Department", r.department),
        ("DisplayName", r.display_name),
        ("FirstName", r.first_name),
        ("LastName", r.last_name),
        ("Manager", None),
        ("Title", r.title),
        ("OrganizationalUnit", r.identity.rsplit("/", 1)[0]),
    ]
    tail = s.common_tail(r.dn, r.name, r.guid, "Person", _RECIPIENT_CLASSES)
    chain = (M + "User", M + "OrgPersonPresentationObject", *ADPRESENTATION_CHAIN)
    return ExchangeObject(chain, r.name, tuple(props + tail))


def _distribution_group(s: ExchangeSession, g: Group) -> ExchangeObject:
    """Get-DistributionGroup output (DistributionGroup : DistributionGroupBase : MailEnabledRecipient)."""
    props: list[tuple[str, Value]] = [
        ("GroupType", g.group_type),
        ("SamAccountName", g.sam_account_name),
        ("BypassNestedModerationEnabled", False),
        ("IsDirSynced", False),
        ("ManagedBy", mvp_adobjectid(s.canonical(dn) for dn in g.managed_by)),
        ("MemberJoinRestriction", g.member_join_restriction),
        ("MemberDepartRestriction", g.member_depart_restriction),
        ("MigrationToUnifiedGroupInProgress", False),
        ("ExpansionServer", ""),
        ("ReportToManagerEnabled", False),
        ("ReportToOriginatorEnabled", True),
        ("SendOofMessageToOriginatorEnabled", False),
        ("AcceptMessagesOnlyFrom", mvp_adobjectid(())),
        ("AcceptMessagesOnlyFromDLMembers", mvp_adobjectid(())),
        ("AcceptMessagesOnlyFromSendersOrMembers", mvp_adobjectid(())),
        ("AddressListMembership", _address_list_membership(g.hidden_from_address_lists)),
        ("AdministrativeUnits", mvp_adobjectid(())),
        ("Alias", g.alias),
        ("OrganizationalUnit", g.identity.rsplit("/", 1)[0]),
        *((f"CustomAttribute{i}", g.custom_attributes[i - 1]) for i in range(1, 16)),
        ("DisplayName", g.display_name),
        ("EmailAddresses", mvp_proxy_addresses(g.email_addresses)),
        ("HiddenFromAddressListsEnabled", g.hidden_from_address_lists),
        ("ModeratedBy", mvp_adobjectid(())),
        ("ModerationEnabled", False),
        ("EmailAddressPolicyEnabled", True),
        ("PrimarySmtpAddress", g.primary_smtp or ""),
        ("RecipientType", g.recipient_type),
        ("RecipientTypeDetails", g.recipient_type_details),
        ("RequireSenderAuthenticationEnabled", True),
        ("WindowsEmailAddress", g.primary_smtp or ""),
        ("MailTip", None),
    ]
    tail = s.common_tail(g.dn, g.name, g.guid, "Group", _GROUP_CLASSES)
    chain = (M + "DistributionGroup", M + "DistributionGroupBase", M + "MailEnabledRecipient", *ADPRESENTATION_CHAIN)
    return ExchangeObject(chain, g.name, tuple(props + tail))


def _windows_group(s: ExchangeSession, g: Group | RoleGroup) -> ExchangeObject:
    """Get-Group output (WindowsGroup : ADPresentationObject)."""
    props: list[tuple[str, Value]] = [
        ("DisplayName", g.display_name),
        ("GroupType", g.group_type if isinstance(g, Group) else "Universal, SecurityEnabled"),
        ("ManagedBy", mvp_adobjectid(s.canonical(dn) for dn in g.managed_by)),
        ("SamAccountName", g.sam_account_name),
        ("Sid", g.sid),
        ("Members", mvp_adobjectid(s.canonical(dn) for dn in g.members)),
        ("Notes", g.description if isinstance(g, RoleGroup) else ""),
        ("PhoneticDisplayName", ""),
        ("RecipientType", g.recipient_type if isinstance(g, Group) else "Group"),
        ("RecipientTypeDetails", g.recipient_type_details if isinstance(g, Group) else "RoleGroup"),
        ("WindowsEmailAddress", (g.primary_smtp or "") if isinstance(g, Group) else ""),
        ("OrganizationalUnit", g.identity.rsplit("/", 1)[0]),
    ]
    tail = s.common_tail(g.dn, g.name, g.guid, "Group", _GROUP_CLASSES)
    return ExchangeObject((M + "WindowsGroup", *ADPRESENTATION_CHAIN), g.name, tuple(props + tail))


def _role_group(s: ExchangeSession, g: RoleGroup) -> ExchangeObject:
    """Get-RoleGroup output; property order of the real Exchange 2016 Format-List (exchange-rbac.md 4.2)."""
    assignments = [a for a in s.tenant.role_assignments if a.assignee.lower() == g.dn.lower()]
    roles = list(dict.fromkeys(a.role for a in assignments))
    props: list[tuple[str, Value]] = [
        ("ManagedBy", mvp_adobjectid(s.canonical(dn) for dn in g.managed_by)),
        ("RoleAssignments", mvp_adobjectid(a.name for a in assignments)),
        ("Roles", mvp_adobjectid(roles)),
        ("DisplayName", g.display_name),
        ("ExternalDirectoryObjectId", ""),
        ("Members", mvp_adobjectid(s.canonical(dn) for dn in g.members)),
        ("SamAccountName", g.sam_account_name),
        ("Description", g.description),
        ("RoleGroupType", g.role_group_type),
        ("LinkedGroup", ""),
        ("Capabilities", mvp_string(())),
        ("LinkedPartnerGroupId", ""),
        ("LinkedPartnerOrganizationId", ""),
    ]
    tail = s.common_tail(g.dn, g.name, g.guid, "Group", _GROUP_CLASSES)
    for i, (name, _value) in enumerate(tail):
        if name == "ExchangeVersion":
            tail[i] = (name, "0.10 (14.0.100.0)")
    return ExchangeObject((M + "RoleGroup", *ADPRESENTATION_CHAIN), g.name, tuple(props + tail))


def _assignment(
    s: ExchangeSession,
    a: RoleAssignment,
    *,
    effective_user: Recipient | None = None,
    chain: Sequence[str] = (),
) -> ExchangeObject:
    """Get-ManagementRoleAssignment output (ExchangeRoleAssignmentPresentation), fl order of exchange-rbac.md 1.3."""
    assignee_id = s.canonical(a.assignee)
    if effective_user is not None:
        user_id: str = effective_user.identity
        effective_name = effective_user.name
        method = "SecurityGroup" if a.assignee_type == "SecurityGroup" else "RoleGroup"
        identity = f"{a.name}\\{effective_user.name}"
        assignment_chain: Value = mvp_adobjectid(chain)
    else:
        user_id = assignee_id
        # Group rows carry this marker; Microsoft's own guidance filters on it (exchange-rbac.md 1.3).
        effective_name = a.assignee_name if a.assignee_type == "User" else "All Group Members"
        method = "Direct"
        identity = a.name
        assignment_chain = None
    write_scope = a.recipient_write_scope
    props: list[tuple[str, Value]] = [
        ("DataObject", a.name),
        ("User", user_id),
        ("AssignmentMethod", method),
        ("Identity", identity),
        ("EffectiveUserName", effective_name),
        ("AssignmentChain", assignment_chain),
        ("RoleAssigneeType", a.assignee_type),
        ("RoleAssignee", assignee_id),
        ("Role", a.role),
        ("RoleAssignmentDelegationType", a.delegation),
        ("CustomRecipientWriteScope", a.custom_recipient_write_scope),
        ("CustomConfigWriteScope", None),
        ("RecipientReadScope", a.recipient_read_scope),
        ("ConfigReadScope", a.config_read_scope),
        ("RecipientWriteScope", write_scope),
        ("ConfigWriteScope", a.config_write_scope),
        ("Enabled", a.enabled),
        ("RoleAssigneeName", a.assignee_name),
        ("IsValid", True),
        ("ExchangeVersion", "0.11 (14.0.550.0)"),
        ("Name", a.name),
        ("DistinguishedName", a.dn),
        ("Guid", uuid.UUID(a.guid)),
        ("ObjectCategory", f"{s.org.domain}/Configuration/Schema/ms-Exch-Role-Assignment"),
        ("ObjectClass", mvp_string(("top", "msExchRoleAssignment"))),
        ("WhenChanged", _CHANGED),
        ("WhenCreated", _CREATED),
        ("WhenChangedUTC", _CHANGED),
        ("WhenCreatedUTC", _CREATED),
        ("OrganizationId", ""),
        ("Id", identity),
        ("OriginatingServer", s.org.domain_controller),
        ("ObjectState", "Unchanged"),
    ]
    return ExchangeObject((M + "ExchangeRoleAssignmentPresentation", *ADPRESENTATION_CHAIN), a.name, tuple(props))


def _scope(s: ExchangeSession, sc: ManagementScope) -> ExchangeObject:
    """Get-ManagementScope output (ManagementScope : ADConfigurationObject), DECOMP declaration order."""
    props: list[tuple[str, Value]] = [
        ("RecipientRoot", sc.recipient_root),
        ("RecipientFilter", sc.recipient_filter or None),
        ("ServerFilter", None),
        ("DatabaseFilter", None),
        ("TenantOrganizationFilter", None),
        ("ScopeRestrictionType", sc.scope_restriction_type),
        ("Exclusive", sc.exclusive),
    ]
    tail = s.config_tail(sc.dn, sc.name, sc.guid, "ms-Exch-Scope", ("top", "msExchScope"), "0.12 (14.0.451.0)")
    return ExchangeObject((SC + "ManagementScope", *ADCONFIG_CHAIN), sc.name, tuple(props + tail))


def _role(s: ExchangeSession, r: ManagementRole) -> ExchangeObject:
    """Get-ManagementRole output (ExchangeRole : ADConfigurationObject)."""
    impersonation = r.role_type == "ApplicationImpersonation"
    props: list[tuple[str, Value]] = [
        ("RoleEntries", mvp_string(())),
        ("RoleType", r.role_type),
        ("ImplicitRecipientReadScope", "Organization"),
        ("ImplicitRecipientWriteScope", "Organization"),
        ("ImplicitConfigReadScope", "None" if impersonation else "OrganizationConfig"),
        ("ImplicitConfigWriteScope", "None" if impersonation else "OrganizationConfig"),
        ("IsRootRole", r.parent is None),
        ("IsEndUserRole", False),
        ("MailboxPlanIndex", ""),
        ("Description", ""),
        ("Parent", r.parent),
        ("IsDeprecated", False),
    ]
    tail = s.config_tail(r.dn, r.name, r.guid, "ms-Exch-Role", ("top", "msExchRole"), "0.11 (14.0.550.0)")
    return ExchangeObject((SC + "ExchangeRole", *ADCONFIG_CHAIN), r.name, tuple(props + tail))


def _throttling(s: ExchangeSession, p: ThrottlingPolicy) -> ExchangeObject:
    """Get-ThrottlingPolicy output; Ews* spelling and order of the real fl (exchange-outputs.md 4.8)."""
    ews = "Unlimited" if p.ews_max_concurrency is None else str(p.ews_max_concurrency)
    props: list[tuple[str, Value]] = [
        ("ThrottlingPolicyScope", p.scope),
        ("IsServiceAccount", p.is_service_account),
        ("AnonymousMaxConcurrency", "1"),
        ("EasMaxConcurrency", "10"),
        ("EasMaxDevices", "100"),
        ("EwsMaxConcurrency", ews),
        ("EwsMaxBurst", "300000"),
        ("EwsRechargeRate", "900000"),
        ("EwsCutoffBalance", "3000000"),
        ("EwsMaxSubscriptions", "5000"),
        ("ImapMaxConcurrency", "Unlimited"),
        ("OwaMaxConcurrency", "20"),
        ("PopMaxConcurrency", "20"),
        ("PowerShellMaxConcurrency", "18"),
        ("PowerShellMaxRunspaces", "Unlimited"),
        ("MessageRateLimit", "Unlimited"),
        ("RecipientRateLimit", "Unlimited"),
        ("ForwardeeLimit", "Unlimited"),
        ("IsLegacyDefault", False),
        ("Diagnostics", None),
    ]
    tail = s.config_tail(
        p.dn, p.name, p.guid, "ms-Exch-Throttling-Policy", ("top", "msExchGenericPolicy", "msExchThrottlingPolicy")
    )
    return ExchangeObject((SC + "ThrottlingPolicy", *ADCONFIG_CHAIN), p.name, tuple(props + tail))


def _organization(s: ExchangeSession) -> ExchangeObject:
    """Get-OrganizationConfig output (EWS-related settings as a default on-premises org: all Nil)."""
    org = s.org
    props: list[tuple[str, Value]] = [
        ("OrganizationId", ""),
        ("Name", org.name),
        ("Identity", org.name),
        ("Guid", uuid.UUID(org.guid)),
        ("AdminDisplayVersion", "0.20 (15.1.0.0)"),
        ("EwsAllowEntourage", None),
        ("EwsAllowList", None),
        ("EwsAllowMacOutlook", None),
        ("EwsAllowOutlook", None),
        ("EwsApplicationAccessPolicy", None),
        ("EwsBlockList", None),
        ("EwsEnabled", None if org.ews_enabled else False),
        ("IsDehydrated", False),
        ("LegacyExchangeDN", f"/o={org.name}"),
        ("MapiHttpEnabled", True),
        ("OAuth2ClientProfileEnabled", False),
        ("DisplayName", ""),
        ("ExchangeVersion", "2.0 (15.0.0.0)"),
        ("DistinguishedName", org.config_dn),
        ("ObjectCategory", f"{org.domain}/Configuration/Schema/ms-Exch-Organization-Container"),
        ("ObjectClass", mvp_string(("top", "container", "msExchOrganizationContainer"))),
        ("WhenChanged", _CHANGED),
        ("WhenCreated", _CREATED),
        ("WhenChangedUTC", _CHANGED),
        ("WhenCreatedUTC", _CREATED),
        ("Id", org.name),
        ("OriginatingServer", org.domain_controller),
        ("IsValid", True),
        ("ObjectState", "Unchanged"),
    ]
    return ExchangeObject((M + "OrganizationConfig", *ADPRESENTATION_CHAIN), org.name, tuple(props))


def _server(s: ExchangeSession) -> ExchangeObject:
    """Get-ExchangeServer output; property order of the real E19 object (exchange-outputs.md 4.1)."""
    org = s.org
    dn = (
        f"CN={org.server_name},CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),"
        f"CN=Administrative Groups,{org.config_dn}"
    )
    props: list[tuple[str, Value]] = [
        ("Name", org.server_name),
        ("Domain", org.domain),
        ("Edition", org.edition),
        (
            "ExchangeLegacyDN",
            f"/o={org.name}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers"
            f"/cn={org.server_name}",
        ),
        ("Fqdn", org.server_fqdn),
        ("IsClientAccessServer", True),
        ("IsMailboxServer", True),
        ("IsE14OrLater", True),
        ("IsE15OrLater", True),
        ("OrganizationalUnit", f"{org.domain}/{org.server_name}"),
        ("AdminDisplayVersion", org.admin_display_version),
        ("Site", f"{org.domain}/Configuration/Sites/Default-First-Site-Name"),
        ("ServerRole", "Mailbox"),
        ("Identity", org.server_name),
        ("IsValid", True),
        ("ExchangeVersion", "0.1 (8.0.535.0)"),
        ("DistinguishedName", dn),
        ("Guid", uuid.uuid5(uuid.NAMESPACE_DNS, org.server_fqdn)),
        ("ObjectCategory", f"{org.domain}/Configuration/Schema/ms-Exch-Exchange-Server"),
        ("ObjectClass", mvp_string(("top", "server", "msExchExchangeServer"))),
        ("WhenChanged", _CHANGED),
        ("WhenCreated", _CREATED),
        ("WhenChangedUTC", _CHANGED),
        ("WhenCreatedUTC", _CREATED),
        ("OrganizationId", ""),
        ("Id", org.server_name),
        ("OriginatingServer", org.domain_controller),
        ("ObjectState", "Unchanged"),
    ]
    return ExchangeObject((M + "ExchangeServer", *ADPRESENTATION_CHAIN), org.server_name, tuple(props))


# -- cmdlet bodies ------------------------------------------------------------------------------------------


def _matches_name(pattern: str, *names: str) -> bool:
    """Exchange identity matching: case-insensitive, '*' wildcards allowed."""
    pat = pattern.strip().lower()
    if "*" in pat:
        return any(fnmatch.fnmatchcase(n.lower(), pat) for n in names if n)
    return any(n.lower() == pat for n in names if n)


def _get_role_assignment(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    t = s.tenant
    assignments: list[RoleAssignment] = list(t.role_assignments)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        assignments = [a for a in assignments if _matches_name(wanted, a.name, a.guid, a.dn)]
        if not assignments:
            s.not_found(wanted, "RoleAssignmentIdParameter")
            return
    assignee_filter: set[str] | None = None
    assignee_user: Recipient | None = None
    if p.get("RoleAssignee") is not None:
        wanted = _text(p["RoleAssignee"])
        target = t.resolve(wanted)
        if target is None:
            s.not_found(wanted, "RoleAssigneeIdParameter")
            return
        # Direct assignments plus those reaching the assignee through role groups and USGs, nested included.
        assignee_filter = {target.dn.lower()} | s.groups_of(target.dn)
        if isinstance(target, Recipient):
            assignee_user = target
        assignments = [a for a in assignments if a.assignee.lower() in assignee_filter]
    if p.get("Role") is not None:
        wanted = _text(p["Role"])
        role = t.role(wanted)
        if role is None:
            s.not_found(wanted, "RoleIdParameter")
            return
        assignments = [a for a in assignments if a.role.lower() == role.name.lower()]
    if p.get("CustomRecipientWriteScope") is not None:
        wanted = _text(p["CustomRecipientWriteScope"])
        scope = t.scope(wanted)
        if scope is None:
            s.not_found(wanted, "ManagementScopeIdParameter")
            return
        # Only Regular assignments using that scope (exchange-rbac.md 1.1).
        assignments = [
            a
            for a in assignments
            if a.delegation == "Regular" and (a.custom_recipient_write_scope or "").lower() == scope.name.lower()
        ]
    if p.get("Delegating") is not None:
        delegating = _as_bool(p["Delegating"])
        assignments = [a for a in assignments if (a.delegation != "Regular") == delegating]
    if p.get("Enabled") is not None:
        enabled = _as_bool(p["Enabled"])
        assignments = [a for a in assignments if a.enabled == enabled]
    if p.get("RecipientWriteScope") is not None:
        wanted = _text(p["RecipientWriteScope"]).lower()
        assignments = [a for a in assignments if a.recipient_write_scope.lower() == wanted]
    if p.get("ConfigWriteScope") is not None:
        wanted = _text(p["ConfigWriteScope"]).lower()
        assignments = [a for a in assignments if a.config_write_scope.lower() == wanted]
    if p.get("Exclusive") is not None:
        exclusive = _as_bool(p["Exclusive"])
        assignments = [a for a in assignments if _is_exclusive(t, a) == exclusive]
    if p.get("RoleAssigneeType") is not None:
        wanted = _text(p["RoleAssigneeType"]).lower()
        assignments = [a for a in assignments if a.assignee_type.lower() == wanted]
    if p.get("AssignmentMethod") is not None:
        methods = {m.strip().lower() for m in _text(p["AssignmentMethod"]).split(",")}
        assignments = [a for a in assignments if _method(a, assignee_user).lower() in methods]
    effective = bool(p.get("GetEffectiveUsers"))
    for a in assignments:
        yield _assignment(s, a)
        if effective and a.assignee_type != "User":
            yield from _effective_rows(s, a, assignee_user)


def _is_exclusive(t: Tenant, a: RoleAssignment) -> bool:
    scope = t.scope(a.custom_recipient_write_scope) if a.custom_recipient_write_scope else None
    return scope is not None and scope.exclusive


def _method(a: RoleAssignment, user: Recipient | None) -> str:
    if user is not None and a.assignee.lower() == user.dn.lower():
        return "Direct"
    return {"RoleGroup": "RoleGroup", "SecurityGroup": "SecurityGroup"}.get(a.assignee_type, "Direct")


def _effective_rows(s: ExchangeSession, a: RoleAssignment, only: Recipient | None) -> Iterator[ExchangeObject]:
    """One row per user reached through the assignee group, nested groups expanded (AssignmentChain)."""
    holder = s.tenant.by_dn(a.assignee)
    if holder is None or isinstance(holder, Recipient):
        return
    seen: set[str] = set()
    todo: list[tuple[Group | RoleGroup, tuple[str, ...]]] = [(holder, (holder.identity,))]
    while todo:
        group, chain = todo.pop(0)
        for member in s.tenant.members(group):
            key = member.dn.lower()
            if key in seen:
                continue
            seen.add(key)
            if isinstance(member, Recipient):
                if only is None or member.dn.lower() == only.dn.lower():
                    yield _assignment(s, a, effective_user=member, chain=chain)
            else:
                todo.append((member, (*chain, member.identity)))


def _get_scope(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    scopes = list(s.tenant.scopes)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        scopes = [sc for sc in scopes if _matches_name(wanted, sc.name, sc.guid, sc.dn)]
        if not scopes:
            s.not_found(wanted, "ManagementScopeIdParameter")
            return
    if p.get("Exclusive") is not None:
        exclusive = _as_bool(p["Exclusive"])
        scopes = [sc for sc in scopes if sc.exclusive == exclusive]
    if p.get("Orphan"):
        used = {(a.custom_recipient_write_scope or "").lower() for a in s.tenant.role_assignments}
        scopes = [sc for sc in scopes if sc.name.lower() not in used]
    for sc in scopes:
        yield _scope(s, sc)


def _get_role(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    roles = list(s.tenant.roles)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        roles = [r for r in roles if _matches_name(wanted, r.name, r.guid, r.dn)]
        if not roles:
            s.not_found(wanted, "RoleIdParameter")
            return
    if p.get("RoleType") is not None:
        wanted = _text(p["RoleType"]).lower()
        roles = [r for r in roles if r.role_type.lower() == wanted]
    for r in roles:
        yield _role(s, r)


def _get_role_group(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    groups = list(s.tenant.role_groups)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        groups = [g for g in groups if _matches_name(wanted, g.name, g.display_name, g.guid, g.dn, g.identity)]
        if not groups:
            s.not_found(wanted, "RoleGroupIdParameter")
            return
    for g in groups:
        yield _role_group(s, g)


def _get_role_group_member(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    wanted = _text(p.get("Identity"))
    group = s.tenant.role_group(wanted) if wanted else None
    if group is None:
        s.not_found(wanted, "RoleGroupMemberIdParameter")
        return
    for member in s.tenant.members(group):
        yield _reduced_recipient(s, member)


def _distribution_groups(s: ExchangeSession) -> list[Group]:
    return [g for g in s.tenant.groups if g.is_mail_enabled]


def _type_filter(p: dict[str, Any]) -> set[str] | None:
    raw = p.get("RecipientTypeDetails")
    if raw is None:
        return None
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    return {str(i).strip().lower() for i in items}


def _get_distribution_group(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    groups = _distribution_groups(s)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.group(wanted)
        if found is not None and found.is_mail_enabled:
            groups = [found]
        else:
            groups = [g for g in groups if "*" in wanted and _matches_name(wanted, g.name, g.display_name, g.alias)]
        if not groups:
            s.not_found(wanted, "DistributionGroupIdParameter")
            return
    types = _type_filter(p)
    for g in groups:
        if types is None or g.recipient_type_details.lower() in types:
            yield _distribution_group(s, g)


def _get_distribution_group_member(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    wanted = _text(p.get("Identity"))
    group = s.tenant.group(wanted) if wanted else None
    if group is None or not group.is_mail_enabled:
        s.not_found(wanted, "DistributionGroupMemberIdParameter")
        return
    # Direct members only; a nested group appears as a group object and is not expanded.
    for member in s.tenant.members(group):
        yield _reduced_recipient(s, member)


def _get_group(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    everything: list[Group | RoleGroup] = [*s.tenant.groups, *s.tenant.role_groups]
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.resolve(wanted)
        everything = [found] if isinstance(found, Group | RoleGroup) else []
        if not everything:
            s.not_found(wanted, "GroupIdParameter")
            return
    types = _type_filter(p)
    for g in everything:
        details = g.recipient_type_details if isinstance(g, Group) else "RoleGroup"
        if types is None or details.lower() in types:
            yield _windows_group(s, g)


def _get_user(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    users = list(s.tenant.recipients)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.resolve_recipient(wanted)
        users = [found] if found is not None else []
        if not users:
            s.not_found(wanted, "UserIdParameter")
            return
    types = _type_filter(p)
    for r in users:
        if types is None or r.recipient_type_details.lower() in types:
            yield _user(s, r)


def _get_mailbox(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.mailbox(wanted)
        if found is None:
            s.not_found(wanted, "MailboxIdParameter")
            return
        mailboxes: Iterable[Recipient] = [found]
    else:
        mailboxes = s.tenant.mailboxes()
    types = _type_filter(p)
    for r in mailboxes:
        if types is None or r.recipient_type_details.lower() in types:
            yield _mailbox(s, r)


# Get-Recipient -Filter: the simple forms an auditor uses (one comparison, or several joined by -and).
_FILTER_TERM = re.compile(
    r"^\s*\(?\s*([A-Za-z0-9]+)\s+-(eq|ne|like)\s+(?:'((?:[^']|'')*)'|\"([^\"]*)\")\s*\)?\s*$", re.I
)


def _recipient_filter(s: ExchangeSession, text: str) -> Callable[[Recipient | Group], bool]:
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    terms = re.split(r"\s+-and\s+", body, flags=re.I)
    tests: list[Callable[[Recipient | Group], bool]] = []
    for term in terms:
        m = _FILTER_TERM.match(term)
        if m is None:
            raise _Terminate(_invalid_filter(text))
        prop, op, quoted, dquoted = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
        value = (quoted.replace("''", "'") if quoted is not None else dquoted) or ""
        tests.append(_filter_term(s, prop, op, value, text))
    return lambda r: all(test(r) for test in tests)


def _filter_term(s: ExchangeSession, prop: str, op: str, value: str, text: str) -> Callable[[Recipient | Group], bool]:
    key = prop.lower()
    if key == "memberofgroup":
        group = s.tenant.by_dn(value) or s.tenant.resolve(value)
        group_dn = group.dn.lower() if group is not None else value.lower()

        def member(r: Recipient | Group) -> bool:
            return group_dn in {d.lower() for d in s.tenant.member_of(r.dn)}

        return member if op == "eq" else (lambda r: not member(r))
    getters: dict[str, Callable[[Recipient | Group], str]] = {
        "recipienttypedetails": lambda r: r.recipient_type_details,
        "recipienttype": lambda r: r.recipient_type,
        "alias": lambda r: r.alias,
        "name": lambda r: r.name,
        "displayname": lambda r: r.display_name,
        "department": lambda r: r.department,
        "primarysmtpaddress": lambda r: r.primary_smtp or "",
    }
    for n in range(1, 16):
        getters[f"customattribute{n}"] = _custom_getter(n)
    getter = getters.get(key)
    if getter is None:
        raise _Terminate(_invalid_filter(text, prop))
    wanted = value.lower()
    if op == "like":
        return lambda r: fnmatch.fnmatchcase(getter(r).lower(), wanted)
    if op == "eq":
        return lambda r: getter(r).lower() == wanted
    return lambda r: getter(r).lower() != wanted


def _custom_getter(n: int) -> Callable[[Recipient | Group], str]:
    return lambda r: r.custom_attributes[n - 1]


def _invalid_filter(text: str, prop: str | None = None) -> ErrorSpec:
    reason = f'"{prop}" is not a recognized filterable property.' if prop else "Invalid filter syntax."
    return ErrorSpec(
        message=(
            f'Cannot bind parameter \'Filter\' to the target. Exception setting "Filter": "{reason} For a '
            f'description of the filter parameter syntax see the command help.\n"{text}""'
        ),
        exception_types=(
            "System.Management.Automation.ParameterBindingException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
        ),
        category=_INVALID_ARGUMENT,
        reason="ParameterBindingException",
        fully_qualified_error_id="ParameterBindingFailed,Microsoft.Exchange.Management.RecipientTasks.GetRecipient",
        terminating=True,
        activity="Get-Recipient",
    )


def _get_recipient(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    everything: Iterable[Recipient | Group]
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.resolve(wanted)
        if not isinstance(found, Recipient | Group):
            s.not_found(wanted, "RecipientIdParameter")
            return
        everything = [found]
    types = _type_filter(p)
    kinds = None
    if p.get("RecipientType") is not None:
        kinds = {k.strip().lower() for k in _text(p["RecipientType"]).split(",")}
    if p.get("Identity") is None:
        # Get-Recipient returns mail-enabled objects; a plain user only when its type is asked for by name.
        want_plain_users = bool(({"user", "disableduser"} & (types or set())) or ("user" in (kinds or set())))
        everything = [
            *(r for r in s.tenant.recipients if r.primary_smtp or want_plain_users),
            *(g for g in s.tenant.groups if g.is_mail_enabled),
        ]
    test = _recipient_filter(s, _text(p["Filter"])) if p.get("Filter") is not None else None
    for r in everything:
        if types is not None and r.recipient_type_details.lower() not in types:
            continue
        if kinds is not None and r.recipient_type.lower() not in kinds:
            continue
        if test is not None and not test(r):
            continue
        yield _reduced_recipient(s, r)


def _get_throttling(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    policies = list(s.tenant.throttling_policies)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        policies = [x for x in policies if _matches_name(wanted, x.name, x.guid, x.dn)]
        if not policies:
            s.not_found(wanted, "ThrottlingPolicyIdParameter")
            return
    for x in policies:
        yield _throttling(s, x)


def _get_org(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    yield _organization(s)


def _get_server(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        if not _matches_name(wanted, s.org.server_name, s.org.server_fqdn):
            s.not_found(wanted, "ServerIdParameter")
            return
    yield _server(s)


_COMMON = ("DomainController", "ErrorAction", "WarningAction", "Verbose", "Debug")
_RBAC = "Microsoft.Exchange.Management.RbacTasks."
_RECIPIENT = "Microsoft.Exchange.Management.RecipientTasks."
_SYSCONF = "Microsoft.Exchange.Management.SystemConfigurationTasks."

_CMDLET_LIST = (
    _Cmdlet(
        "Get-ManagementRoleAssignment",
        _RBAC + "GetManagementRoleAssignment",
        (
            "Identity",
            "RoleAssignee",
            "Role",
            "AssignmentMethod",
            "Delegating",
            "Enabled",
            "GetEffectiveUsers",
            "RoleAssigneeType",
            "CustomRecipientWriteScope",
            "ConfigWriteScope",
            "RecipientWriteScope",
            "Exclusive",
            # No -ResultSize: Get-ManagementRoleAssignment returns every match (its documented syntax has none).
            *_COMMON,
        ),
        "RoleAssignmentIdParameter",
        _get_role_assignment,
        frozenset({"GetEffectiveUsers", "Delegating", "Enabled", "Exclusive"}),
    ),
    _Cmdlet(
        "Get-ManagementScope",
        _SYSCONF + "GetManagementScope",
        ("Identity", "Exclusive", "Orphan", *_COMMON),
        "ManagementScopeIdParameter",
        _get_scope,
        frozenset({"Exclusive", "Orphan"}),
    ),
    _Cmdlet(
        "Get-ManagementRole",
        _RBAC + "GetManagementRole",
        ("Identity", "RoleType", "Recurse", "GetChildren", "Cmdlet", "CmdletParameters", *_COMMON),
        "RoleIdParameter",
        _get_role,
        frozenset({"Recurse", "GetChildren"}),
    ),
    _Cmdlet(
        "Get-RoleGroup",
        _RBAC + "GetRoleGroup",
        ("Identity", "Filter", "ResultSize", "SortBy", "ShowPartnerLinked", "ReadFromDomainController", *_COMMON),
        "RoleGroupIdParameter",
        _get_role_group,
        frozenset({"ShowPartnerLinked", "ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-RoleGroupMember",
        _RBAC + "GetRoleGroupMember",
        ("Identity", "ResultSize", "ReadFromDomainController", *_COMMON),
        "RoleGroupMemberIdParameter",
        _get_role_group_member,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-DistributionGroup",
        _RECIPIENT + "GetDistributionGroup",
        ("Identity", "RecipientTypeDetails", "Filter", "ResultSize", "SortBy", "ReadFromDomainController", *_COMMON),
        "DistributionGroupIdParameter",
        _get_distribution_group,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-DistributionGroupMember",
        _RECIPIENT + "GetDistributionGroupMember",
        ("Identity", "ResultSize", "ReadFromDomainController", "IgnoreDefaultScope", *_COMMON),
        "DistributionGroupMemberIdParameter",
        _get_distribution_group_member,
        frozenset({"ReadFromDomainController", "IgnoreDefaultScope"}),
    ),
    _Cmdlet(
        "Get-Group",
        _RECIPIENT + "GetGroup",
        ("Identity", "RecipientTypeDetails", "Filter", "ResultSize", "SortBy", "ReadFromDomainController", *_COMMON),
        "GroupIdParameter",
        _get_group,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-User",
        _RECIPIENT + "GetUser",
        ("Identity", "RecipientTypeDetails", "Filter", "ResultSize", "SortBy", "ReadFromDomainController", *_COMMON),
        "UserIdParameter",
        _get_user,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-Mailbox",
        _RECIPIENT + "GetMailbox",
        ("Identity", "RecipientTypeDetails", "Filter", "ResultSize", "SortBy", "ReadFromDomainController", *_COMMON),
        "MailboxIdParameter",
        _get_mailbox,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-Recipient",
        _RECIPIENT + "GetRecipient",
        (
            "Identity",
            "Filter",
            "RecipientType",
            "RecipientTypeDetails",
            "ResultSize",
            "SortBy",
            "ReadFromDomainController",
            *_COMMON,
        ),
        "RecipientIdParameter",
        _get_recipient,
        frozenset({"ReadFromDomainController"}),
    ),
    _Cmdlet(
        "Get-ThrottlingPolicy",
        _SYSCONF + "GetThrottlingPolicy",
        ("Identity", "Explicit", "Diagnostics", *_COMMON),
        "ThrottlingPolicyIdParameter",
        _get_throttling,
        frozenset({"Explicit", "Diagnostics"}),
    ),
    _Cmdlet(
        "Get-OrganizationConfig",
        _SYSCONF + "GetOrganizationConfig",
        ("Identity", *_COMMON),
        "OrganizationIdParameter",
        _get_org,
    ),
    _Cmdlet(
        "Get-ExchangeServer",
        _SYSCONF + "GetExchangeServer",
        ("Identity", "Domain", "Status", *_COMMON),
        "ServerIdParameter",
        _get_server,
        frozenset({"Status"}),
    ),
)
_CMDLETS = {c.name.lower(): c for c in _CMDLET_LIST}


def run_pipeline(
    tenant: Tenant,
    user: str,
    statements: Sequence[Sequence[CommandCall]],
    on_cmdlet: Callable[[str, str, dict[str, str]], None] | None = None,
) -> Iterator[Emission]:
    """Run one CreatePipeline's statements for ``user`` against ``tenant``."""
    return ExchangeSession(tenant, user, on_cmdlet).run(statements)
