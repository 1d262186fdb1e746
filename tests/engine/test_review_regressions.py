"""Behaviours a review found wrong once; each stays fixed."""

from __future__ import annotations

from tests.conftest import Project


def test_prevent_destroy_only_guards_what_the_targeted_plan_touches(project: Project) -> None:
    project.write(
        "version: 1\nresources:\n"
        "  null_resource.keep: {lifecycle: {prevent_destroy: true}}\n"
        "  null_resource.tmp: {}\n"
    )
    assert project.run("apply", "--auto-approve").exit_code == 0
    out = project.run("destroy", "--auto-approve", "--target", "null_resource.tmp")
    assert out.exit_code == 0, out.output
    assert project.run("state", "list").output.split() == ["null_resource.keep"]
    refused = project.run("destroy", "--auto-approve")
    assert refused.exit_code == 1
    assert "lifecycle.prevent_destroy is set, but this plan would destroy it" in refused.output


def test_refresh_only_forgets_what_was_deleted_outside(project: Project) -> None:
    project.write("version: 1\nresources:\n  local_file.a: {path: out/a, content: x}\n")
    assert project.run("apply", "--auto-approve").exit_code == 0
    (project.dir / "out/a").unlink()
    assert project.run("apply", "--refresh-only", "--auto-approve").exit_code == 0
    assert project.run("state", "list").output == ""
    assert project.run("refresh", "--detailed-exitcode").exit_code == 0


def test_local_file_edge_contents_converge(project: Project) -> None:
    project.write(
        'version: 1\nresources:\n  local_file.crlf: {path: out/c, content: "a\\r\\nb"}\n'
        "  local_file.empty: {path: out/e}\n"
    )
    assert project.run("apply", "--auto-approve").exit_code == 0
    assert (project.dir / "out/c").read_bytes() == b"a\r\nb"
    assert project.run("plan", "--detailed-exitcode").exit_code == 0
    both = project.write(
        "version: 1\nresources:\n  local_file.x: {path: out/x, content: a, sensitive_content: b}\n",
        "b.yaml",
    )
    out = project.run("validate", "-f", str(both))
    assert out.exit_code == 1 and "set content or sensitive_content, not both" in out.output


def test_a_change_of_kind_is_a_change(project: Project) -> None:
    project.write("version: 1\nresources:\n  null_resource.t: {triggers: {x: true}}\n")
    assert project.run("apply", "--auto-approve").exit_code == 0
    project.write("version: 1\nresources:\n  null_resource.t: {triggers: {x: 1}}\n")
    assert project.run("plan", "--detailed-exitcode").exit_code == 2
