"""Which recipient properties OPATH knows, how they are spelled, and which exaudit can evaluate over a snapshot.

The names come from Microsoft's "Filterable properties for the RecipientFilter parameter on Exchange cmdlets"
(https://learn.microsoft.com/powershell/exchange/recipientfilter-properties). Exchange matches property names
case-insensitively; the table gives the spelling exaudit prints. Only the properties the snapshot's
``Recipient`` record holds can be evaluated; any other name is an error at compile time, never a silent false.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type here: importing the snapshot models would cost `exaudit validate` their build time
    from audit.snapshot import Recipient


class Kind(enum.Enum):
    """How a property's values compare."""

    TEXT = "text"  # case-insensitive text, as Active Directory compares most strings
    DN = "dn"  # a distinguished name: case-insensitive, whitespace around RDN separators ignored
    SMTP = "smtp"  # PrimarySmtpAddress: the primary address and every SMTP proxy address
    PROXY = "proxy"  # EmailAddresses: proxy addresses, "smtp:" prefix optional
    BOOL = "bool"  # $true / $false (Exchange also regenerates them as 'True' / 'False')


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """How to read one evaluable property from a ``Recipient``."""

    name: str
    kind: Kind
    # Text-like kinds: the property's values (empty tuple when unset). BOOL: the flag.
    values: Callable[[Recipient], tuple[str, ...]] | None = None
    flag: Callable[[Recipient], bool] | None = None


# Every property name listed on the RecipientFilter page, in Microsoft's spelling (the page spells
# SingleItemRecoveryEnabled with a lower-case r; the cmdlets use the upper-case one, kept here), plus
# RecipientTypeDetailsValue, which Exchange itself writes into the filters it regenerates.
_NAMES = """
AcceptMessagesOnlyFrom AcceptMessagesOnlyFromDLMembers ActiveSyncAllowedDeviceIDs ActiveSyncBlockedDeviceIDs
ActiveSyncEnabled ActiveSyncMailboxPolicy ActiveSyncSuppressReadReceipt AddressBookPolicy AddressListMembership
AdminDisplayName AdministrativeUnits AggregatedMailboxGuids Alias AllowUMCallsFromNonUsers ArbitrationMailbox
ArchiveDatabase ArchiveDomain ArchiveGuid ArchiveName ArchiveQuota ArchiveWarningQuota ArchiveRelease ArchiveState
ArchiveStatus AssistantName AuditEnabled AuditLogAgeLimit AuthenticationPolicy C CalendarLoggingQuota
CalendarRepairDisabled Certificate CertificateSubject City Co CommonName ComplianceTagHoldApplied Company
CountryOrRegion Database Department DataEncryptionPolicy DefaultPublicFolderMailbox DeletedItemFlags
DeliverToMailboxAndForward Description DirectReports DisabledArchiveDatabase DisabledArchiveGuid DisplayName
DistinguishedName EcpEnabled ElcExpirationSuspensionEndDate ElcExpirationSuspensionStartDate ElcMailboxFlags
EmailAddresses EmailAddressPolicyEnabled EntryId EwsApplicationAccessPolicy EwsEnabled ExchangeGuid
ExchangeUserAccountControl ExchangeVersion ExpansionServer ExternalDirectoryObjectId ExternalEmailAddress
ExternalOofOptions Fax FirstName ForwardingAddress ForwardingSmtpAddress GeneratedOfflineAddressBooks
GrantSendOnBehalfTo GroupType Guid HasActiveSyncDevicePartnership HiddenFromAddressListsEnabled
HiddenGroupMembershipEnabled HomeMTA HomePhone Id ImapEnabled ImmutableId IncludedRecipients
IncludeInGarbageCollection Initials InPlaceHolds InPlaceHoldsRaw InternetEncoding IsDirSynced
IsExcludedFromServingHierarchy IsHierarchyReady IsHierarchySyncEnabled IsInactiveMailbox IsMailboxEnabled
IsSecurityPrincipal IsSoftDeletedByDisable IsSoftDeletedByRemove IssueWarningQuota JournalArchiveAddress
LanguagesRaw LastExchangeChangedTime LastName LdapRecipientFilter LegacyExchangeDN LitigationHoldDate
LitigationHoldEnabled LitigationHoldOwner LocaleID MailboxMoveBatchName MailboxMoveFlags MailboxMoveRemoteHostName
MailboxMoveSourceMDB MailboxMoveStatus MailboxMoveTargetMDB MailboxPlan MailboxRelease MailTipTranslations
ManagedBy Manager MAPIEnabled MapiRecipient MaxBlockedSenders MaxSafeSenders MaxReceiveSize MaxSendSize
MemberDepartRestriction MemberJoinRestriction MemberOfGroup Members MessageHygieneFlags
MobileAdminExtendedSettings MobileMailboxFlags MobileFeaturesEnabled MobilePhone ModeratedBy ModerationEnabled
Name NetID Notes ObjectCategory ObjectClass Office OfflineAddressBook OperatorNumber OtherFax OtherHomePhone
OtherTelephone OWAEnabled OWAforDevicesEnabled OWAMailboxPolicy Pager Phone PhoneProviderId PhoneticCompany
PhoneticDepartment PhoneticDisplayName PhoneticFirstName PhoneticLastName PoliciesExcluded PoliciesIncluded
PopEnabled PostalCode PostOfficeBox PreviousRecipientTypeDetails PrimaryGroupId PrimarySmtpAddress
ProhibitSendQuota ProhibitSendReceiveQuota ProtocolSettings PublicFolderContacts PurportedSearchUI QueryBaseDN
RawCanonicalName RawExternalEmailAddress RawName RecipientContainer RecipientDisplayType RecipientFilter
RecipientLimits RecipientType RecipientTypeDetails RecipientTypeDetailsValue RecoverableItemsQuota
RecoverableItemsWarningQuota RejectMessagesFrom RejectMessagesFromDLMembers RemoteAccountPolicy
RemotePowerShellEnabled RemoteRecipientType ReportToManagerEnabled ReportToOriginatorEnabled
RequireAllSendersAreAuthenticated ResourceCapacity ResourceCustom ResourceMetaData ResourcePropertiesDisplay
ResourceSearchProperties ResourceType RetainDeletedItemsFor RetentionComment RetentionPolicy RetentionUrl
RoleAssignmentPolicy RulesQuota SamAccountName SafeRecipientsHash SafeSendersHash SCLDeleteThresholdInt
SCLJunkThresholdInt SCLQuarantineThresholdInt SCLRejectThresholdInt SecurityProtocol SendDeliveryReportsTo
SendOofMessageToOriginatorEnabled ServerLegacyDN ServerName SharingPolicy SimpleDisplayName
SingleItemRecoveryEnabled SKUAssigned SMimeCertificate StateOrProvince StreetAddress StsRefreshTokensValidFrom
TelephoneAssistant TextEncodedORAddress ThrottlingPolicy Title UMAddresses UMCallingLineIds UMDtmfMap UMEnabled
UMEnabledFlags UMMailboxPolicy UMPinChecksum UMRecipientDialPlanId UMServerWritableFlags UMSpokenName
UnicodePassword UsageLocation UseDatabaseQuotaDefaults UserAccountControl UserPrincipalName VoiceMailSettings
WebPage WhenChanged WhenChangedUTC WhenCreated WhenCreatedUTC WhenMailboxCreated WhenSoftDeleted
WindowsEmailAddress WindowsLiveID
"""
_NUMBERED = [f"CustomAttribute{n}" for n in range(1, 16)] + [f"ExtensionCustomAttribute{n}" for n in range(1, 6)]

