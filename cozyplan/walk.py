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

    # completions arrive through callbacks into one queue (no waiter list rebuilt and no
    # asyncio.wait per completion: that was N x parallelism work)
    finished: deque[asyncio.Task[None]] = deque()
    wake = asyncio.Event()

    def on_done(task: asyncio.Task[None]) -> None:
        finished.append(task)
        wake.set()

    stop_wait = asyncio.ensure_future(stop.wait())
    stop_wait.add_done_callback(lambda _: wake.set())
    try:
        while ready or running:
            while ready and len(running) < limit and not stop.is_set():
                node = ready.popleft()
                if node in result.status:  # skipped meanwhile
                    continue
                task = asyncio.ensure_future(run(node))
                task.add_done_callback(on_done)
                running[task] = node
            if not running:
                break
            if not finished:
                wake.clear()
                await wake.wait()
            while finished:
                task = finished.popleft()
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
    finally:
        stop_wait.cancel()
    for node in graph.nodes:
        result.status.setdefault(node, NodeStatus.NOT_STARTED)
    return result
