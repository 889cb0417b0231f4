"""The building blocks of the policy models: constants, value types, the base model and the cross-key error."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

API_VERSION = "exaudit/v1"
SUPPORTED_API_VERSIONS: tuple[str, ...] = (API_VERSION,)
KIND = "MailboxAccessPolicy"

# Human names for the patterns below, used by the loader to say what a value should look like.
SMTP_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
CHECK_ID_PATTERN = r"^EXA\d{3}$"
GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$"
PATTERN_NAMES: dict[str, str] = {
    SMTP_PATTERN: "an SMTP address such as ad.viseur@contoso.com",
    CHECK_ID_PATTERN: "a check id such as EXA031 (EXA followed by three digits)",
    GUID_PATTERN: "a GUID such as 6233fba6-0198-4277-892f-9275bf728bcc",
    NAME_PATTERN: "lower-case letters, digits, '-', '.' and '_', such as callpro-calendar-access",
}

# The prefix of the Exchange Online RBAC for Applications roles, e.g. "Application Calendars.ReadWrite".
# https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
APPLICATION_ROLE_PREFIX = "Application "

Text = Annotated[str, Field(min_length=1)]
SmtpAddress = Annotated[str, Field(pattern=SMTP_PATTERN)]
CheckId = Annotated[str, Field(pattern=CHECK_ID_PATTERN)]
Guid = Annotated[str, Field(pattern=GUID_PATTERN)]


class PolicyValueError(ValueError):
    """A rule across keys failed; ``path`` leads from the validating model to the key to blame."""

    def __init__(self, message: str, path: Sequence[str | int] = (), *, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = tuple(path)
        self.offset = offset  # 0-based character position inside the offending text value, when known


def _unique_addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse an address listed twice (addresses compare case-insensitively, like Exchange's)."""
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        key = value.casefold()
        if key in seen:
            raise PolicyValueError(f"'{value}' is listed twice (first as item {seen[key] + 1})", (index,))
        seen[key] = index
    return values


AddressList = Annotated[tuple[SmtpAddress, ...], AfterValidator(_unique_addresses)]


def _exactly_one(model: BaseModel, keys: Sequence[str]) -> None:
    """Raise unless exactly one of the given snake_case attributes is set."""
    fields = type(model).model_fields
    aliases = [fields[key].alias or key for key in keys]
    present = [alias for key, alias in zip(keys, aliases, strict=True) if getattr(model, key) is not None]
    choices = ", ".join(f"'{alias}'" for alias in aliases)
    if not present:
        raise PolicyValueError(f"needs exactly one of {choices}; none is given")
    if len(present) > 1:
        raise PolicyValueError(
            f"needs exactly one of {choices}; both '{present[0]}' and '{present[1]}' are given",
            (present[1],),
        )


def _one_of(*keys: str) -> dict[str, Any]:
    """JSON Schema saying exactly one of the keys is given, so that editors flag both or neither."""
    return {"oneOf": [{"required": [key]} for key in keys]}


def _title(name: str, _info: object) -> str:
    """Editor-facing title of a field: its YAML key in words, e.g. "hidden from address lists"."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", to_camel(name)).lower()
    return words[:1].upper() + words[1:]


class _Model(BaseModel):
    model_config = ConfigDict(
        field_title_generator=_title,
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=True,
    )
