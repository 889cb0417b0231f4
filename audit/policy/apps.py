"""Policy parts only an Exchange Online app principal has: an administrative-unit scope, entra, ews, legacy."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, model_validator

from audit.policy.base import AddressList, Guid, PolicyValueError, Text, _Model


class AdministrativeUnit(_Model):
    """An Entra administrative unit used as the assignment's -RecipientAdministrativeUnitScope (apps only)."""

    id: Guid = Field(description="Object id of the administrative unit in Entra ID.")
    display_name: str | None = Field(default=None, description="Display name of the administrative unit.")
    members: Annotated[AddressList, Field(min_length=1)] = Field(
        description="The administrative unit must hold exactly these mailboxes (SMTP addresses, case-insensitive)."
    )


# Entra app permissions whose value starts with one of these reach mailbox content in every mailbox of the tenant
# (Microsoft Graph and the Office 365 Exchange Online resource's own legacy roles), and Exchange's scopes cannot
# narrow them: "the assigned permissions are a union operation on the permissions from Microsoft Entra ID and the
# permissions assigned in Exchange Online RBAC". https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
MAILBOX_PERMISSION_PREFIXES: tuple[str, ...] = (
    "mail.",
    "mail-advanced.",
    "calendars.",
    "contacts.",
    "mailboxsettings.",
    "mailboxfolder.",
    "mailboxitem.",
    "mailboxconfigitem.",
    "full_access_as_app",
    "ews.accessasapp",
    "smtp.sendasapp",
)


def reaches_mailboxes(permission: str) -> bool:
    """Whether an Entra app role (its value, e.g. 'Calendars.ReadWrite') reaches mailbox content tenant-wide."""
    return permission.strip().casefold().startswith(MAILBOX_PERMISSION_PREFIXES)


class EntraAppRole(_Model):
    """One Entra application permission the app may hold (an app role assignment on its service principal)."""

    resource: Text = Field(
        description="The resource app: its display name (e.g. 'Microsoft Graph') or its application id."
    )
    permission: Text = Field(description="The app role's value, e.g. 'User.Read.All'.")


class Entra(_Model):
    """The app's Entra ID side: which application permissions it may hold besides its Exchange roles."""

    allowed_app_roles: tuple[EntraAppRole, ...] = Field(
        default=(),
        description=(
            "Entra app roles the app may hold. None may reach mailboxes (Calendars.*, Mail.*, full_access_as_app): "
            "an Entra grant is a union with Exchange's scoped role and removes the scope."
        ),
    )

    @model_validator(mode="after")
    def _no_mailbox_roles(self) -> Entra:
        for index, role in enumerate(self.allowed_app_roles):
            if reaches_mailboxes(role.permission):
                raise PolicyValueError(
                    f"'{role.permission}' reaches every mailbox in the tenant: Entra grants are a union with "
                    "Exchange's scoped role, so allowing it removes the scope; grant it in Exchange as "
                    "'Application <permission>' with a scope instead",
                    ("allowedAppRoles", index, "permission"),
                )
        return self


class Ews(_Model):
    """Whether the app still uses EWS (switched off in Exchange Online on 1 April 2027)."""

    required: StrictBool = Field(
        default=False,
        description=(
            "True: the app still calls EWS, so EWSEnabled must be True and the app in EwsAllowedAppIDs "
            "(from 1 October 2026). False: the app uses Microsoft Graph only."
        ),
    )


class Legacy(_Model):
    """What the ApplicationImpersonation how-to left behind and must be gone or disabled after the move."""

    service_account: Text | None = Field(
        default=None, description="The old service account (UPN or SMTP address); it must be disabled or removed."
    )
    role_group: Text | None = Field(
        default=None, description="The old role group holding ApplicationImpersonation; it must be removed."
    )
