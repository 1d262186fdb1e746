"""The CLI's rough edges (issue 12, items 13, 14, 15, 17)."""

from __future__ import annotations

import pytest

from tests.conftest import Project


def test_failed_plan_leaves_nothing_behind(project: Project) -> None:
    for args in (("plan",), ("plan", "--lab"), ("apply", "--lab", "--auto-approve")):
        result = project.sh(*args)
        assert result.returncode == 1
        assert "spec file not found: cozyplan.yaml" in result.stderr
        assert list(project.dir.iterdir()) == [], args


def test_bad_variable_fails_before_a_lab_is_built(project: Project) -> None:
    project.write("version: 1\nvariables:\n  x: {env: NOPE_NOT_SET}\nresources: {}\n")
    result = project.sh("plan", "--lab")
    assert result.returncode == 1
    assert "variable 'x' has no value" in result.stderr
    assert sorted(p.name for p in project.dir.iterdir()) == ["cozyplan.yaml"]


def test_missing_spec_suggests_the_specs_that_exist(project: Project) -> None:
    (project.dir / "specs").mkdir()
    (project.dir / "specs/cozystack.yaml").write_text("version: 1\n")
    result = project.sh("validate")
    assert "spec file not found: cozyplan.yaml; specs here: specs/cozystack.yaml" in result.stderr


@pytest.mark.parametrize("args", [("state", "list"), ("show",)])
def test_no_state_says_where_none_was_found(project: Project, args: tuple[str, ...]) -> None:
    result = project.sh(*args)
    assert result.returncode == 0
    assert "No state at state/cozyplan.state.json" in result.stderr
    assert not (project.dir / "state").exists()


def test_refresh_says_the_drift_is_already_recorded(project: Project) -> None:
    project.write("version: 1\nresources:\n  local_file.a: {path: out/a, content: one}\n")
    assert project.sh("apply", "--auto-approve").returncode == 0
    (project.dir / "out/a").write_text("two")
    proposed = project.sh("plan", "--refresh-only")
    assert "'cozyplan apply --refresh-only' accepts them" in proposed.stdout
    done = project.sh("refresh")
    assert done.returncode == 0
    assert "recorded it in the state" in done.stdout
    assert "accepts them into the state" not in done.stdout


def test_did_you_mean_and_no_cascade(project: Project) -> None:
    project.write(
        """\
        version: 1
        variables:
          token: {default: x}
        resources:
          local_fil.b: {path: x, content: hi}
          local_file.c: {path: y, content: "${local_file.b.content}"}
          null_resource.d: {triggers: {k: "${local_file.b.id}"}, depends_on: [local_file.b]}
          null_resource.e: {triggers: {k: "${var.tokn} ${null_resource.dd.id}"}}
          null_resource.f: {triggers: {k: "${local_file.c.contnt}"}}
          proxmox_vn.x: {name: y}
          nul_resource.z: {}
        """
    )
    result = project.sh("validate")
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert "unknown resource type 'local_fil'; did you mean 'local_file'?" in errors[0]
    assert "did you mean 'token'?" in result.stderr
    assert "did you mean 'null_resource.d'?" in result.stderr
    assert "no attribute 'contnt'; did you mean 'content'?" in result.stderr
    assert "'proxmox_vn'; did you mean 'proxmox_vm'?" in result.stderr
    assert "'nul_resource': no provider 'nul' is installed; did you mean 'null_resource'?" in (
        result.stderr
    )
    # the references to local_file.b are not repeated as errors of their own
    assert "local_file.b'" not in result.stderr
    assert len(errors) == 6, result.stderr


def test_empty_spec_is_an_error(project: Project) -> None:
    project.write("# nothing yet\n")
    result = project.sh("validate")
    assert result.returncode == 1
    assert "cozyplan.yaml:1:1: the spec is empty" in result.stderr


def test_var_accepted_by_validate_show_and_state(project: Project) -> None:
    project.write("version: 1\nvariables:\n  x: {default: a}\nresources: {}\n")
    assert project.sh("validate", "--var", "x=b").returncode == 0
    bad = project.sh("validate", "--var", "y=b")
    assert bad.returncode == 1 and "--var y: no such variable" in bad.stderr
    assert project.sh("show", "--var", "x=b").returncode == 0
    assert project.sh("state", "list", "--var", "x=b").returncode == 0
    assert project.sh("state", "list", "--var", "xb").returncode == 2
