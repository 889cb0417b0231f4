"""The policy format ``exaudit/v1``, ``kind: MailboxAccessPolicy``, as frozen pydantic v2 models.

YAML keys are camelCase (the aliases); Python attributes are snake_case. Every model forbids unknown keys.
Structural rules (types, "exactly one of") live on the model that owns the keys; rules that relate two parts of
a policy (the scope filter names the group, an app principal holds an ``Application`` role) live on
:class:`MailboxAccessPolicy`. A rule that fails raises :class:`PolicyValueError`, which carries the path of the
offending key relative to the model, so that the loader can point at the right line and column.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from audit import opath
from audit.errors import FilterError
from audit.findings import Severity
from audit.policy.apps import (
    MAILBOX_PERMISSION_PREFIXES,
    AdministrativeUnit,
    Entra,
    EntraAppRole,
    Ews,
    Legacy,
    reaches_mailboxes,
)
from audit.policy.base import (
    API_VERSION,
    APPLICATION_ROLE_PREFIX,
    CHECK_ID_PATTERN,
    GUID_PATTERN,
    KIND,
    NAME_PATTERN,
    PATTERN_NAMES,
    SMTP_PATTERN,
    SUPPORTED_API_VERSIONS,
    AddressList,
    CheckId,
    Guid,
    PolicyValueError,
    Text,
    _exactly_one,
    _Model,
    _one_of,
)

# The names the loader, the package face and the checks import from here (split across base.py and apps.py).
__all__ = [
    "API_VERSION",
    "APPLICATION_ROLE_PREFIX",
    "CHECK_ID_PATTERN",
    "GUID_PATTERN",
    "KIND",
    "MAILBOX_PERMISSION_PREFIXES",
    "NAME_PATTERN",
    "PATTERN_NAMES",
    "SMTP_PATTERN",
    "SUPPORTED_API_VERSIONS",
    "AddressList",
    "AdministrativeUnit",
    "AppPrincipal",
    "CheckId",
    "Deny",
    "DirectVia",
    "Entra",
    "EntraAppRole",
    "Ews",
    "Grant",
    "Group",
    "Guid",
    "Legacy",
    "MailboxAccessPolicy",
    "Members",
    "Metadata",
    "PolicyValueError",
    "Principal",
    "Probes",
    "RecipientFilter",
    "RoleGroupVia",
    "Scope",
    "SecurityGroupVia",
    "Text",
    "Via",
    "Waiver",
    "reaches_mailboxes",
]


class Metadata(_Model):
    """Who owns the policy and what it is for."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=253)] = Field(
        description="Unique name of the policy; findings and reports are keyed by it."
    )
    owner: str | None = Field(default=None, description="Who answers for this access (a mailbox or team).")
    description: str | None = Field(default=None, description="What the integration is and why it needs access.")


class AppPrincipal(_Model):
    """An Exchange Online service principal (RBAC for Applications)."""

    app_id: Guid = Field(description="Application (client) id of the Entra app registration.")
    service_principal_id: Guid = Field(
        description="Object id of the enterprise application (the -ObjectId given to New-ServicePrincipal)."
    )
    display_name: str | None = Field(default=None, description="Display name of the service principal in Exchange.")


