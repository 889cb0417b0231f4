"""What a cmdlet run emits (output, warnings, error records) and the calls a front end hands the host."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.lab.cmdlets.objects import ExchangeObject

# The warning Exchange writes when the default -ResultSize (1000) cut the result.
RESULT_SIZE_WARNING = (
    "By default, only the first 1000 items are returned. Use the ResultSize parameter to specify the number of "
    'items returned. To return all items, specify "-ResultSize Unlimited". Be aware that, depending on the actual '
    "number of items, returning all items can take a long time and consume a large amount of memory. Also, we "
    "don't recommend storing the results in a variable. Instead, pipe the results to another task or script to "
    "perform batch changes."
)
DEFAULT_RESULT_SIZE = 1000

NO_LANGUAGE_MESSAGE = (
    "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
)
NOT_RECOGNIZED = (
    "The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check "
    "the spelling of the name, or if a path was included, verify that the path is correct and try again."
)


@dataclass(frozen=True, slots=True)
class CommandCall:
    """One command of a pipeline as the client sent it."""

    name: str
    is_script: bool
    parameters: list[tuple[str | None, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Output:
    """An object written to the output stream."""

    obj: ExchangeObject


@dataclass(frozen=True, slots=True)
class Warning:
    """A warning record."""

    message: str


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An error record: non-terminating (error stream) or terminating (PipelineState Failed)."""

    message: str
    exception_types: tuple[str, ...]
    category: int
    reason: str
    fully_qualified_error_id: str
    terminating: bool
    activity: str | None = None
    target_name: str | None = None
    target_type: str | None = None
    target_object: str | None = None
    hresult: int = -2146233087


Emission = Output | Warning | ErrorSpec

# ErrorCategory values (System.Management.Automation.ErrorCategory).
_NOT_SPECIFIED = 0
_INVALID_ARGUMENT = 5
_OBJECT_NOT_FOUND = 13
_PARSER_ERROR = 17


class _Terminate(Exception):
    def __init__(self, spec: ErrorSpec) -> None:
        super().__init__(spec.message)
        self.spec = spec


class _Unlimited:
    pass


UNLIMITED = _Unlimited()


def binding_error(message: str, fully_qualified_error_id: str, activity: str) -> ErrorSpec:
    """A terminating ParameterBindingException error record, shaped as PowerShell's binder sends it."""
    return ErrorSpec(
        message=message,
        exception_types=(
            "System.Management.Automation.ParameterBindingException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
        ),
        category=_INVALID_ARGUMENT,
        reason="ParameterBindingException",
        fully_qualified_error_id=fully_qualified_error_id,
        terminating=True,
        activity=activity,
    )
