"""The issue's core loop: plan -> apply -> empty plan; edits; drift; healing."""

from __future__ import annotations

import json

from tests.conftest import Project

SPEC = """\
version: 1
variables:
  cluster: {default: cozy-new}
  token: {default: "hunter2-secret", sensitive: true}
resources:
  local_file.motd:
    path: out/motd
    content: "hello ${var.cluster}"
  null_resource.cp:
    for_each: {cp1: 1001, cp2: 1002, cp3: 1003}
    triggers: {vmid: "${each.value}", name: "${var.cluster}-${each.key}"}
  local_file.inventory:
    path: out/inventory
    content: "${null_resource.cp[cp1].id}"
    depends_on: [local_file.motd]
  local_file.secret:
    path: out/secret
    sensitive_content: "token=${var.token}"
  local_command.hello:
    command: "mkdir -p out && echo hi from ${var.cluster} >> out/hello.log"
"""


def test_plan_apply_plan_is_empty(project: Project) -> None:
    project.write(SPEC)
    first = project.run("plan", "--detailed-exitcode")
    assert first.exit_code == 2, first.output
    assert "Plan: 7 to add, 0 to change, 0 to destroy." in first.output
    applied = project.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert (project.dir / "out/motd").read_text() == "hello cozy-new"
    inventory = (project.dir / "out/inventory").read_text()
    state = json.loads((project.dir / "state/cozyplan.state.json").read_text())
    assert state["resources"]["null_resource.cp[cp1]"]["observed"]["id"] == inventory
    second = project.run("plan", "--detailed-exitcode")
    assert second.exit_code == 0, second.output
    assert "No changes." in second.output
    # apply twice: nothing runs again
    again = project.run("apply", "--auto-approve")
    assert again.exit_code == 0
    assert (project.dir / "out/hello.log").read_text().count("hi from") == 1


