"""A saved plan carries its context and is checked when loaded (issue 12, items 2 and 7)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Project, rehearsed

SPEC = """\
version: 1
variables:
  tok: {sensitive: true}
  name: {default: a}
resources:
  local_file.a: {path: "out/${var.name}", sensitive_content: "${var.tok}"}
"""


def test_saved_plan_applies_in_its_lab_dir_with_its_variables(project: Project) -> None:
    project.write(SPEC)
    made = project.sh(
        "plan", "--lab", "--lab-dir", "X", "--var", "tok=hunter22", "--var", "name=b", "--out", "p"
    )
    assert made.returncode == 0, made.stderr
    assert "hunter22" not in (project.dir / "p").read_text()  # sealed with the state key
    refused = project.sh("apply", "p", "--var", "name=c")
    assert refused.returncode == 1 and "drop --var" in refused.stderr
    other = project.sh("apply", "p", "--lab-dir", "Y")
    assert other.returncode == 1 and "made against the lab in X" in other.stderr
    result = project.sh("apply", "p")
    assert result.returncode == 0, result.stderr
    # a lab run writes the files the spec names under the lab directory, never in place
    assert rehearsed(project.dir / "X", project.dir / "out/b").read_text() == "hunter22"
    assert not (project.dir / "out/b").exists()
    assert (project.dir / "X/state/cozyplan.state.json").exists()
    assert not (project.dir / ".lab").exists(), "a default lab no state tracks was made"
    assert not (project.dir / "Y").exists()


def test_saved_plan_without_lab_keeps_its_variables(project: Project) -> None:
    project.write(SPEC)
    assert project.sh("plan", "--var", "tok=s3cret-x", "--out", "p").returncode == 0
    result = project.sh("apply", "p")
    assert result.returncode == 0, result.stderr
    assert (project.dir / "out/a").read_text() == "s3cret-x"
    assert "s3cret-x" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.pop("spec_sha256"), "spec_sha256: Field required"),
        (lambda d: d["options"].update(parallelism=0), "options.parallelism"),
        (lambda d: d.update(serial="abc"), "serial"),
        (lambda d: d["options"].update(mode="yolo"), "options.mode"),
        (lambda d: d.update(actions=[["a"]]), "actions.0"),
    ],
)
def test_damaged_plan_file_is_named(project: Project, edit: object, expected: str) -> None:
    project.write(SPEC)
    assert project.sh("plan", "--var", "tok=x", "--out", "p").returncode == 0
    data = json.loads((project.dir / "p").read_text())
    edit(data)  # type: ignore[operator]
    (project.dir / "p").write_text(json.dumps(data))
    for args in (("apply", "p"), ("show", "p")):
        result = project.sh(*args)
        assert result.returncode == 1
        assert "Internal error" not in result.stderr
        assert "p is a damaged plan file" in result.stderr and expected in result.stderr


@pytest.mark.parametrize("content", [b"[]", b"null", b"\xff\x00", b'{"kind": 1}'])
def test_not_a_plan_file(project: Project, content: bytes) -> None:
    (project.dir / "p").write_bytes(content)
    result = project.sh("apply", "p")
    assert result.returncode == 1
    assert "p is not a cozyplan plan file" in result.stderr
