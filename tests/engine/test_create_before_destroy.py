"""create_before_destroy: the new object first, and a crash in between leaves nothing behind."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cozyplan.state.model import Pending
from cozyplan.state.store import LocalStore
from tests.conftest import Project

SPEC = """\
version: 1
resources:
  local_file.cfg:
    path: {path}
    content: "v1"
    lifecycle: {{create_before_destroy: true}}
"""


def test_replacement_creates_first_then_deletes(project: Project) -> None:
    project.write(SPEC.format(path="out/a.conf"))
    assert project.run("apply", "--auto-approve").exit_code == 0
    project.write(SPEC.format(path="out/b.conf"))
    plan = project.run("plan")
    assert "+/- local_file.cfg" in plan.output
    assert "must be replaced (create before destroy)" in plan.output
    out = project.run("apply", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert (project.dir / "out/b.conf").read_text() == "v1"
    assert not (project.dir / "out/a.conf").exists()
    state = json.loads((project.dir / "state/cozyplan.state.json").read_text())
    assert state["resources"]["local_file.cfg"]["deposed"] == []
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_crash_between_create_and_delete_is_finished_next_run(project: Project) -> None:
    project.write(SPEC.format(path="out/a.conf"))
    assert project.run("apply", "--auto-approve").exit_code == 0
    # what a SIGKILL leaves after the new object was created and before the old was deleted:
    # the crash marker (written before the create) and the new object, but no result recorded
    store = LocalStore(project.dir / "state/cozyplan.state.json")
    state = store.load()
    rs = state.resources["local_file.cfg"]
    new = {**(rs.observed or {}), "path": "out/b.conf", "id": None}
    rs.pending = Pending("create-before-destroy", time.time(), new, "crashed-run")
    store.record(state, "local_file.cfg", rs)
    store.write(state)
    Path(project.dir / "out/b.conf").write_text("v1")

    project.write(SPEC.format(path="out/b.conf"))
    plan = project.run("plan")
    assert "was created by an interrupted run and is adopted" in plan.output
    assert "local_file.cfg (deposed) will be destroyed" in plan.output
    out = project.run("apply", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert not (project.dir / "out/a.conf").exists()  # the old object: not orphaned
    assert (project.dir / "out/b.conf").read_text() == "v1"
    final = json.loads((project.dir / "state/cozyplan.state.json").read_text())
    entry = final["resources"]["local_file.cfg"]
    assert entry["pending"] is None and entry["deposed"] == []
    assert entry["observed"]["path"] == "out/b.conf"
    assert project.run("plan", "--detailed-exitcode").exit_code == 0
