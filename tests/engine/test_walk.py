"""The DAG walker: dependency order, bounded parallelism, failure isolation, stop."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import networkx as nx
import pytest

from cozyplan.walk import NodeStatus, walk


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_nodes_start_after_their_dependencies() -> None:
    g = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "d")])
    order: list[Hashable] = []

    async def step(node: Hashable) -> None:
        order.append(node)
        await asyncio.sleep(0)

    result = run(walk(g, step))
    assert result.ok
    assert order.index("a") < order.index("b") < order.index("c")
    assert order.index("a") < order.index("d")


@pytest.mark.parametrize("limit", [1, 3, 10])
def test_parallelism_is_bounded(limit: int) -> None:
    g = nx.DiGraph()
    g.add_nodes_from(range(25))
    running = 0
    peak = 0

    async def step(node: Hashable) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1

    assert run(walk(g, step, parallelism=limit)).ok
    assert peak == limit


def test_failure_skips_only_its_dependents() -> None:
    g = nx.DiGraph([("bad", "child"), ("child", "grandchild"), ("ok", "ok-child")])
    g.add_node("alone")

    async def step(node: Hashable) -> None:
        if node == "bad":
            raise RuntimeError("boom")

    result = run(walk(g, step))
    assert result.status == {
        "bad": NodeStatus.FAILED,
        "child": NodeStatus.SKIPPED,
        "grandchild": NodeStatus.SKIPPED,
        "ok": NodeStatus.DONE,
        "ok-child": NodeStatus.DONE,
        "alone": NodeStatus.DONE,
    }
    assert str(result.errors["bad"]) == "boom"


def test_stop_lets_running_steps_finish_and_starts_nothing_new() -> None:
    g = nx.DiGraph()
    g.add_nodes_from(range(10))
    finished: list[Hashable] = []

    async def main() -> object:
        stop = asyncio.Event()

        async def step(node: Hashable) -> None:
            if node == 0:
                stop.set()
            await asyncio.sleep(0.01)
            finished.append(node)

        return await walk(g, step, parallelism=2, stop=stop)

    result = run(main())
    done = [n for n, s in result.status.items() if s is NodeStatus.DONE]  # type: ignore[attr-defined]
    assert sorted(done) == sorted(finished) == [0, 1]
    assert all(result.status[n] is NodeStatus.NOT_STARTED for n in range(2, 10))  # type: ignore[attr-defined]
