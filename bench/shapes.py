"""Graph shapes, rendered the same way for cozyplan (YAML spec) and Terraform (HCL).

- ``chain``: N resources, each referencing the id of the previous one (a path of length N).
- ``fanout``: N independent resources (no edges at all).
- ``sleep``: N independent commands running ``sleep S`` (measures the walker's parallelism).

cozyplan uses ``null_resource`` / ``local_command``; Terraform uses the built-in
``terraform_data`` (no provider download) and a ``local-exec`` provisioner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SPEC_HEADER = "version: 1\nresources:\n"


def _sleep_arg(seconds: float) -> str:
    return f"{seconds:g}"


def chain_yaml(n: int, sleep: float) -> str:
    lines = [SPEC_HEADER, '  null_resource.n0:\n    triggers: {x: "0"}\n']
    for i in range(1, n):
        lines.append(
            f'  null_resource.n{i}:\n    triggers: {{prev: "${{null_resource.n{i - 1}.id}}"}}\n'
        )
    return "".join(lines)


def chain_hcl(n: int, sleep: float) -> str:
    lines = ['resource "terraform_data" "n0" {\n  triggers_replace = ["0"]\n}\n']
    for i in range(1, n):
        lines.append(
            f'resource "terraform_data" "n{i}" {{\n'
            f"  triggers_replace = [terraform_data.n{i - 1}.id]\n}}\n"
        )
    return "".join(lines)


def fanout_yaml(n: int, sleep: float) -> str:
    lines = [SPEC_HEADER]
    for i in range(n):
        lines.append(f'  null_resource.f{i}:\n    triggers: {{i: "{i}"}}\n')
    return "".join(lines)


def fanout_hcl(n: int, sleep: float) -> str:
    return "".join(
        f'resource "terraform_data" "f{i}" {{\n  triggers_replace = ["{i}"]\n}}\n' for i in range(n)
    )


def sleep_yaml(n: int, sleep: float) -> str:
    lines = [SPEC_HEADER]
    for i in range(n):
        lines.append(f'  local_command.s{i}:\n    command: "sleep {_sleep_arg(sleep)}"\n')
    return "".join(lines)


def sleep_hcl(n: int, sleep: float) -> str:
    return "".join(
        f'resource "terraform_data" "s{i}" {{\n'
        f'  provisioner "local-exec" {{\n    command = "sleep {_sleep_arg(sleep)}"\n  }}\n}}\n'
        for i in range(n)
    )


Render = Callable[[int, float], str]


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    steps: tuple[str, ...]  # run in this order in one work dir: "apply", then "plan" (no-op)
    cozyplan: Render
    terraform: Render


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape(
            "chain",
            "N resources, each referencing the previous one",
            ("apply", "plan"),
            chain_yaml,
            chain_hcl,
        ),
        Shape("fanout", "N independent resources", ("apply", "plan"), fanout_yaml, fanout_hcl),
        Shape("sleep", "N independent `sleep S` commands", ("apply",), sleep_yaml, sleep_hcl),
    )
}
