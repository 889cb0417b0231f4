"""Shared pytest configuration: tests only ever talk to 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.gates import REGEN_VARIABLE, in_ci, regenerating


def pytest_configure(config: pytest.Config) -> None:
    # Golden files are rewritten by a developer who reviews the diff, never by a pipeline (tests/gates.py).
    if regenerating() and in_ci():
        raise pytest.UsageError(f"{REGEN_VARIABLE}=1 is refused under CI=true: regenerate golden files locally")
