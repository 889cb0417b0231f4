"""audit.evaluate imports the engine and the plan only when first used (PEP 562 ``__getattr__``).

Killed mutants of issue 14's mutation run: every lazy name resolves to the function of its module and stays
bound afterwards; any other name is an AttributeError naming the package and the name. Each test removes the
binding a previous import left, so the lookup runs whatever ran before it.
"""

from __future__ import annotations

from types import ModuleType

import pytest

import audit.evaluate as package
from audit.evaluate import engine, plan


@pytest.mark.parametrize(
    ("name", "module"), [("evaluate", engine), ("evaluate_all", engine), ("remediation_plan", plan)]
)
def test_a_lazy_name_is_its_modules_function_and_stays_bound(
    monkeypatch: pytest.MonkeyPatch, name: str, module: ModuleType
) -> None:
    monkeypatch.delitem(vars(package), name, raising=False)
    assert getattr(package, name) is getattr(module, name)
    assert vars(package)[name] is getattr(module, name)  # bound: the next lookup does not import again
    assert getattr(package, name) is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError) as raised:
        _ = package.evaluate_everything
    assert str(raised.value) == "module 'audit.evaluate' has no attribute 'evaluate_everything'"
    assert not hasattr(package, "remediation")
