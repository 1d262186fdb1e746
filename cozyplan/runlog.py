"""What an apply did, step by step: timings, retries, outcome and what each step waited on.

The applier records one ``StepRecord`` per step of its graph; the run is kept in the state
(``last_run``, compact: one array per step, times in milliseconds) so ``show --report`` can
draw it later. The analysis here is pure: the critical path is the chain of dependencies with
the longest total duration (what bounds the wall time however wide ``--parallelism`` is), and
each step's *queued* time is how long it waited for a free slot after its dependencies were done.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

#: the order of a step's fields in the state (see ``StepRecord.to_json``)
STEP_FIELDS = (
    "address",
    "action",
    "outcome",
    "start_ms",
    "duration_ms",
    "retries",
    "after",
    "error",
)
ERROR_LIMIT = 500


@dataclass
class StepRecord:
    address: str
    action: str
    outcome: str  # done | failed | skipped | not-started
    start: float | None = None  # seconds from the start of the run
    end: float | None = None
    retries: int = 0
    after: list[int] = field(default_factory=list)  # indices of the steps it depended on
    error: str | None = None

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return self.end - self.start

    def to_json(self) -> list[Any]:
        def ms(t: float | None) -> int | None:
            return None if t is None else round(t * 1000)

        dur = None if self.start is None or self.end is None else round(self.duration * 1000)
        return [
            self.address,
            self.action,
            self.outcome,
            ms(self.start),
            dur,
            self.retries,
            self.after,
            self.error,
        ]

    @classmethod
    def from_json(cls, row: list[Any]) -> StepRecord:
        address, action, outcome, start_ms, dur_ms, retries, after, error = row
        start = None if start_ms is None else start_ms / 1000
        end = None if start is None or dur_ms is None else start + dur_ms / 1000
        return cls(
            str(address),
            str(action),
            str(outcome),
            start,
            end,
            int(retries),
            [int(i) for i in after],
            error,
        )


@dataclass
class RunRecord:
    run_id: str
    operation: str  # apply | destroy
    started: float  # Unix time
    duration: float  # seconds, wall
    parallelism: int
    outcome: str  # done | failed | interrupted
    steps: list[StepRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "operation": self.operation,
            "started": round(self.started, 3),
            "duration_ms": round(self.duration * 1000),
            "parallelism": self.parallelism,
            "outcome": self.outcome,
            "step_fields": list(STEP_FIELDS),
            "steps": [s.to_json() for s in self.steps],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        return cls(
            run_id=str(data["run_id"]),
            operation=str(data["operation"]),
            started=float(data["started"]),
            duration=int(data["duration_ms"]) / 1000,
            parallelism=int(data["parallelism"]),
            outcome=str(data["outcome"]),
            steps=[StepRecord.from_json(row) for row in data["steps"]],
        )

    # -- analysis -----------------------------------------------------------------------------
    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(range(len(self.steps)))
        for i, step in enumerate(self.steps):
            for j in step.after:
                g.add_edge(j, i)
        return g

    def critical_path(self) -> list[int]:
        """Indices of the dependency chain with the longest total duration, first to last."""
        if not self.steps:
            return []
        g = self.graph()
        best: dict[int, float] = {}
        prev: dict[int, int | None] = {}
        for n in nx.topological_sort(g):
            preds = list(g.predecessors(n))
            p = max(preds, key=lambda q: (best[q], -q), default=None)
            prev[n] = p
            best[n] = (best[p] if p is not None else 0.0) + self.steps[n].duration
        end: int | None = max(best, key=lambda q: (best[q], -q))
        path: list[int] = []
        while end is not None:
            path.append(end)
            end = prev[end]
        return path[::-1]

    def waited_on(self, index: int) -> int | None:
        """The dependency that finished last: the one this step actually waited for."""
        done = [j for j in self.steps[index].after if self.steps[j].end is not None]
        return max(done, key=lambda j: self.steps[j].end or 0.0, default=None)

    def queued(self, index: int) -> float:
        """Seconds between the step's dependencies being done and the step starting."""
        step = self.steps[index]
        if step.start is None:
            return 0.0
        ready = max((self.steps[j].end or 0.0 for j in step.after), default=0.0)
        return max(0.0, step.start - ready)


class RunRecorder:
    """Collects step timings while the applier walks its graph."""

    def __init__(self, run_id: str, operation: str, parallelism: int) -> None:
        self.run_id = run_id
        self.operation = operation
        self.parallelism = parallelism
        self.started = time.time()
        self._t0 = time.monotonic()
        self._start: dict[str, float] = {}
        self._end: dict[str, float] = {}
        self._action: dict[str, str] = {}
        self._retries: dict[str, int] = {}
        self._error: dict[str, str] = {}

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def step_started(self, address: str) -> None:
        self._start[address] = self._now()

    def step_retried(self, address: str) -> None:
        self._retries[address] = self._retries.get(address, 0) + 1

    def step_ended(self, address: str, action: str, error: str | None = None) -> None:
        self._end[address] = self._now()
        self._action[address] = action
        if error is not None:
            self._error[address] = error[:ERROR_LIMIT]

    def record(
        self,
        graph: nx.DiGraph,
        status: dict[Hashable, Any],
        planned: dict[str, str],
        interrupted: bool,
    ) -> RunRecord:
        """The run, with its steps in start order (steps that never started last)."""
        nodes: Iterable[Hashable] = graph.nodes
        order = sorted(
            (str(n) for n in nodes),
            key=lambda a: (a not in self._start, self._start.get(a, 0.0), a),
        )
        index = {a: i for i, a in enumerate(order)}
        steps = []
        for address in order:
            outcome = str(status.get(address, "not-started"))
            steps.append(
                StepRecord(
                    address,
                    self._action.get(address, planned.get(address, "")),
                    outcome,
                    self._start.get(address),
                    self._end.get(address),
                    self._retries.get(address, 0),
                    sorted(index[str(p)] for p in graph.predecessors(address)),
                    self._error.get(address),
                )
            )
        failed = any(s.outcome != "done" for s in steps)
        return RunRecord(
            self.run_id,
            self.operation,
            self.started,
            self._now(),
            self.parallelism,
            "interrupted" if interrupted else "failed" if failed else "done",
            steps,
        )