KNOWN_PROPERTIES: frozenset[str] = frozenset(_NAMES.split()) | frozenset(_NUMBERED)
"""Every property name the RecipientFilter page lists, in canonical spelling."""

_CANONICAL: dict[str, str] = {name.lower(): name for name in KNOWN_PROPERTIES}

# The page marks these "Boolean ($true or $false)"; their values compare as booleans even where exaudit cannot
# evaluate the property, so 'False' and $false normalize alike.
_BOOLEAN_NAMES = """
ActiveSyncEnabled ActiveSyncSuppressReadReceipt AuditEnabled CalendarRepairDisabled ComplianceTagHoldApplied
DeliverToMailboxAndForward EcpEnabled EmailAddressPolicyEnabled HasActiveSyncDevicePartnership
HiddenFromAddressListsEnabled HiddenGroupMembershipEnabled ImapEnabled IncludeInGarbageCollection IsDirSynced
IsExcludedFromServingHierarchy IsHierarchyReady IsHierarchySyncEnabled IsInactiveMailbox IsMailboxEnabled
IsSecurityPrincipal IsSoftDeletedByDisable IsSoftDeletedByRemove LitigationHoldEnabled MAPIEnabled MapiRecipient
ModerationEnabled OWAEnabled OWAforDevicesEnabled PopEnabled RemotePowerShellEnabled ReportToManagerEnabled
ReportToOriginatorEnabled RequireAllSendersAreAuthenticated SendOofMessageToOriginatorEnabled
SingleItemRecoveryEnabled SKUAssigned UMEnabled UseDatabaseQuotaDefaults
"""

