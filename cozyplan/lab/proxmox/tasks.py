"""Asynchronous worker tasks with real UPIDs, status and logs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cozyplan.lab.proxmox.errors import ApiError


@dataclass
class Task:
    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    status: str = "running"
    exitstatus: str | None = None
    endtime: int | None = None
    lines: list[str] = field(default_factory=list)

    def log(self, line: str) -> None:
        self.lines.append(line)

    def status_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.type,
            "id": self.id,
            "user": self.user,
            "status": self.status,
        }
        if self.exitstatus is not None:
            out["exitstatus"] = self.exitstatus
        return out


Work = Callable[[Task], Awaitable[None]]


def make_upid(
    node: str, pid: int, pstart: int, starttime: int, kind: str, ident: str, user: str
) -> str:
    return f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{ident}:{user}:"


class TaskEngine:
    """Runs workers in the lab's loop; tasks are kept in memory for status/log queries."""

    def __init__(self, next_pid: Callable[[], int]) -> None:
        self._next_pid = next_pid
        self._tasks: dict[str, Task] = {}
        self._running: set[asyncio.Task[None]] = set()

    def spawn(self, node: str, kind: str, ident: str, user: str, work: Work) -> str:
        pid = self._next_pid()
        now = int(time.time())
        upid = make_upid(node, pid, int(time.monotonic() * 100), now, kind, ident, user)
        task = Task(upid, node, pid, int(time.monotonic() * 100), now, kind, ident, user)
        self._tasks[upid] = task
        runner = asyncio.get_running_loop().create_task(self._run(task, work))
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)
        return upid

    async def _run(self, task: Task, work: Work) -> None:
        try:
            await work(task)
        except ApiError as exc:
            task.log(f"TASK ERROR: {exc.message}")
            task.exitstatus = exc.message
        except Exception as exc:  # a bug in the simulator still ends the task
            task.log(f"TASK ERROR: {exc}")
            task.exitstatus = str(exc) or type(exc).__name__
        else:
            task.log("TASK OK")
            task.exitstatus = "OK"
        task.endtime = int(time.time())
        task.status = "stopped"

    def get(self, node: str, upid: str) -> Task:
        if not upid.startswith("UPID:") or upid.count(":") < 8:
            raise ApiError(
                400, "Parameter verification failed.", {"upid": "unable to parse worker upid"}
            )
        task = self._tasks.get(upid)
        if task is None or task.node != node:
            raise ApiError(500, f"no such task '{upid}'")
        return task

    def running_count(self) -> int:
        return len(self._running)

    async def drain(self) -> None:
        for runner in list(self._running):
            runner.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