class Principal(_Model):
    """Who gets access: a service account or an application; exactly one."""

    model_config = ConfigDict(json_schema_extra=_one_of("serviceAccount", "app"))

    service_account: Text | None = Field(
        default=None, description="UPN or primary SMTP address of the user that holds the role."
    )
    app: AppPrincipal | None = Field(
        default=None, description="Service principal for Exchange Online RBAC for Applications."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Principal:
        _exactly_one(self, ("service_account", "app"))
        return self


class RoleGroupVia(_Model):
    """The role is held through a management role group the principal is a member of."""

    name: Text = Field(description="Name or DisplayName of the role group.")
    exact_roles: tuple[Text, ...] | None = Field(
        default=None, description="The role group must hold exactly these management roles."
    )
    exact_members: tuple[Text, ...] | None = Field(
        default=None, description="The role group must have exactly these members (names, aliases or UPNs)."
    )


class DirectVia(_Model):
    """The role is assigned straight to the principal (required for RBAC for Applications)."""


class SecurityGroupVia(_Model):
    """The role is assigned to a universal security group the principal is a member of."""

    name: Text = Field(description="Name of the security group that holds the assignment.")


class Via(_Model):
    """How the role reaches the principal; exactly one of roleGroup, direct, securityGroup."""

    model_config = ConfigDict(json_schema_extra=_one_of("roleGroup", "direct", "securityGroup"))

    role_group: RoleGroupVia | None = Field(default=None, description="Through a management role group.")
    direct: DirectVia | None = Field(default=None, description="Assigned straight to the principal: write {}.")
    security_group: SecurityGroupVia | None = Field(default=None, description="Through a security group.")

    @model_validator(mode="before")
    @classmethod
    def _empty_direct(cls, data: Any) -> Any:
        # "direct:" with nothing after it is YAML null; alone, it plainly means "direct, no options".
        if isinstance(data, dict) and "direct" in data and data["direct"] is None:
            others = [value for key, value in data.items() if key != "direct" and value is not None]
            if not others:
                return {**data, "direct": {}}
        return data

    @model_validator(mode="after")
    def _one_path(self) -> Via:
        _exactly_one(self, ("role_group", "direct", "security_group"))
        return self


class Grant(_Model):
    """The management role assignment the principal must hold, and nothing more."""

    model_config = ConfigDict(json_schema_extra=_one_of("scope", "administrativeUnit"))

    role: Text = Field(
        description="Management role, e.g. ApplicationImpersonation, or for an app 'Application EWS.AccessAsApp'."
    )
    via: Via = Field(description="How the role reaches the principal.")
    scope: Text | None = Field(
        default=None,
        description=(
            "Management scope the assignment must carry: CustomRecipientWriteScope, or CustomResourceScope for an app."
        ),
    )
    # RBAC for Applications also takes an administrative unit instead of a management scope; Microsoft recommends
    # it over a scope that filters on AdministrativeUnits.
    # https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
    administrative_unit: AdministrativeUnit | None = Field(
        default=None,
        description="For an app: the administrative unit the assignment is scoped to (instead of 'scope').",
    )
    only_path: StrictBool = Field(
        default=True, description="No other effective assignment of the role may reach the principal."
    )
    other_roles_allowed: tuple[Text, ...] = Field(
        default=(), description="Management roles the principal may hold besides the granted role."
    )

    @model_validator(mode="after")
    def _one_scope(self) -> Grant:
        _exactly_one(self, ("scope", "administrative_unit"))
        return self


# Filterable recipient properties, compared as Exchange does: case-insensitively.
_KNOWN_PROPERTIES = frozenset(name.casefold() for name in opath.KNOWN_PROPERTIES)


def _parse_opath(text: str) -> str:
    """Refuse an OPATH filter that does not parse or names a property Exchange does not filter on."""
    try:
        parsed = opath.parse(text)
    except FilterError as exc:
        raise PolicyValueError(f"invalid OPATH filter: {exc.reason}", offset=exc.position) from exc
    # The parser takes any word as a property; Exchange refuses unknown ones, and so does exaudit, early.
    # https://learn.microsoft.com/en-us/powershell/exchange/recipientfilter-properties
    for name in sorted(opath.properties(parsed)):
        if name.casefold() not in _KNOWN_PROPERTIES:
            close = difflib.get_close_matches(name, sorted(opath.KNOWN_PROPERTIES), n=1, cutoff=0.75)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            at = text.casefold().find(name.casefold())
            raise PolicyValueError(
                f"OPATH filter names '{name}', which is not a filterable recipient property{hint}",
                offset=at if at >= 0 else None,
            )
    return text


class RecipientFilter(_Model):
    """Which recipients the scope selects; exactly one of memberOfGroup, opath."""

    model_config = ConfigDict(json_schema_extra=_one_of("memberOfGroup", "opath"))

    member_of_group: Text | None = Field(
        default=None,
        description="Name of the group whose direct members are in scope; resolved to its DN at audit time.",
    )
    opath: Annotated[str, Field(min_length=1), AfterValidator(_parse_opath)] | None = Field(
        default=None, description="An OPATH recipient filter, e.g. \"CustomAttribute1 -eq 'CallPro'\"."
    )

    @model_validator(mode="after")
    def _one_filter(self) -> RecipientFilter:
        _exactly_one(self, ("member_of_group", "opath"))
        return self


class Scope(_Model):
    """The management scope that limits the assignment."""

    name: Text = Field(description="Name of the management scope.")
    recipient_filter: RecipientFilter = Field(description="What the scope's RecipientRestrictionFilter must mean.")
    recipient_root: Text | None = Field(
        default=None,
        description=(
            "The OU the scope's RecipientRoot must name, as a DN or a canonical name (contoso.com/Field Sales); "
            "when absent, a root on the scope is reported but not required."
        ),
    )


class Members(_Model):
    """Expected group membership: exactly, or atLeast and/or atMost, or a file (exactly, from a file)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["exactly"]},
                {"required": ["file"]},
                {"anyOf": [{"required": ["atLeast"]}, {"required": ["atMost"]}]},
            ]
        }
    )

    exactly: Annotated[AddressList, Field(min_length=1)] | None = Field(
        default=None, description="The group must have exactly these members (SMTP addresses, case-insensitive)."
    )
    at_least: AddressList | None = Field(default=None, description="These addresses must be members.")
    at_most: AddressList | None = Field(default=None, description="Only these addresses may be members.")
    file: Text | None = Field(
        default=None,
        description="File with exactly the members, one address per line, '#' comments; relative to the policy.",
    )

    @model_validator(mode="after")
    def _one_form(self) -> Members:
        forms = [
            alias
            for alias, present in (
                ("exactly", self.exactly is not None),
                ("atLeast/atMost", self.at_least is not None or self.at_most is not None),
                ("file", self.file is not None),
            )
            if present
        ]
        if not forms:
            raise PolicyValueError("needs one of 'exactly', 'atLeast' and/or 'atMost', or 'file'")
        if len(forms) > 1:
            raise PolicyValueError(
                f"takes one of 'exactly', 'atLeast'/'atMost' or 'file', not both {forms[0]} and {forms[1]}"
            )
        if self.at_least is not None and self.at_most is not None:
            allowed = {address.casefold() for address in self.at_most}
            for index, address in enumerate(self.at_least):
                if address.casefold() not in allowed:
                    raise PolicyValueError(f"'{address}' is in atLeast but not in atMost", ("atLeast", index))
        return self


# RecipientTypeDetails values a direct member of the scope group can have (groups aside: nested groups are EXA034's),
# as Exchange names them (Get-Recipient -RecipientTypeDetails; the RecipientTypeDetails enumeration):
# https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-recipient#-recipienttypedetails
# https://learn.microsoft.com/en-us/previous-versions/office/exchange-server-api/ff344739(v=exchg.150)
MemberType = Literal[
    "UserMailbox",
    "LinkedMailbox",
    "SharedMailbox",
    "RoomMailbox",
    "EquipmentMailbox",
    "TeamMailbox",
    "SchedulingMailbox",
    "LinkedRoomMailbox",
    "LegacyMailbox",
    "DiscoveryMailbox",
    "MailUser",
    "GuestMailUser",
    "MailContact",
    "MailForestContact",
    "RemoteUserMailbox",
    "RemoteRoomMailbox",
    "RemoteEquipmentMailbox",
    "RemoteSharedMailbox",
    "RemoteTeamMailbox",
    "User",
    "DisabledUser",
    "LinkedUser",
]
# The member types that are mailboxes hosted in this organization, whose calendar EWS impersonation can open.
# RemoteUserMailbox (a mailbox in Exchange Online seen from on premises), MailUser and MailContact are not.
# EXA035 refuses every other type whatever memberTypes says; the policy lint warns when memberTypes lists one.
HOSTED_MAILBOX_TYPES: frozenset[str] = frozenset(
    {"UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox", "LinkedMailbox", "TeamMailbox"}
)


_MEMBER_TYPES: tuple[str, ...] = get_args(MemberType)


def _member_types(value: Any) -> Any:
    """Each value one Exchange uses, spelled as Exchange does (with the likely one named), listed once."""
    if not isinstance(value, list | tuple):
        return value  # the loader says "must be a list"
    if not value:
        raise PolicyValueError("must list at least one RecipientTypeDetails value, e.g. [UserMailbox]")
    seen: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, str) or item not in _MEMBER_TYPES:
            by_case = {t.casefold(): t for t in _MEMBER_TYPES}
            near = by_case.get(str(item).casefold()) or next(
                iter(difflib.get_close_matches(str(item), _MEMBER_TYPES, n=1, cutoff=0.75)), None
            )
            hint = f" (did you mean '{near}'?)" if near else f" ({', '.join(_MEMBER_TYPES)})"
            raise PolicyValueError(f"{item!r} is not a recipient type Exchange uses{hint}", (index,))
        if item in seen:
            raise PolicyValueError(f"'{item}' is listed twice", (index,))
        seen.add(item)
    return value


class Group(_Model):
    """The mail-enabled security group whose members are in scope."""

    name: Text = Field(description="Name or DisplayName of the group.")
    type: Literal["MailUniversalSecurityGroup", "MailUniversalDistributionGroup", "MailNonUniversalGroup"] = Field(
        default="MailUniversalSecurityGroup", description="Expected RecipientTypeDetails of the group."
    )
    hidden_from_address_lists: StrictBool = Field(
        default=True, description="HiddenFromAddressListsEnabled must be this value."
    )
    membership_closed: StrictBool = Field(
        default=True, description="MemberJoinRestriction and MemberDepartRestriction must both be Closed."
    )
    members: Members = Field(description="Who must (and may) be a direct member.")
    member_types: Annotated[tuple[MemberType, ...] | None, BeforeValidator(_member_types)] = Field(
        default=None,
        description=(
            "RecipientTypeDetails every direct member must have, e.g. [UserMailbox] for a field staff group "
            "(EXA035 names each member of another type: a shared, room or equipment mailbox). Unset: any mailbox "
            "hosted in this organization."
        ),
    )


_ADDRESS_LIST: TypeAdapter[tuple[str, ...]] = TypeAdapter(AddressList)


def _allow_form(value: Any) -> Any:
    """Accept 'groupMembers' or a list of addresses, and say so plainly instead of reporting each union branch."""
    if value == "groupMembers":
        return value
    if not isinstance(value, list | tuple):
        raise PolicyValueError("must be 'groupMembers' or a list of SMTP addresses")
    try:
        _ADDRESS_LIST.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        ctx_error = first.get("ctx", {}).get("error")
        if isinstance(ctx_error, PolicyValueError):
            raise PolicyValueError(ctx_error.message, (*first["loc"], *ctx_error.path)) from None
        index = first["loc"][0] if first["loc"] else None
        shown = value[index] if isinstance(index, int) and index < len(value) else value
        raise PolicyValueError(
            f"{shown!r} is not an SMTP address such as ad.viseur@contoso.com", first["loc"]
        ) from None
    return value


class Deny(_Model):
    """Mailboxes the principal must NOT be able to impersonate."""

    canaries: AddressList = Field(
        default=(), description="Mailboxes outside the scope that must be refused (ErrorImpersonateUserDenied)."
    )
    sample: Annotated[StrictInt, Field(ge=0)] = Field(
        default=0, description="Also probe this many random recipients outside the scope."
    )


class Probes(_Model):
    """Live EWS probes: who must be reachable, who must be refused, and how."""

    allow: Annotated[Literal["groupMembers"] | AddressList, BeforeValidator(_allow_form)] = Field(
        default="groupMembers",
        description="'groupMembers' (every expected member) or a list of SMTP addresses that must be reachable.",
    )
    deny: Deny = Field(default_factory=Deny, description="Canaries and random samples that must be refused.")
    operation: Literal["calendarRead", "calendarWrite"] = Field(
        default="calendarRead",
        description="calendarRead binds to the calendar; calendarWrite also creates and deletes a test item (opt-in).",
    )


class Waiver(_Model):
    """An accepted deviation: the check is skipped with the reason until the waiver expires."""

    check: CheckId = Field(description="Check id, e.g. EXA031.")
    reason: Text = Field(description="Why the deviation is accepted; shown in every report.")
    expires: dt.date = Field(description="Last day the waiver holds (YYYY-MM-DD); afterwards it is itself a finding.")


class MailboxAccessPolicy(_Model):
    """What must be true of one integration's mailbox access."""

    model_config = ConfigDict(
        title="exaudit MailboxAccessPolicy",
        json_schema_extra={"description": "What must be true of one integration's Exchange mailbox access."},
    )

    api_version: Literal["exaudit/v1"] = Field(description="Version of the policy format.")
    kind: Literal["MailboxAccessPolicy"] = Field(description="Kind of policy.")
    metadata: Metadata = Field(description="Name, owner and description.")
    principal: Principal = Field(description="Who gets access.")
    grant: Grant = Field(description="The role assignment that gives access.")
    scope: Scope | None = Field(
        default=None, description="The management scope that limits it (omit when grant.administrativeUnit is used)."
    )
    group: Group | None = Field(default=None, description="The group the scope filter names, if it names one.")
    probes: Probes | None = Field(default=None, description="Live EWS probes; omit to run none.")
    entra: Entra | None = Field(
        default=None, description="For an app: the Entra app roles it may hold (by default none reaching mailboxes)."
    )
    ews: Ews | None = Field(default=None, description="For an app: whether it still uses EWS.")
    legacy: Legacy | None = Field(
        default=None, description="For an app: the ApplicationImpersonation setup it replaced, expected gone."
    )
    waivers: tuple[Waiver, ...] = Field(default=(), description="Accepted deviations, each with a reason and expiry.")
    severity: dict[CheckId, Severity] = Field(default_factory=dict, description="Severity overrides by check id.")

    def __hash__(self) -> int:
        # pydantic's frozen hash would hash the severity dict and fail; policies are used as cache keys.
        fields = (
            self.metadata,
            self.principal,
            self.grant,
            self.scope,
            self.group,
            self.probes,
            self.entra,
            self.ews,
            self.legacy,
            self.waivers,
        )
        return hash((*fields, tuple(sorted(self.severity.items()))))

    @model_validator(mode="after")
    def _coherent(self) -> MailboxAccessPolicy:
        role = self.grant.role
        if self.principal.app is not None:
            # RBAC for Applications only knows "Application *" roles, assigned straight to the service principal.
            # https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
            if not role.startswith(APPLICATION_ROLE_PREFIX):
                raise PolicyValueError(
                    f"an app principal holds an 'Application ...' role (e.g. 'Application EWS.AccessAsApp'), "
                    f"not '{role}'",
                    ("grant", "role"),
                )
            if self.grant.via.direct is None:
                raise PolicyValueError(
                    "an app principal's role is assigned directly: write 'via: {direct: {}}'", ("grant", "via")
                )
        else:
            if role.startswith(APPLICATION_ROLE_PREFIX):
                raise PolicyValueError(
                    f"'{role}' can only be assigned to an app (service principal), not to serviceAccount",
                    ("grant", "role"),
                )
            for block in ("entra", "ews", "legacy"):
                if getattr(self, block) is not None:
                    raise PolicyValueError(
                        f"'{block}' describes an app (principal.app); a serviceAccount policy has no '{block}'",
                        (block,),
                    )
            if self.grant.administrative_unit is not None:
                raise PolicyValueError(
                    "an administrative-unit scope exists only for RBAC for Applications (principal.app); "
                    "a serviceAccount's assignment takes 'scope'",
                    ("grant", "administrativeUnit"),
                )
        self._scope_matches()
        member_of = self.scope.recipient_filter.member_of_group if self.scope is not None else None
        if self.group is not None and member_of is not None and member_of.casefold() != self.group.name.casefold():
            raise PolicyValueError(
                f"the scope filter names group '{member_of}' but group.name is '{self.group.name}'",
                ("scope", "recipientFilter", "memberOfGroup"),
            )
        if self.probes is not None and self.probes.allow == "groupMembers" and self.group is None:
            raise PolicyValueError(
                "'groupMembers' needs a group section; list the addresses to probe instead", ("probes", "allow")
            )
        seen: dict[str, int] = {}
        for index, waiver in enumerate(self.waivers):
            if waiver.check in seen:
                raise PolicyValueError(
                    f"{waiver.check} is waived twice (first as item {seen[waiver.check] + 1})",
                    ("waivers", index, "check"),
                )
            seen[waiver.check] = index
        return self

    def _scope_matches(self) -> None:
        """grant.scope names the scope section; an administrative unit comes without one."""
        if self.grant.scope is not None:
            if self.scope is None:
                raise PolicyValueError(
                    f"grant.scope names '{self.grant.scope}' but the policy has no scope section describing it",
                    ("grant", "scope"),
                )
            if self.grant.scope.casefold() != self.scope.name.casefold():
                raise PolicyValueError(
                    f"grant.scope '{self.grant.scope}' is not the scope this policy describes ('{self.scope.name}')",
                    ("grant", "scope"),
                )
        elif self.scope is not None:
            raise PolicyValueError(
                "the assignment is scoped to an administrative unit (grant.administrativeUnit); "
                "remove the scope section or use grant.scope",
                ("scope",),
            )
