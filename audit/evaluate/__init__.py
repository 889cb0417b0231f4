"""Evaluation: the checks EXA000-EXA078 decided from a policy and a snapshot, purely (no I/O, no clock)."""

from audit.evaluate.checks import CHECKS, ORDER, CheckSpec
from audit.evaluate.engine import evaluate, evaluate_all
from audit.evaluate.plan import remediation_plan

__all__ = ["CHECKS", "ORDER", "CheckSpec", "evaluate", "evaluate_all", "remediation_plan"]
