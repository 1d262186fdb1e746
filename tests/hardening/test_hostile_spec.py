"""Hostile or broken spec files (issue 12, items 5, 6, 8, 11): a clear error with a position,
in bounded time and memory; never a traceback, a crash or a hang."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cozyplan.errors import SpecError
from cozyplan.spec.yamlpos import MAX_DEPTH, load_yaml
from tests.conftest import Project


def alias_bomb(levels: int = 9) -> str:
    """The classic "billion laughs": 9 levels of 9 aliases, under 500 bytes."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        ref = f"*l{i - 1}"
        lines.append(f"l{i}: &l{i} [{', '.join([ref] * 9)}]")
    return "\n".join(lines) + "\n"


def nested(depth: int, style: str) -> str:
    if style == "flow":
        return (
            "version: 1\nresources:\n  null_resource.a:\n    triggers: {k: "
            + ("[" * depth + "]" * depth)
            + "}\n"
        )
    if style == "dash":
        return "version: 1\nx:\n  " + "- " * depth + "x\n"
    return "version: 1\nx:\n" + "".join(" " * (i + 1) + "b:\n" for i in range(depth))


def test_alias_bomb_is_refused_quickly_with_a_position(project: Project) -> None:
    bomb = alias_bomb()
    assert len(bomb) < 500
    project.write(bomb)
    result = project.sh("validate", timeout=60)
    assert result.returncode == 1
    assert "cozyplan.yaml:1:" in result.stderr
    assert "alias bomb" in result.stderr
    assert "Internal error" not in result.stderr


def test_legitimate_aliases_and_merges_still_work() -> None:
    text = "d: &d {a: 1, b: [1, 2]}\nx: {<<: *d, c: 3}\ny: [*d, *d]\n"
    data = load_yaml(text, "f").data
    assert data["x"] == {"a": 1, "b": [1, 2], "c": 3}
    assert data["y"] == [{"a": 1, "b": [1, 2]}] * 2


# block nesting needs quadratic indentation: 300 levels shows the point
@pytest.mark.parametrize(
    ("style", "depth"),
    [(s, d) for s in ("flow", "dash") for d in (300, 20_000, 60_000)] + [("block", 300)],
)
def test_deep_nesting_is_refused_before_recursion(project: Project, style: str, depth: int) -> None:
    project.write(nested(depth, style))
    result = project.sh("validate", timeout=60)
    assert result.returncode == 1, result.stdout  # a segfault is -11
    assert f"YAML nesting deeper than {MAX_DEPTH} levels" in result.stderr
    assert "cozyplan.yaml:" in result.stderr
    assert "Internal error" not in result.stderr


def test_nesting_at_the_limit_is_fine_all_the_way_through(project: Project) -> None:
    depth = MAX_DEPTH - 5  # resources + null_resource.a + triggers + k + lists
    project.write(nested(depth, "flow"))
    assert project.sh("validate").returncode == 0
    result = project.sh("apply", "--auto-approve")
    assert result.returncode == 0, result.stderr
    assert project.sh("plan", "--detailed-exitcode").returncode == 0


def test_deep_through_aliases_is_refused() -> None:
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, MAX_DEPTH + 5)]
    with pytest.raises(SpecError, match="nesting deeper"):
        load_yaml("\n".join(lines) + "\n", "f")


def test_non_utf8_spec_names_the_byte(project: Project) -> None:
    (project.dir / "cozyplan.yaml").write_bytes(b"version: 1\nresources:\n  # caf\xe9\n")
    result = project.sh("validate")
    assert result.returncode == 1
    assert "cozyplan.yaml:3:8: not UTF-8 text (byte 0xe9)" in result.stderr
    assert "Internal error" not in result.stderr


def test_utf8_bom_is_accepted(project: Project) -> None:
    (project.dir / "cozyplan.yaml").write_bytes(
        "\ufeffversion: 1\nresources:\n  null_resource.a: {}\n".encode()
    )
    assert project.sh("validate").returncode == 0


@pytest.mark.parametrize("args", [("graph",), ("state", "list")])
def test_closed_pipe_exits_quietly(project: Project, args: tuple[str, ...]) -> None:
    project.write(
        "version: 1\nresources:\n" + "".join(f"  null_resource.n{i}: {{}}\n" for i in range(3000))
    )
    assert project.sh("apply", "--auto-approve").returncode == 0
    cmd = f"{sys.executable} -m cozyplan {' '.join(args)} | head -1"
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {cmd}"],
        cwd=project.dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == ""
    assert result.returncode in (0, 141)
