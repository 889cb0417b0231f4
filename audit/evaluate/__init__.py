"""Evaluation: the checks EXA000-EXA078 decided from a policy and a snapshot, purely (no I/O, no clock).

The registry (``CHECKS``) is imported eagerly; the engine and the plan only when first used, so that `exaudit
validate`, which needs the check ids, does not pay for the snapshot models and the OPATH evaluator (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audit.evaluate.checks import CHECKS, ORDER, CheckSpec

if TYPE_CHECKING:
    from audit.evaluate.engine import evaluate, evaluate_all
    from audit.evaluate.plan import remediation_plan

__all__ = ["CHECKS", "ORDER", "CheckSpec", "evaluate", "evaluate_all", "remediation_plan"]

_LAZY = {
    "evaluate": "audit.evaluate.engine",
    "evaluate_all": "audit.evaluate.engine",
    "remediation_plan": "audit.evaluate.plan",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
