"""EXA060's dates (audit.evaluate.platform) on the days around Exchange Online's EWS switch-off.

Killed mutants of issue 14's mutation run: on the day itself the message says "today" (not "in 0 days" or
"0 days ago"), the day before "in 1 days", the day after "1 days ago".
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.evaluate import evaluate
from audit.findings import Status
from audit.policy import load_policy
from audit.snapshot import load
from tests.evaluate.test_semantics import CALLPRO, DATA


@pytest.mark.parametrize(
    ("now", "phased", "off"),
    [
        (datetime(2026, 9, 30, 23, 59, tzinfo=UTC), "in 1 days", "in 183 days"),
        (datetime(2026, 10, 1, 0, 0, tzinfo=UTC), "today", "in 182 days"),
        (datetime(2026, 10, 1, 23, 59, tzinfo=UTC), "today", "in 182 days"),
        (datetime(2026, 10, 2, 12, 0, tzinfo=UTC), "1 days ago", "in 181 days"),
    ],
)
def test_the_ews_dates_are_counted_in_days_from_now(now: datetime, phased: str, off: str) -> None:
    snap = load(DATA / "exchange-online.snapshot.json")[0]
    found = next(f for f in evaluate(load_policy(CALLPRO), snap, now) if f.check_id == "EXA060")
    assert found.status is Status.FAIL
    assert (
        f"EWS is switched off tenant by tenant from 1 October 2026 ({phased}) and permanently on 1 April 2027 ({off})."
        in found.message
    )
