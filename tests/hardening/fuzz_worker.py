"""The fuzz campaign, run by ``test_fuzz.py`` in a subprocess with bounded memory.

Every input must give a clear result: exit 0 or 1 with ``Error:`` lines, never "Internal error",
a traceback, a crash, a hang or a MemoryError. Run as ``python -m tests.hardening.fuzz_worker
WORKDIR EXAMPLES``; exits 0 when every example passed, 1 (with the failing input) otherwise.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cozyplan.cli.app import main

SPEC = """\
version: 1
variables:
  tok: {default: "s3cr\\"et\\nx", sensitive: true}
resources:
  null_resource.a: {triggers: {k: v}}
  local_file.b: {path: out/b, content: "${null_resource.a.id}"}
  local_file.c: {path: out/c, sensitive_content: "${var.tok}"}
"""
STATE = Path("state/cozyplan.state.json")
YAMLISH = "{}[]-:&*!|>'\"\n #abc01,.?%@`\t\\<=~"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    code = result.exit_code
    out = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: escaped {type(result.exception).__name__}: {out}")
    return code, out


def check_clear(args: tuple[str, ...], code: int, out: str, input_repr: str) -> None:
    bad = ("Internal error", "Traceback", "MemoryError", "RecursionError")
    if code not in (0, 1, 2) or any(b in out for b in bad):
        raise AssertionError(f"{args} on {input_repr[:300]}: exit {code}\n{out[-2000:]}")
    if code == 1 and "Error" not in out:
        raise AssertionError(f"{args} on {input_repr[:300]}: exit 1 without a message\n{out}")
    if "s3cr" in out:
        raise AssertionError(f"{args}: a secret was printed\n{out}")


def run_validate(data: bytes) -> None:
    Path("fuzz.yaml").write_bytes(data)
    code, out = cli("validate", "-f", "fuzz.yaml")
    check_clear(("validate",), code, out, repr(data))


FAST = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@FAST
@given(st.binary(max_size=3000))
def fuzz_random_bytes(data: bytes) -> None:
    run_validate(data)


@FAST
@given(st.text(alphabet=YAMLISH, max_size=2000))
def fuzz_yamlish_text(text: str) -> None:
    run_validate(text.encode())


@FAST
@given(
    st.integers(min_value=50, max_value=120_000),
    st.sampled_from(["[", "{a: ", "- ", "k:\n"]),
)
def fuzz_deep_nesting(depth: int, opener: str) -> None:
    if opener == "[":
        body = "[" * depth + "]" * depth
    elif opener == "{a: ":
        body = "{a: " * depth + "1" + "}" * depth
    elif opener == "- ":
        body = "\n  " + "- " * depth + "x"
    else:
        depth = min(depth, 400)  # block nesting costs quadratic indentation
        body = "\n" + "".join(" " * (i + 1) + "k:\n" for i in range(depth))
    run_validate(f"version: 1\nresources:\n  null_resource.a:\n    triggers: {body}\n".encode())


@FAST
@given(st.integers(min_value=2, max_value=30), st.integers(min_value=2, max_value=14))
def fuzz_alias_bombs(width: int, levels: int) -> None:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    lines.append(f"resources: {{null_resource.a: {{triggers: {{k: *l{levels - 1}}}}}}}")
    run_validate(("version: 1\n" + "\n".join(lines) + "\n").encode())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def mutate(doc: Any, rnd: random.Random, replacement: Any) -> Any:
    """Replace or delete one random node of a JSON document."""
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return replacement
    path = rnd.choice(paths)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if rnd.random() < 0.4 and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return doc


def corruptions(pristine: bytes) -> st.SearchStrategy[bytes]:
    doc = json.loads(pristine)

    def structural(seed: int, value: Any) -> bytes:
        return json.dumps(mutate(json.loads(json.dumps(doc)), random.Random(seed), value)).encode()

    return st.one_of(
        st.integers(0, len(pristine)).map(lambda n: pristine[:n]),
        st.tuples(st.integers(0, max(0, len(pristine) - 1)), st.binary(min_size=1, max_size=8)).map(
            lambda t: pristine[: t[0]] + t[1] + pristine[t[0] + len(t[1]) :]
        ),
        st.builds(structural, st.integers(0, 2**32), json_values),
        st.binary(max_size=200),
    )


def fuzz_state_and_plan_files(base: Path) -> None:
    state = (base / STATE).read_bytes()
    plan = (base / "p.plan").read_bytes()

    def restore() -> None:
        shutil.rmtree("state", ignore_errors=True)
        shutil.copytree(base / "state", "state")
        shutil.copy(base / "p.plan", "p.plan")

    @FAST
    @given(corruptions(state), st.sampled_from(["snapshot", "journal"]))
    def state_case(data: bytes, where: str) -> None:
        restore()
        if where == "snapshot":
            STATE.write_bytes(data)
        else:
            header = json.dumps({"lineage": json.loads(state)["lineage"], "base_serial": 0})
            STATE.with_name(STATE.name + ".journal").write_bytes(
                header.encode() + b"\n" + data + b"\n" + b'{"serial": 99, "address": "x.y"}\n'
            )
        for args in (("state", "list"), ("plan",), ("show",)):
            code, out = cli(*args)
            check_clear(args, code, out, f"{where}: {data!r}")

    @FAST
    @given(corruptions(plan))
    def plan_case(data: bytes) -> None:
        restore()
        Path("p.plan").write_bytes(data)
        for args in (("show", "p.plan"), ("apply", "p.plan")):
            code, out = cli(*args)
            check_clear(args, code, out, repr(data))

    state_case()
    plan_case()


def main_(workdir: Path) -> None:
    os.chdir(workdir)
    Path("cozyplan.yaml").write_text(SPEC)
    code, out = cli("apply", "--auto-approve")
    assert code == 0, out
    Path("cozyplan.yaml").write_text(SPEC.replace("k: v", "k: w"))
    code, out = cli("plan", "--out", "p.plan")
    assert code == 0, out
    base = workdir / "base"
    base.mkdir()
    shutil.copytree("state", base / "state")
    shutil.copy("p.plan", base / "p.plan")
    only = os.environ.get("FUZZ_ONLY", "")  # e.g. "files" to rerun one part
    for case in (fuzz_random_bytes, fuzz_yamlish_text, fuzz_deep_nesting, fuzz_alias_bombs):
        if only in case.__name__:
            case()
            print(f"{case.__name__}: ok", flush=True)
    if only in "fuzz_state_and_plan_files":
        fuzz_state_and_plan_files(base)
        print("state and plan files: ok", flush=True)


if __name__ == "__main__":
    import resource

    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 2 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    main_(Path(sys.argv[1]))