def test_edits_show_update_and_replace(project: Project) -> None:
    project.write(SPEC)
    assert project.run("apply", "--auto-approve").exit_code == 0
    project.write(SPEC.replace("cp3: 1003", "cp3: 1004").replace('"hello ', '"hi '))
    out = project.run("plan", "--detailed-exitcode")
    assert out.exit_code == 2
    assert "~ local_file.motd" in out.output
    assert '~ content: "hello cozy-new" -> "hi cozy-new"' in out.output
    assert "-/+ null_resource.cp[cp3]" in out.output
    assert "~ triggers.vmid: 1003 -> 1004  # forces replacement" in out.output
    assert "Plan: 1 to add, 1 to change, 1 to destroy." in out.output
    assert project.run("apply", "--auto-approve").exit_code == 0
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_removed_resource_is_deleted(project: Project) -> None:
    project.write(SPEC)
    assert project.run("apply", "--auto-approve").exit_code == 0
    project.write(
        SPEC.replace(
            "  local_file.secret:\n    path: out/secret\n"
            '    sensitive_content: "token=${var.token}"\n',
            "",
        )
    )
    out = project.run("apply", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert "local_file.secret will be destroyed (removed from the spec)" in out.output
    assert not (project.dir / "out/secret").exists()


def test_drift_is_reported_and_healed(project: Project) -> None:
    project.write(SPEC)
    assert project.run("apply", "--auto-approve").exit_code == 0
    (project.dir / "out/motd").unlink()
    (project.dir / "out/inventory").write_text("tampered")
    refreshed = project.run("refresh", "--detailed-exitcode")
    assert refreshed.exit_code == 2, refreshed.output
    assert "local_file.motd has been deleted outside cozyplan" in refreshed.output
    assert "local_file.inventory has changed outside cozyplan" in refreshed.output
    assert '-> "tampered"' in refreshed.output
    healed = project.run("apply", "--auto-approve")
    assert healed.exit_code == 0
    assert (project.dir / "out/motd").read_text() == "hello cozy-new"
    assert project.run("refresh", "--detailed-exitcode").exit_code == 0
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_secrets_never_printed_or_stored_in_clear(project: Project) -> None:
    project.write(SPEC)
    for args in (
        ("plan",),
        ("plan", "--json"),
        ("apply", "--auto-approve"),
        ("show",),
        ("show", "--json"),
        ("state", "show", "local_file.secret"),
    ):
        out = project.run(*args)
        assert out.exit_code == 0, out.output
        assert "hunter2" not in out.output
    state_text = (project.dir / "state/cozyplan.state.json").read_text()
    assert "hunter2" not in state_text
    assert (project.dir / "out/secret").read_text() == "token=hunter2-secret"
    plan_json = json.loads(project.run("plan", "--json", "--replace", "local_file.secret").output)
    (change,) = plan_json["resource_changes"]
    assert change["after"]["sensitive_paths"] == [["sensitive_content"]]
    assert change["after"]["values"]["sensitive_content"] is None


def test_destroy_removes_everything(project: Project) -> None:
    project.write(SPEC)
    assert project.run("apply", "--auto-approve").exit_code == 0
    out = project.run("destroy", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert "Destroy complete! Resources: 0 added, 0 changed, 7 destroyed." in out.output
    assert not (project.dir / "out/motd").exists()
    assert project.run("state", "list").output == ""


def test_apply_asks_for_yes(project: Project) -> None:
    project.write(SPEC)
    out = project.run("apply", input="no\n")
    assert out.exit_code == 1
    assert "Apply cancelled." in out.output
    assert not (project.dir / "out/motd").exists()
    out = project.run("apply", input="yes\n")
    assert out.exit_code == 0
    assert (project.dir / "out/motd").exists()


def test_target_limits_to_resource_and_dependencies(project: Project) -> None:
    project.write(SPEC)
    out = project.run("apply", "--auto-approve", "--target", "local_file.inventory")
    assert out.exit_code == 0, out.output
    assert (project.dir / "out/inventory").exists()
    assert (project.dir / "out/motd").exists()  # a dependency
    assert not (project.dir / "out/secret").exists()
    assert "resource targeting is in effect" in out.output


def test_markdown_summary(project: Project) -> None:
    project.write(SPEC)
    out = project.run("plan", "--markdown", "plan.md")
    assert out.exit_code == 0
    md = (project.dir / "plan.md").read_text()
    assert "**Plan: 7 to add, 0 to change, 0 to destroy.**" in md
    assert "| <code>local_file.motd</code> | <code>local_file</code> | create |" in md
    assert "hunter2" not in md


def test_for_each_references_its_peer_instance_by_each_key(project: Project) -> None:
    project.write("""\
version: 1
resources:
  null_resource.vm:
    for_each: {a: 1, b: 2}
    triggers: {n: "${each.value}"}
  local_file.node:
    for_each: {a: x, b: y}
    path: "out/${each.key}"
    content: "${null_resource.vm[each.key].id}"
""")
    out = project.run("graph")
    assert '"null_resource.vm[a]" -> "local_file.node[a]";' in out.output
    assert '"null_resource.vm[a]" -> "local_file.node[b]";' not in out.output
    assert project.run("apply", "--auto-approve").exit_code == 0
    state = json.loads((project.dir / "state/cozyplan.state.json").read_text())
    for key in ("a", "b"):
        rid = state["resources"][f"null_resource.vm[{key}]"]["observed"]["id"]
        assert (project.dir / f"out/{key}").read_text() == rid
    bad = project.write(
        """\
version: 1
resources:
  null_resource.vm:
    for_each: {a: 1}
  local_file.one:
    path: out/one
    content: "${null_resource.vm[each.key].id}"
""",
        "bad.yaml",
    )
    out = project.run("validate", "-f", str(bad))
    assert out.exit_code == 1
    assert "[each.key] needs for_each on this resource" in out.output


def test_removed_resources_are_deleted_in_reverse_dependency_order(project: Project) -> None:
    log = "out/order.log"
    project.write(f"""\
version: 1
resources:
  local_command.base:
    command: "mkdir -p out"
    destroy_command: "echo base >> {log}"
  local_command.mid:
    command: "true ${{local_command.base.id}}"
    destroy_command: "echo mid >> {log}"
  local_command.top:
    command: "true ${{local_command.mid.id}}"
    destroy_command: "echo top >> {log}"
  local_command.keep:
    command: "true"
""")
    assert project.run("apply", "--auto-approve", "--parallelism", "10").exit_code == 0
    # all three leave the spec at once: only the state knows how they depended on each other
    project.write('version: 1\nresources:\n  local_command.keep:\n    command: "true"\n')
    out = project.run("apply", "--auto-approve", "--parallelism", "10")
    assert out.exit_code == 0, out.output
    assert (project.dir / log).read_text().split() == ["top", "mid", "base"]


def test_replacements_destroy_dependents_first_and_create_them_last(project: Project) -> None:
    spec = """\
version: 1
variables: {v: {default: "1"}}
resources:
  local_command.a:
    command: "mkdir -p out && echo create-a >> out/log"
    destroy_command: "echo del-a >> out/log"
    triggers: {v: "${var.v}"}
  local_command.b:
    command: "echo create-b ${local_command.a.id} >> out/log"
    destroy_command: "echo del-b >> out/log"
"""
    project.write(spec)
    assert project.run("apply", "--auto-approve").exit_code == 0
    (project.dir / "out/log").write_text("")
    out = project.run("apply", "--auto-approve", "--var", "v=2")
    assert out.exit_code == 0, out.output
    assert "Resources: 2 added, 0 changed, 2 destroyed." in out.output
    lines = (project.dir / "out/log").read_text().splitlines()
    assert lines[:3] == ["del-b", "del-a", "create-a"]
    assert lines[3].startswith("create-b ")
    assert project.run("plan", "--detailed-exitcode", "--var", "v=2").exit_code == 0
