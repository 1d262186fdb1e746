"""A second Ctrl-C abandons running steps cleanly (issue 12, item 12)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Hashable
from typing import Any

import networkx as nx
import pytest

from cozyplan.walk import walk
from tests.conftest import Project


def test_cancelled_walk_collects_every_running_step() -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(["a", "b", "c"])
    reported: list[dict[str, Any]] = []
    steps: list[asyncio.Task[Any]] = []

    async def run(node: Hashable) -> None:
        task = asyncio.current_task()
        assert task is not None
        steps.append(task)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.01)
            raise RuntimeError(f"{node} cleanup failed") from None

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _l, ctx: reported.append(ctx))
        walker = asyncio.ensure_future(walk(graph, run, parallelism=3))
        await asyncio.sleep(0.05)
        walker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await walker
        assert len(steps) == 3 and all(t.done() for t in steps)

    asyncio.run(main())
    assert reported == []


def test_second_sigint_reports_abandoned_steps(project: Project) -> None:
    project.write(
        """\
        version: 1
        resources:
          local_command.slow:
            count: 4
            command: "sleep 5 && mkdir -p out && echo ${count.index} >> out/ran.log"
        """
    )
    proc = project.spawn("apply", "--auto-approve", "--parallelism", "2")
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while seen.count("Creating...") < 2 and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    out = seen + out
    assert proc.returncode == 1
    assert "never retrieved" not in err and "Traceback" not in err, err
    assert out.count(": abandoned after") == 2, out
    assert "failed" not in out
