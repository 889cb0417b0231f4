"""The Exchange cmdlets the lab runs, with Exchange's behaviour rather than a friendlier one, for every front end.

Commands arrive as a cmdlet name plus parameters (from PSRP's CreatePipeline or from InvokeCommand's
CmdletInput). The runspace is in no-language mode, as Exchange's remote endpoint is: script text is refused with
ParseException; a cmdlet the caller's roles do not put in the session is CommandNotFoundException; an object that
does not exist is a non-terminating ManagementObjectNotFoundException; a result longer than -ResultSize (1000 by
default) is cut with Exchange's warning. Output objects carry the real type chains and property orders
(exchange-outputs.md section 4, exchange-rbac.md sections 1.3, 4.2). The package is split by responsibility:
``objects`` (the wire-neutral values), ``stream`` (what a run emits), ``host`` (lookup, binding, pipes),
``registry`` (the table) and one module per cmdlet family.
"""

from __future__ import annotations

from audit.lab.cmdlets.host import CmdletHost, ExchangeSession, run_pipeline
from audit.lab.cmdlets.stream import CommandCall, Emission, ErrorSpec, Output, Warning

__all__ = [
    "CmdletHost",
    "CommandCall",
    "Emission",
    "ErrorSpec",
    "ExchangeSession",
    "Output",
    "Warning",
    "run_pipeline",
]
