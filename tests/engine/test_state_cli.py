"""state list/show/rm/mv, schema, graph, show: the inspection commands."""

from __future__ import annotations

import json

from tests.conftest import Project

SPEC = """\
version: 1
variables:
  pw: {default: "correct-horse", sensitive: true}
resources:
  null_resource.a: {triggers: {x: "1"}}
  local_file.f:
    path: out/f
    content: "${null_resource.a.id}"
  local_file.s:
    path: out/s
    sensitive_content: "${var.pw}"
"""


def test_state_commands(project: Project) -> None:
    project.write(SPEC)
    assert project.run("apply", "--auto-approve").exit_code == 0
    listed = project.run("state", "list").output.split()
    assert listed == ["local_file.f", "local_file.s", "null_resource.a"]
    shown = project.run("state", "show", "local_file.s").output
    assert "(sensitive value)" in shown and "correct-horse" not in shown
    assert "depends on" not in shown
    assert "# depends on: null_resource.a" in project.run("state", "show", "local_file.f").output

    # mv: rename in the spec and in the state, then nothing to do
    project.write(SPEC.replace("local_file.f:", "local_file.renamed:"))
    assert project.run("plan", "--detailed-exitcode").exit_code == 2
    moved = project.run("state", "mv", "local_file.f", "local_file.renamed")
    assert moved.exit_code == 0, moved.output
    assert project.run("plan", "--detailed-exitcode").exit_code == 0
    wrong = project.run("state", "mv", "local_file.renamed", "null_resource.x")
    assert wrong.exit_code == 1 and "the type differs" in wrong.output

    # rm: forget, leaving the file; the next plan creates (adopts) it again
    assert project.run("state", "rm", "local_file.s").exit_code == 0
    assert (project.dir / "out/s").exists()
    assert "local_file.s will be created" in project.run("plan").output
    missing = project.run("state", "rm", "local_file.nope")
    assert missing.exit_code == 1 and "not in the state" in missing.output


def test_schema_graph_and_show(project: Project) -> None:
    schema = json.loads(project.run("schema").output)
    patterns = schema["properties"]["resources"]["patternProperties"]
    vm = next(v for k, v in patterns.items() if k.startswith("^proxmox_vm\\."))
    assert "cores" in vm["properties"] and "for_each" in vm["properties"]
    assert "ipv4_addresses" in vm["properties"]  # optional-computed: settable
    nf = next(v for k, v in patterns.items() if k.startswith("^null_resource\\."))
    assert "id" not in nf["properties"]  # computed only: not settable
    assert "proxmox" in schema["properties"]["providers"]["properties"]

    project.write(SPEC)
    dot = project.run("graph").output
    assert dot.startswith("digraph cozyplan {")
    assert '"null_resource.a" -> "local_file.f";' in dot
    assert project.run("apply", "--auto-approve").exit_code == 0
    state = json.loads(project.run("show", "--json").output)
    values = {r["address"]: r["values"] for r in state["resources"]}
    assert values["local_file.s"]["sensitive_content"] == "(sensitive value)"
