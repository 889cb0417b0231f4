"""The PSRP side of a WinRM shell: psrpcore's server Runspace Pool, per-target output queues and pipeline driving.

One ``PSRPShell`` per WinRM ShellId. Everything a client sends (creationXml, Command Arguments, Send) goes into
the pool; what the pool wants to send is drained at once and queued by target (the pool itself or one
pipeline), because psrpcore keeps a single send buffer and a pool Receive must never carry a pipeline's
messages or the other way round (wire-notes A.2, gotcha 1). A pipeline's output is produced lazily while the
client receives, so a 10,000-object result never sits serialized in memory all at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from psrpcore import PSRPPayload, ServerPipeline, ServerRunspacePool, StreamType
from psrpcore._payload import PSRPMessage, create_message
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSInvocationState,
    PSRPMessageType,
    PSVersion,
    add_note_property,
)

from audit.lab.clixml import serialize
from audit.lab.cmdlets import CommandCall, Emission, ErrorSpec, Output, Warning

log = logging.getLogger(__name__)

__all__ = ["PSRPShell", "PipelineRunner"]

# (user, commands as statements of piped commands) -> what the pipeline emits, in order.
PipelineRunner = Callable[[str, list[list[CommandCall]]], Iterator[Emission]]

_FRAGMENT_BYTES = 32 * 1024
_EMISSIONS_PER_PUMP = 64
_MAX_PIPELINES = 1000
# A pipeline runs ahead of the client's Receives, as on a real server (the shell's BufferMode is Block: the
# pipeline writes into a bounded output buffer and waits only when it is full), so a Receive finds its reply
# ready instead of waiting for it to be produced. The bound keeps a 100,000-object result out of memory.
_READ_AHEAD_BYTES = 1024 * 1024
_READ_AHEAD_CHUNK = 64 * 1024


class _LabRunspacePool(ServerRunspacePool):
    """psrpcore's server pool with the fixes a real pypsrp client needs."""

    def write_raw_output(self, pipeline_id: uuid.UUID, clixml: bytes) -> int:
        """Queue a PIPELINE_OUTPUT message whose CLIXML is already serialized; returns its size."""
        b_msg = create_message(False, PSRPMessageType.PipelineOutput, clixml, self.runspace_pool_id, pipeline_id)
        message = PSRPMessage(
            PSRPMessageType.PipelineOutput,
            bytearray(b_msg),
            self.runspace_pool_id,
            pipeline_id,
            self._fragment_counter,
            StreamType.default,
        )
        self._send_buffer.append(message)
        return len(b_msg)

    @staticmethod
    def _ci_shim(event: Any) -> None:
        # pypsrp 0.9.1 serializes the call id of Set{Max,Min}Runspaces as <I64 N="CI">; psrpcore 0.3.1 reads `ci`
        # and would fail with AttributeError (wire-notes A.2, gotcha 4).
        ps_object = event._ps_object
        if not hasattr(ps_object, "ci") and hasattr(ps_object, "CI"):
            add_note_property(ps_object, "ci", ps_object.CI)

    def _process_SetMaxRunspaces(self, event: Any) -> None:
        self._ci_shim(event)
        super()._process_SetMaxRunspaces(event)

    def _process_SetMinRunspaces(self, event: Any) -> None:
        self._ci_shim(event)
        super()._process_SetMinRunspaces(event)


@dataclass(slots=True)
class _Job:
    pipeline: ServerPipeline
    emissions: Iterator[Emission] | None = None
    done: bool = False
    reading_ahead: bool = False


def error_record(spec: ErrorSpec) -> ErrorRecord:
    """Build the psrpcore ErrorRecord for an Exchange/PowerShell error."""
    exception = NETException(Message=spec.message, HResult=spec.hresult)
    exception.PSObject.type_names = [*spec.exception_types, "System.Exception", "System.Object"]
    return ErrorRecord(
        Exception=exception,
        CategoryInfo=ErrorCategoryInfo(
            Category=ErrorCategory(spec.category),
            Activity=spec.activity,
            Reason=spec.reason,
            TargetName=spec.target_name,
            TargetType=spec.target_type,
        ),
        TargetObject=spec.target_object,
        FullyQualifiedErrorId=spec.fully_qualified_error_id,
    )


