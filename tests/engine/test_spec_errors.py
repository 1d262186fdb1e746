"""Bad specs give one clear message each with file:line:col, never a traceback."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cozyplan.errors import SpecError
from cozyplan.spec.config import load_config
from tests.conftest import Project

POS = re.compile(r"^Error: [^:]+\.yaml:\d+:\d+: ", re.M)

CASES = {
    "unknown field": (
        "version: 1\nresources:\n  local_file.a:\n    path: a\n    contnt: x\n",
        "spec.yaml:5:5: local_file.a.contnt: unknown field; did you mean 'content'?",
    ),
    "wrong type": (
        "version: 1\nresources:\n  local_file.a:\n    path: [1, 2]\n",
        "spec.yaml:4:5: local_file.a.path: Input should be a valid string",
    ),
    "unknown reference": (
        "version: 1\nresources:\n  local_file.a:\n    path: a\n"
        "    content: '${null_resource.x.id}'\n",
        "spec.yaml:5:5: local_file.a.content: reference to undeclared resource 'null_resource.x'",
    ),
    "unknown attribute": (
        "version: 1\nresources:\n  null_resource.x: {}\n  local_file.a:\n    path: a\n"
        "    content: '${null_resource.x.nope}'\n",
        "spec.yaml:6:5: local_file.a.content: 'null_resource.x.nope': null_resource has no "
        "attribute 'nope'",
    ),
    "cycle": (
        "version: 1\nresources:\n  null_resource.a:\n    triggers: {x: '${null_resource.b.id}'}\n"
        "  null_resource.b:\n    triggers: {x: '${null_resource.c.id}'}\n"
        "  null_resource.c:\n    depends_on: [null_resource.a]\n",
        "dependency cycle: null_resource.a -> null_resource.b -> null_resource.c -> "
        "null_resource.a",
    ),
    "duplicate key": (
        "version: 1\nresources:\n  local_file.a:\n    path: a\n    path: b\n",
        "spec.yaml:5:5: duplicate key 'path' (first defined at line 4)",
    ),
    "yaml syntax": (
        "version: 1\nresources:\n  local_file.a: {path: a\n",
        "spec.yaml:4:1: YAML syntax error",
    ),
    "unknown variable": (
        "version: 1\nresources:\n  local_file.a:\n    path: '${var.nope}'\n",
        "spec.yaml:4:5: local_file.a.path: reference to undeclared variable 'var.nope'",
    ),
    "each without for_each": (
        "version: 1\nresources:\n  local_file.a:\n    path: '${each.key}'\n",
        "'each.key' is only valid in a resource with for_each",
    ),
    "missing index": (
        "version: 1\nresources:\n  null_resource.n:\n    count: 2\n  local_file.a:\n"
        "    path: a\n    content: '${null_resource.n.id}'\n",
        "null_resource.n uses count; name one instance",
    ),
    "computed field set": (
        "version: 1\nresources:\n  null_resource.n:\n    id: x\n",
        "spec.yaml:4:5: null_resource.n.id: is computed by the provider and cannot be set",
    ),
    "unknown provider": (
        "version: 1\nresources:\n  proxmoks_vm.a: {}\n",
        "spec.yaml:3:3: proxmoks_vm.a: unknown resource type 'proxmoks_vm'",
    ),
    "bad top level": (
        "version: 1\nresource: {}\n",
        "spec.yaml:2:1: resource: unknown top-level key",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec_message(project: Project, case: str) -> None:
    text, expected = CASES[case]
    project.write(text, "spec.yaml")
    out = project.run("validate", "-f", "spec.yaml")
    assert out.exit_code == 1
    assert expected in out.output
    assert "Traceback" not in out.output
    assert POS.search(out.output), out.output


def test_all_errors_reported_at_once(project: Project) -> None:
    project.write(
        "version: 1\nresources:\n  local_file.a:\n    pth: a\n  local_file.b:\n"
        "    path: '${var.x}'\n",
        "spec.yaml",
    )
    out = project.run("validate", "-f", "spec.yaml")
    assert out.exit_code == 1
    assert len(POS.findall(out.output)) == 3  # unknown field, missing path, unknown variable


# -- random specs ---------------------------------------------------------------------------
names = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)
scalars = st.one_of(
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.text(string.printable, max_size=12),
    st.sampled_from(
        [
            "${var.v}",
            "${null_resource.n.id}",
            "${each.key}",
            "${local_file.f.id}",
            "${null_resource.n}",
            "${",
            "${count.index}",
            "${var}",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)),
    max_leaves=6,
)
types = st.sampled_from(["local_file", "null_resource", "local_command", "nope_thing", "Bad"])
bodies = st.dictionaries(
    st.one_of(
        st.sampled_from(
            [
                "path",
                "content",
                "triggers",
                "command",
                "mode",
                "for_each",
                "count",
                "depends_on",
                "lifecycle",
                "id",
            ]
        ),
        names,
    ),
    values,
    max_size=4,
)
specs = st.fixed_dictionaries(
    {
        "version": st.sampled_from([1, 1, 1, 2, "x"]),
        "variables": st.dictionaries(
            st.sampled_from(["v", "w"]), st.sampled_from([{"default": "a"}, {"env": "NOPE_X"}, {}])
        ),
        "resources": st.dictionaries(
            st.builds(lambda t, n: f"{t}.{n}", types, st.sampled_from(["n", "f", "g"])),
            bodies,
            max_size=4,
        ),
    }
)


def _dump(data: object) -> str:
    from io import StringIO

    from ruamel.yaml import YAML

    buf = StringIO()
    YAML().dump(data, buf)
    return buf.getvalue()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=specs, garble=st.integers(0, 3))
def test_random_specs_are_valid_or_give_positioned_errors(
    tmp_path: Path, spec: dict[str, object], garble: int
) -> None:
    text = _dump(spec)
    if garble == 1:
        text = text.replace(":", "", 1)  # broken YAML
    elif garble == 2:
        text += text.splitlines()[0] + "\n"  # duplicate top-level key
    path = tmp_path / "rand.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except SpecError as exc:
        assert exc.diagnostics
        for diag in exc.diagnostics:
            assert diag.position is not None, str(diag)
            assert diag.position.file == str(path)
            assert 1 <= diag.position.line <= max(1, text.count("\n") + 1)
            assert diag.position.col >= 1
            assert str(diag).startswith(f"{path}:{diag.position.line}:{diag.position.col}: ")


def test_plan_time_reference_errors_name_the_field(project: Project) -> None:
    project.write(
        "version: 1\nvariables:\n  keys: {default: [a, b]}\nresources:\n"
        "  null_resource.c: {count: 2}\n"
        "  null_resource.e: {for_each: '${var.keys}'}\n"
        "  local_file.a:\n    path: out/a\n    content: '${null_resource.c[5].id}'\n"
        "  local_file.b:\n    path: out/b\n    content: '${null_resource.e[zzz].id}'\n"
        "    depends_on: ['null_resource.c[7]']\n"
        "  local_file.t:\n    path: out/t\n    content: 'x ${oops'\n",
        "spec.yaml",
    )
    bad_template = project.run("validate", "-f", "spec.yaml")
    assert "spec.yaml:16:5: local_file.t.content: unterminated" in bad_template.output
    project.write((project.dir / "spec.yaml").read_text().replace("x ${oops", "fine"), "spec.yaml")
    out = project.run("plan", "-f", "spec.yaml")
    assert out.exit_code == 1
    assert (
        "spec.yaml:9:5: local_file.a.content: 'null_resource.c[5].id': null_resource.c[5] "
        "does not exist (instances: [0], [1])" in out.output
    )
    assert "spec.yaml:12:5: local_file.b.content:" in out.output
    assert "spec.yaml:13:18: local_file.b.depends_on[0]: depends_on names " in out.output


def test_literal_count_is_checked_by_validate(project: Project) -> None:
    project.write(
        "version: 1\nresources:\n  null_resource.n: {count: -1}\n  null_resource.m: {count: abc}\n",
        "spec.yaml",
    )
    out = project.run("validate", "-f", "spec.yaml")
    assert out.exit_code == 1
    assert out.output.count("count must be a whole number, 0 or more") == 2
