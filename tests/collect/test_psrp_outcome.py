"""How the state a pipeline ended in becomes a call's errors: only a COMPLETED pipeline is a complete answer."""

from __future__ import annotations

import pytest
from pypsrp.complex_objects import PSInvocationState

from audit.collect import ErrorKind
from audit.collect.psrp import invocation_errors


def test_completed_without_error_records_is_ok() -> None:
    assert invocation_errors("Get-Recipient", PSInvocationState.COMPLETED, False, [], []) == ([], None)


@pytest.mark.parametrize(
    "state",
    [PSInvocationState.STOPPED, PSInvocationState.STOPPING, PSInvocationState.RUNNING, PSInvocationState.DISCONNECTED],
)
def test_a_pipeline_that_did_not_complete_fails_the_call(state: int) -> None:
    # Its output is whatever arrived before it stopped: a partial organization, never a complete answer, even
    # when no error record came with the state.
    errors, kind = invocation_errors("Get-Recipient", state, False, [], [])
    assert kind == ErrorKind.TERMINATING
    assert errors
    assert "Get-Recipient" in errors[0]


def test_failed_and_non_terminating_and_truncated() -> None:
    assert invocation_errors("Get-Group", PSInvocationState.FAILED, True, ["boom"], [])[1] == ErrorKind.TERMINATING
    assert invocation_errors("Get-Group", PSInvocationState.COMPLETED, False, ["x"], []) == (
        ["x"],
        ErrorKind.NON_TERMINATING,
    )
    errors, kind = invocation_errors(
        "Get-Group",
        PSInvocationState.COMPLETED,
        False,
        [],
        [
            "By default, only the first 1000 items are returned. "
            "Use the ResultSize parameter to specify the number of items returned."
        ],
    )
    assert kind == ErrorKind.TRUNCATED
    assert "truncated" in errors[0]
