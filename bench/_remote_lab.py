"""The lab in its own process for the probe benchmarks (its own GIL, as a real server would be), driven by a pipe.

Each bench starts its lab its own way and sends what its client needs (URLs, credentials) first; then the child
answers commands: ``latency`` (reset the counters and set the latency of one route), ``stats``, any extra command the
bench adds, and ``stop``.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any

Handler = Callable[[Any], Any]


def command_loop(conn: Connection, lab: Any, route: str, extra: Mapping[str, Handler] | None = None) -> None:
    """Answer the parent's commands until ``stop``; ``stats`` adds the child's CPU seconds."""

    def latency(ms: Any) -> None:
        lab.reset()
        lab.faults.set_latency(int(ms), route)

    handlers: dict[str, Handler] = {
        "latency": latency,
        "stats": lambda _arg: {**lab.stats(), "cpu_seconds": time.process_time()},
        **(extra or {}),
    }
    while True:
        command, arg = conn.recv()
        if command == "stop":
            return
        conn.send(handlers[command](arg))


class RemoteLab:
    """A lab child process started with ``target(conn, *args)``; ``info`` is the first thing it sent."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        self.info: dict[str, Any] = self.conn.recv()

    def call(self, command: str, arg: Any = None) -> Any:
        """Send one command and return the child's answer."""
        self.conn.send((command, arg))
        return self.conn.recv()

    def latency(self, ms: int) -> None:
        """Set the latency of the bench's route (and reset the lab's counters)."""
        self.call("latency", ms)

    def stats(self) -> dict[str, Any]:
        """The lab's stats plus the child's CPU seconds."""
        result: dict[str, Any] = self.call("stats")
        return result

    def close(self) -> None:
        """Stop the child."""
        self.conn.send(("stop", None))
        self.process.join(10)
