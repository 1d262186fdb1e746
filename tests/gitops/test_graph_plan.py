"""graph --plan: the DOT graph coloured by planned action."""

from __future__ import annotations

import re

from cozyplan.plan import Action
from cozyplan.render.dot import COLOURS
from tests.conftest import Project

BEFORE = """\
version: 1
resources:
  null_resource.base: {triggers: {a: "1"}}
  null_resource.old: {triggers: {a: "1"}}
  local_file.motd: {path: out/motd, content: "${null_resource.old.id}"}
  local_file.same: {path: out/same, content: "x"}
  local_file.gone: {path: out/gone, content: "${null_resource.base.id}"}
"""
AFTER = """\
version: 1
resources:
  null_resource.base: {triggers: {a: "2"}}
  local_file.motd: {path: out/motd, content: "hello"}
  local_file.same: {path: out/same, content: "x"}
  null_resource.new: {triggers: {b: "${null_resource.base.id}"}}
"""


def _fill(dot: str, node: str) -> str:
    m = re.search(rf'^  "{re.escape(node)}" \[.*fillcolor = "([^"]+)"', dot, re.M)
    assert m, f"{node} not coloured in:\n{dot}"
    return m.group(1)


def test_graph_plan_colours_nodes_by_action(project: Project) -> None:
    project.write(BEFORE)
    assert project.run("apply", "--auto-approve").exit_code == 0
    project.write(AFTER)
    out = project.run("graph", "--plan")
    assert out.exit_code == 0, out.output
    dot = out.output
    assert dot.startswith("digraph cozyplan {") and dot.rstrip().endswith("}")
    assert _fill(dot, "null_resource.base") == COLOURS[Action.DELETE_THEN_CREATE][0]
    assert _fill(dot, "null_resource.new") == COLOURS[Action.CREATE][0]
    assert _fill(dot, "local_file.motd") == COLOURS[Action.UPDATE][0]
    assert _fill(dot, "local_file.same") == COLOURS[Action.NOOP][0]
    # removed from the spec: still drawn (dashed), with the dependency the state recorded
    assert _fill(dot, "null_resource.old") == COLOURS[Action.DELETE][0]
    assert '"null_resource.old" [label = "- null_resource.old", style = "filled,dashed"' in dot
    assert _fill(dot, "local_file.gone") == COLOURS[Action.DELETE][0]
    assert '"null_resource.base" -> "local_file.gone";' in dot
    assert '"null_resource.base" -> "null_resource.new";' in dot
    assert 'label = "planned action"' in dot
    # the plain graph is unchanged: no colours, no state read
    plain = project.run("graph").output
    assert "fillcolor" not in plain and '"null_resource.old"' not in plain
