"""Shared helpers for the OPATH tests: a compact Recipient factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from audit.snapshot import Recipient


def recipient(name: str = "ad.viseur", **fields: Any) -> Recipient:
    """A UserMailbox recipient named ``name``; keyword arguments override any field."""
    values: dict[str, Any] = {
        "name": name,
        "identity": f"contoso.com/Users/{name}",
        "distinguished_name": f"CN={name},OU=Users,DC=contoso,DC=com",
        "guid": "6f1c1c3e-0000-4000-8000-000000000001",
        "alias": name,
        "display_name": name.title(),
        "primary_smtp_address": f"{name}@contoso.com",
        "recipient_type": "UserMailbox",
        "recipient_type_details": "UserMailbox",
        "email_addresses": (f"SMTP:{name}@contoso.com", f"smtp:{name}@contoso.onmicrosoft.com"),
    }
    values.update(fields)
    return Recipient(**values)


@pytest.fixture
def make_recipient() -> Callable[..., Recipient]:
    return recipient