# Link properties store the target's DN ("The object's name, email address, and GUID are accepted by the filter
# syntax, but don't match anything", RecipientFilter page, syntax rules).
_DISTINGUISHED_NAMES = """
DistinguishedName Id MemberOfGroup Members ManagedBy Manager DirectReports ForwardingAddress ModeratedBy
AcceptMessagesOnlyFrom AcceptMessagesOnlyFromDLMembers RejectMessagesFrom RejectMessagesFromDLMembers
GrantSendOnBehalfTo ObjectCategory
"""

_BOOLEAN = frozenset(_BOOLEAN_NAMES.split())
_DISTINGUISHED = frozenset(_DISTINGUISHED_NAMES.split())


def _text(read: Callable[[Recipient], str]) -> Callable[[Recipient], tuple[str, ...]]:
    """Return a reader giving a single-valued text property as zero (unset) or one values."""

    def values(recipient: Recipient) -> tuple[str, ...]:
        value = read(recipient)
        return (value,) if value else ()

    return values


def _custom_attribute(index: int) -> Callable[[Recipient], tuple[str, ...]]:
    """Return a reader for CustomAttribute<index + 1>."""

    def values(recipient: Recipient) -> tuple[str, ...]:
        attributes = recipient.custom_attributes
        value = attributes[index] if index < len(attributes) else ""
        return (value,) if value else ()

    return values


def _smtp_addresses(recipient: Recipient) -> tuple[str, ...]:
    """Return the primary SMTP address and every SMTP proxy address without its prefix.

    The RecipientFilter page: "Any filter that uses the PrimarySmtpAddress property will also search values in
    the EmailAddresses property".
    """
    found = [recipient.primary_smtp_address] if recipient.primary_smtp_address else []
    found.extend(proxy[5:] for proxy in recipient.email_addresses if proxy[:5].lower() == "smtp:")
    return tuple(found)


def _member_of(recipient: Recipient) -> tuple[str, ...]:
    """Return the DNs of the groups the recipient is a direct member of (AD memberOf is not transitive)."""
    return recipient.member_of


def _email_addresses(recipient: Recipient) -> tuple[str, ...]:
    """Return the recipient's proxy addresses."""
    return recipient.email_addresses


def _hidden(recipient: Recipient) -> bool:
    """Return whether the recipient is hidden from address lists."""
    return recipient.hidden_from_address_lists_enabled


_EVALUABLE_LIST = [
    PropertySpec("Name", Kind.TEXT, _text(lambda r: r.name)),
    PropertySpec("Alias", Kind.TEXT, _text(lambda r: r.alias)),
    PropertySpec("DisplayName", Kind.TEXT, _text(lambda r: r.display_name)),
    PropertySpec("Guid", Kind.TEXT, _text(lambda r: r.guid)),
    PropertySpec("RecipientType", Kind.TEXT, _text(lambda r: r.recipient_type)),
    PropertySpec("RecipientTypeDetails", Kind.TEXT, _text(lambda r: r.recipient_type_details)),
    PropertySpec("RecipientTypeDetailsValue", Kind.TEXT, _text(lambda r: r.recipient_type_details)),
    PropertySpec("Department", Kind.TEXT, _text(lambda r: r.department)),
    PropertySpec("Company", Kind.TEXT, _text(lambda r: r.company)),
    PropertySpec("DistinguishedName", Kind.DN, _text(lambda r: r.distinguished_name)),
    PropertySpec("Id", Kind.DN, _text(lambda r: r.distinguished_name)),
    PropertySpec("MemberOfGroup", Kind.DN, _member_of),
    PropertySpec("PrimarySmtpAddress", Kind.SMTP, _smtp_addresses),
    PropertySpec("EmailAddresses", Kind.PROXY, _email_addresses),
    PropertySpec("HiddenFromAddressListsEnabled", Kind.BOOL, flag=_hidden),
    *(PropertySpec(f"CustomAttribute{n}", Kind.TEXT, _custom_attribute(n - 1)) for n in range(1, 16)),
]

EVALUABLE: dict[str, PropertySpec] = {spec.name: spec for spec in _EVALUABLE_LIST}
"""The properties exaudit evaluates over a snapshot ``Recipient``, by canonical name."""

EVALUABLE_PROPERTIES: frozenset[str] = frozenset(EVALUABLE)
"""The canonical names of the evaluable properties."""


def canonical_name(name: str) -> str:
    """Return Microsoft's spelling of a known property name, or the name unchanged when it is not known."""
    return _CANONICAL.get(name.lower(), name)


def kind_of(name: str) -> Kind:
    """Return how values of the property compare (TEXT for unknown names: AD compares strings case-blind)."""
    canonical = canonical_name(name)
    spec = EVALUABLE.get(canonical)
    if spec is not None:
        return spec.kind
    if canonical in _BOOLEAN:
        return Kind.BOOL
    if canonical in _DISTINGUISHED:
        return Kind.DN
    return Kind.TEXT
