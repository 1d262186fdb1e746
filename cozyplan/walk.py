"""A generic asyncio DAG walker.

A node starts as soon as all its predecessors succeeded, at most ``parallelism`` at once.
A failed node skips everything downstream of it; independent branches go on. Setting ``stop``
(Ctrl-C) starts nothing new and lets running nodes finish.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx


class NodeStatus(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # a dependency failed
    NOT_STARTED = "not-started"  # the walk was stopped


@dataclass
class WalkResult:
    status: dict[Hashable, NodeStatus] = field(default_factory=dict)
    errors: dict[Hashable, BaseException] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(s is NodeStatus.DONE for s in self.status.values())


async def walk(
    graph: nx.DiGraph,
    run: Callable[[Hashable], Awaitable[None]],
    *,
    parallelism: int = 10,
    stop: asyncio.Event | None = None,
) -> WalkResult:
    if not nx.is_directed_acyclic_graph(graph):
        raise ValueError(f"cannot walk a graph with a cycle: {nx.find_cycle(graph)}")
    result = WalkResult()
    waiting = {n: graph.in_degree(n) for n in graph.nodes}
    ready: deque[Hashable] = deque(sorted((n for n, d in waiting.items() if d == 0), key=str))
    running: dict[asyncio.Task[None], Hashable] = {}
    stop = stop or asyncio.Event()
    limit = max(1, parallelism)

    def skip_downstream(node: Hashable) -> None:
        for d in nx.descendants(graph, node):
            if d not in result.status:
                result.status[d] = NodeStatus.SKIPPED

    try:
        while ready or running:
            while ready and len(running) < limit and not stop.is_set():
                node = ready.popleft()
                if node in result.status:  # skipped meanwhile
                    continue
                task = asyncio.ensure_future(run(node))
                running[task] = node
            if not running:
                break
            waiters: list[asyncio.Future[Any]] = list(running)
            stop_wait = None if stop.is_set() else asyncio.ensure_future(stop.wait())
            if stop_wait is not None:
                waiters.append(stop_wait)
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if stop_wait is not None:
                stop_wait.cancel()
            for finished in done:
                if finished is stop_wait:
                    continue
                task = finished  # type: ignore[assignment]
                node = running.pop(task)
                exc = task.exception()
                if exc is not None:
                    result.status[node] = NodeStatus.FAILED
                    result.errors[node] = exc
                    skip_downstream(node)
                    continue
                result.status[node] = NodeStatus.DONE
                for child in graph.successors(node):
                    waiting[child] -= 1
                    if waiting[child] == 0 and child not in result.status:
                        ready.append(child)
            if stop.is_set() and not running:
                break
    except asyncio.CancelledError:
        # abandoned (a second Ctrl-C): cancel what runs and collect every outcome, so no task
        # is left to report "exception was never retrieved" when the loop closes
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        raise
    for node in graph.nodes:
        result.status.setdefault(node, NodeStatus.NOT_STARTED)
    return result