class PSRPShell:
    """One WinRM shell = one PSRP Runspace Pool owned by one authenticated user."""

    def __init__(
        self,
        shell_id: uuid.UUID,
        owner: str,
        resource_uri: str,
        client_ip: str,
        runner: PipelineRunner,
        server_version: str = "5.1.17763.1",
    ) -> None:
        self.shell_id = shell_id
        self.owner = owner
        self.resource_uri = resource_uri
        self.client_ip = client_ip
        self.created = time.monotonic()
        self.last_used = self.created
        self._runner = runner
        self.pool = _LabRunspacePool(
            application_private_data={
                "PSVersionTable": {
                    "PSVersion": PSVersion(server_version),
                    "PSEdition": "Desktop",
                    "BuildVersion": PSVersion("10.0.17763.1"),
                    "CLRVersion": PSVersion("4.0.30319.42000"),
                    "WSManStackVersion": PSVersion("3.0"),
                }
            }
        )
        self.cond = threading.Condition()
        self._queues: dict[uuid.UUID | None, deque[bytes]] = {None: deque()}
        self._jobs: dict[uuid.UUID, _Job] = {}
        self.closed = False

    # -- input ---------------------------------------------------------------------------------------------

    def add_pipeline(self, pipeline_id: uuid.UUID) -> None:
        """Create the server pipeline before its CreatePipeline arrives (psrpcore needs it in the table)."""
        if pipeline_id not in self._jobs:
            self._forget_finished()
            self._jobs[pipeline_id] = _Job(ServerPipeline(self.pool, pipeline_id))
            self._queues.setdefault(pipeline_id, deque())

    def _forget_finished(self) -> None:
        """Drop the oldest finished, fully received pipelines once a shell holds too many.

        pypsrp's invoke() never sends the Terminate that would end a finished pipeline, so a long-lived pool
        would otherwise keep every pipeline it ever ran.
        """
        if len(self._jobs) < _MAX_PIPELINES:
            return
        for pid, job in list(self._jobs.items()):
            if len(self._jobs) < _MAX_PIPELINES // 2:
                break
            if job.done and not self._queues.get(pid):
                self.terminate_pipeline(pid)

    def has_pipeline(self, pipeline_id: uuid.UUID) -> bool:
        """Whether the pipeline exists in this shell."""
        return pipeline_id in self._jobs

    def feed(self, data: bytes, pipeline_id: uuid.UUID | None) -> None:
        """Give the pool PSRP fragments from the client and act on every complete message."""
        self.pool.receive_data(PSRPPayload(data, StreamType.default, pipeline_id))
        while True:
            event = self.pool.next_event()
            if event is None:
                break
            self._on_event(event)
        self._drain()
        self.cond.notify_all()

    def _on_event(self, event: Any) -> None:
        name = type(event).__name__
        if name in ("SetMaxRunspacesEvent", "SetMinRunspacesEvent", "ResetRunspaceStateEvent"):
            self.pool.runspace_availability_response(event.ci, True)
        elif name == "GetAvailableRunspacesEvent":
            self.pool.runspace_availability_response(event.ci, max(1, self.pool.max_runspaces))
        elif name in ("CreatePipelineEvent", "GetCommandMetadataEvent"):
            job = self._jobs.get(event.pipeline_id)
            if job is None:
                return
            # PipelineState=Running is never sent by real WinRM (wire-notes A.2, gotcha 6).
            job.pipeline._change_state(PSInvocationState.Running, emit=False)
            if name == "GetCommandMetadataEvent":
                job.emissions = iter(())
            else:
                job.emissions = self._start(event.pipeline)

    def _start(self, metadata: Any) -> Iterator[Emission]:
        statements: list[list[CommandCall]] = [[]]
        for command in metadata.commands:
            parameters: list[tuple[str | None, Any]] = [(p[0], p[1]) for p in command.parameters]
            statements[-1].append(CommandCall(str(command.command_text), bool(command.is_script), parameters))
            if command.end_of_statement:
                statements.append([])
        return self._runner(self.owner, [s for s in statements if s])

    # -- output --------------------------------------------------------------------------------------------

    def _drain(self, amount: int = _FRAGMENT_BYTES) -> None:
        while True:
            payload = self.pool.data_to_send(amount)
            if payload is None:
                return
            self._queues.setdefault(payload.pipeline_id, deque()).append(payload.data)

    def _pump(self, job: _Job, budget: int) -> None:
        """Run the pipeline until about ``budget`` bytes are queued for it or it ends."""
        if job.done or job.emissions is None:
            return
        pipeline = job.pipeline
        pid = pipeline.pipeline_id
        produced = 0
        try:
            while produced < budget:
                for _ in range(_EMISSIONS_PER_PUMP):
                    emission = next(job.emissions, None)
                    if emission is None:
                        pipeline.complete()
                        job.done = True
                        break
                    if isinstance(emission, Output):
                        produced += self.pool.write_raw_output(pid, serialize(emission.obj))
                    elif isinstance(emission, Warning):
                        pipeline.write_warning(emission.message)
                    elif emission.terminating:
                        pipeline._change_state(PSInvocationState.Failed, error_record(emission))
                        job.done = True
                        break
                    else:
                        record = error_record(emission)
                        pipeline.write_error(
                            record.Exception,
                            record.CategoryInfo,
                            record.TargetObject,
                            record.FullyQualifiedErrorId,
                        )
                if job.done:
                    break
        except Exception:
            log.exception("pipeline %s failed inside the lab", pid)
            if not job.done:
                job.done = True
                pipeline._change_state(
                    PSInvocationState.Failed,
                    error_record(
                        ErrorSpec(
                            message="An internal error occurred in the lab.",
                            exception_types=("System.Management.Automation.RuntimeException",),
                            category=int(ErrorCategory.NotSpecified),
                            reason="RuntimeException",
                            fully_qualified_error_id="LabInternalError",
                            terminating=True,
                        )
                    ),
                )
        self._drain(min(_FRAGMENT_BYTES, max(1024, budget)))

    def _read_ahead(self, job: _Job, budget: int) -> None:
        """Produce a pipeline's output into its queue until it ends or the buffer holds _READ_AHEAD_BYTES.

        Started by the first Receive, whose envelope bounds the size of every queued payload.
        """
        pid = job.pipeline.pipeline_id
        with self.cond:
            while not self.closed and not job.done and self._jobs.get(pid) is job:
                if sum(len(p) for p in self._queues.get(pid, ())) >= _READ_AHEAD_BYTES:
                    self.cond.wait(1.0)  # a Receive took some (it notifies), or look again
                    continue
                self._pump(job, min(_READ_AHEAD_CHUNK, budget))
                self.cond.notify_all()

    def receive(self, pipeline_id: uuid.UUID | None, budget: int) -> tuple[list[bytes], bool]:
        """Take queued payloads for one target within ``budget`` raw bytes; True when the pipeline is done."""
        queue = self._queues.setdefault(pipeline_id, deque())
        job = self._jobs.get(pipeline_id) if pipeline_id is not None else None
        if job is not None and not job.done and sum(len(p) for p in queue) < budget:
            self._pump(job, budget)
        if job is not None and not job.done and not job.reading_ahead and job.emissions is not None:
            job.reading_ahead = True
            threading.Thread(target=self._read_ahead, args=(job, budget), name="lab-pipeline", daemon=True).start()
        taken: list[bytes] = []
        used = 0
        while queue and (not taken or used + len(queue[0]) <= budget):
            chunk = queue.popleft()
            used += len(chunk)
            taken.append(chunk)
        done = job is not None and job.done and not queue
        if taken and job is not None and not job.done:
            self.cond.notify_all()  # room in the buffer: the pipeline goes on
        return taken, done

    def pending(self, pipeline_id: uuid.UUID | None) -> bool:
        """Whether a Receive for this target would return something now."""
        if self._queues.get(pipeline_id):
            return True
        job = self._jobs.get(pipeline_id) if pipeline_id is not None else None
        return job is not None and job.emissions is not None

    # -- signals -------------------------------------------------------------------------------------------

    def stop_pipeline(self, pipeline_id: uuid.UUID) -> None:
        """ctrl_c: stop a running pipeline (PipelineState Stopped with PipelineStoppedException)."""
        job = self._jobs.get(pipeline_id)
        if job is None or job.done:
            return
        job.done = True
        job.emissions = iter(())
        if job.pipeline.state == PSInvocationState.Running:
            job.pipeline.stop()
        self._drain()
        self.cond.notify_all()

    def terminate_pipeline(self, pipeline_id: uuid.UUID) -> None:
        """Terminate signal: forget the pipeline and anything still queued for it."""
        job = self._jobs.pop(pipeline_id, None)
        self._queues.pop(pipeline_id, None)
        if job is not None:
            self.pool.pipeline_table.pop(pipeline_id, None)
            # Drop unsent messages for this pipeline so they can never reach another target.
            self.pool._send_buffer[:] = [m for m in self.pool._send_buffer if m.pipeline_id != pipeline_id]

    def close(self) -> None:
        """Mark closed and wake every waiter."""
        self.closed = True
        self.cond.notify_all()

    @property
    def state_name(self) -> str:
        """WinRM shell state."""
        return "Disconnected" if self.closed else "Connected"

    def pipeline_ids(self) -> list[uuid.UUID]:
        """Pipelines still known to the shell."""
        return list(self._jobs)
