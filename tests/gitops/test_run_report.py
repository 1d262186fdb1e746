"""The timeline of an apply: recorded in the state, drawn by apply/show --report."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cozyplan.errors import TemporaryError
from cozyplan.retry import RetryPolicy
from cozyplan.runlog import RunRecord, StepRecord
from cozyplan.session import Session
from cozyplan_local.null import NullResource
from tests.conftest import Project

SECRET = "pw-Kv8sQ2mZ"

SPEC = """\
version: 1
variables:
  pw: {default: "SECRET", sensitive: true}
resources:
  null_resource.base: {triggers: {a: "1"}}
  local_command.slow:
    for_each: {a: "0.3", b: "0.05", c: "0.05"}
    command: "sleep ${each.value}"
    triggers: {dep: "${null_resource.base.id}"}
  local_command.last:
    command: "true"
    depends_on: [local_command.slow]
  local_command.broken:
    command: "echo ${var.pw} >&2; exit 3"
  local_file.downstream:
    path: out/downstream
    content: "${local_command.broken.id}"
""".replace("SECRET", SECRET)


@pytest.fixture
def flaky_null(monkeypatch: pytest.MonkeyPatch) -> None:
    """null_resource creates fail twice with a temporary error, then succeed."""
    original = NullResource.create
    calls = {"n": 0}

    async def create(self: NullResource, planned: Any, ctx: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise TemporaryError("the lock is busy")
        return await original(self, planned, ctx)

    monkeypatch.setattr(NullResource, "create", create)
    monkeypatch.setattr(Session, "retry_policy", lambda self: RetryPolicy(time_scale=0.001))


def _last_run(project: Project) -> RunRecord:
    state = json.loads((project.dir / "state/cozyplan.state.json").read_text())
    return RunRecord.from_json(state["last_run"])


def test_apply_records_the_run_and_writes_the_report(project: Project, flaky_null: None) -> None:
    project.write(SPEC)
    out = project.run("apply", "--auto-approve", "--parallelism", "2", "--report", "run.html")
    assert out.exit_code == 1  # local_command.broken fails
    run = _last_run(project)
    assert run.operation == "apply" and run.outcome == "failed" and run.parallelism == 2
    by = {s.address: s for s in run.steps}
    assert set(by) == {
        "null_resource.base",
        "local_command.slow[a]",
        "local_command.slow[b]",
        "local_command.slow[c]",
        "local_command.last",
        "local_command.broken",
        "local_file.downstream",
    }
    assert by["null_resource.base"].retries == 2
    assert by["local_command.broken"].outcome == "failed"
    assert "exit" in (by["local_command.broken"].error or "")
    assert by["local_file.downstream"].outcome == "skipped"
    assert by["local_file.downstream"].start is None
    # dependencies and timings: a step starts after what it depends on ended
    index = {s.address: i for i, s in enumerate(run.steps)}
    last = by["local_command.last"]
    assert sorted(run.steps[j].address for j in last.after) == [
        "local_command.slow[a]",
        "local_command.slow[b]",
        "local_command.slow[c]",
    ]
    for s in run.steps:
        for j in s.after:
            if s.start is not None:
                assert s.start >= (run.steps[j].end or 0) - 0.002
    assert run.waited_on(index["local_command.last"]) == index["local_command.slow[a]"]
    # slow[a] (0.3 s) is on the longest chain
    assert [run.steps[i].address for i in run.critical_path()] == [
        "null_resource.base",
        "local_command.slow[a]",
        "local_command.last",
    ]

    page = (project.dir / "run.html").read_text()
    assert SECRET not in page and SECRET not in json.dumps(run.to_json())
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<link" not in page and " src=" not in page
    assert "default-src 'none'" in page  # the page may fetch nothing
    data = json.loads(
        re.search(
            r'<script type="application/json" id="cozyplan-run">(.*?)</script>', page, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    assert [s["address"] for s in data["steps"]] == [s.address for s in run.steps]

    # show --report draws the same run from the state; a no-change apply keeps it
    shown = project.run("show", "--report", "again.html")
    assert shown.exit_code == 0, shown.output
    assert (project.dir / "again.html").read_text() == page


def test_no_change_apply_keeps_the_last_run(project: Project) -> None:
    project.write('version: 1\nresources:\n  null_resource.a: {triggers: {x: "1"}}\n')
    assert project.run("show", "--report", "none.html").exit_code == 1
    assert project.run("apply", "--auto-approve").exit_code == 0
    first = _last_run(project)
    out = project.run("apply", "--auto-approve", "--report", "r.html")
    assert out.exit_code == 0
    assert "Nothing was applied" in out.output and not (project.dir / "r.html").exists()
    assert _last_run(project).run_id == first.run_id


def _step(address: str, start: float, end: float, after: list[int]) -> StepRecord:
    return StepRecord(address, "create", "done", start, end, 0, after)


def test_critical_path_queue_and_compact_round_trip() -> None:
    # a -> b (long) -> d ; a -> c (short, queued for a slot) -> d
    run = RunRecord(
        "id",
        "apply",
        1.0,
        10.0,
        1,
        "done",
        [
            _step("a", 0.0, 1.0, []),
            _step("b", 1.0, 6.0, [0]),
            _step("c", 6.0, 7.0, [0]),
            _step("d", 7.0, 10.0, [1, 2]),
        ],
    )
    assert run.critical_path() == [0, 1, 3]
    assert run.waited_on(3) == 2  # c ended last, although b is on the critical path
    assert run.queued(2) == pytest.approx(5.0)
    assert run.queued(1) == 0.0
    again = RunRecord.from_json(json.loads(json.dumps(run.to_json())))
    assert again == run
    assert RunRecord("x", "apply", 0, 0, 1, "done", []).critical_path() == []


def test_a_replacement_is_two_recorded_steps(project: Project) -> None:
    project.write('version: 1\nresources:\n  null_resource.a: {triggers: {x: "1"}}\n')
    assert project.run("apply", "--auto-approve").exit_code == 0
    project.write('version: 1\nresources:\n  null_resource.a: {triggers: {x: "2"}}\n')
    assert project.run("apply", "--auto-approve").exit_code == 0
    run = _last_run(project)
    assert [(s.address, s.action) for s in run.steps] == [
        ("null_resource.a (destroy)", "delete"),
        ("null_resource.a", "delete-then-create"),
    ]
    assert run.steps[1].after == [0]


def test_a_malformed_last_run_is_a_clear_error(project: Project) -> None:
    project.write('version: 1\nresources:\n  null_resource.a: {triggers: {x: "1"}}\n')
    assert project.run("apply", "--auto-approve").exit_code == 0
    path = project.dir / "state/cozyplan.state.json"
    data = json.loads(path.read_text())
    data["last_run"]["steps"] = [["only-an-address"]]
    path.write_text(json.dumps(data))
    out = project.run("show", "--report", "r.html")
    assert out.exit_code == 1
    assert "the last run recorded in state/cozyplan.state.json is malformed" in out.output
    assert project.run("plan").exit_code == 0  # the rest of the state is fine
