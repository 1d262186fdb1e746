"""Graph shapes, rendered the same way for cozyplan (YAML spec) and Terraform (HCL).

- ``chain``: N resources, each referencing the id of the previous one (a path of length N).
- ``fanout``: N independent resources (no edges at all).
- ``sleep``: N independent commands running ``sleep S`` (measures the walker's parallelism).
- ``journal``: the chain with ``journal_resource`` (``bench/journal_provider.py``): every
  step journalled durably before and after, as real providers' creates are.
- ``startup``: ``--version`` and ``validate`` of a one-resource spec (the fixed cost).
- ``cozystack``: the main spec (``specs/cozystack.yaml``) applied on the in-process lab, then a
  no-op ``plan --lab`` (cozyplan only).
- ``vm`` / ``vm-bg``: N ``proxmox_vm`` cloned from one template on the lab at time scale
  0.01, in-process / in a background lab (``lab up``); cozyplan only.
- ``startup-warm`` / ``cozystack-warm`` / ``sleep-warm``: ``startup``, ``cozystack`` and
  ``sleep`` with a command server (``cozyplan server start`` first, ``server stop`` last):
  every command is forked from it.

cozyplan uses ``null_resource`` / ``local_command``; Terraform uses the built-in
``terraform_data`` (no provider download) and a ``local-exec`` provisioner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAIN_SPEC = REPO / "specs" / "cozystack.yaml"
#: lab time scale of the ``vm`` shapes (the issue's 1000-VM figure is at 0.01)
VM_TIME_SCALE = 0.01

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


def journal_yaml(n: int, sleep: float) -> str:
    return chain_yaml(n, sleep).replace("null_resource.", "journal_resource.")


def cozystack_yaml(n: int, sleep: float) -> str:
    # the kubeconfig goes into the work dir, not the repository's state/
    text = MAIN_SPEC.read_text().replace("../state/cozy-new.kubeconfig", "kubeconfig")
    return text.replace("../state/test-tenant.kubeconfig", "test-tenant.kubeconfig")


VM_HEADER = """version: 1
providers:
  proxmox:
    endpoint: "https://10.0.0.1:8006"
    token_id: "root@pam!cozyplan"
    token_secret: "00000000-0000-0000-0000-000000000000"
resources:
  proxmox_vm_template.base:
    node: pve
    vmid: 9000
    name: base
    disks:
      - {slot: scsi0, storage: local-lvm, size: 2G}
"""


def vm_yaml(n: int, sleep: float) -> str:
    lines = [VM_HEADER]
    for i in range(n):
        lines.append(
            f"  proxmox_vm.v{i}:\n    node: pve\n    vmid: {1000 + i}\n    name: v{i}\n"
            '    clone: "${proxmox_vm_template.base.vmid}"\n    cores: 1\n    memory: 512\n'
        )
    return "".join(lines)


Render = Callable[[int, float], str]


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    steps: tuple[str, ...]  # run in this order in one work dir: "apply", then "plan" (no-op)
    cozyplan: Render
    terraform: Render | None  # None: cozyplan only (the lab has no Terraform counterpart)
    lab: str | None = None  # "in-process" (--lab) or "background" (lab up / lab down)
    teardown: tuple[str, ...] = ()  # run even when a step failed
    #: the shape runs ``sleep S`` commands: measured at ``--sleep`` and two parallelisms
    sleeps: bool = False
    #: the cold shape this one repeats with a command server (its sizes are that shape's)
    warm_of: str | None = None


def warm(shape: Shape) -> Shape:
    """``shape`` with a command server: ``server start`` first, ``server stop`` last, every
    command in between forked from it (cozyplan only)."""
    return replace(
        shape,
        name=f"{shape.name}-warm",
        description=f"{shape.description}, with the command server",
        steps=("server-start", *shape.steps),
        terraform=None,
        teardown=(*shape.teardown, "server-stop"),
        warm_of=shape.name,
    )


COLD: tuple[Shape, ...] = (
    Shape(
        "chain",
        "N resources, each referencing the previous one",
        ("apply", "plan"),
        chain_yaml,
        chain_hcl,
    ),
    Shape("fanout", "N independent resources", ("apply", "plan"), fanout_yaml, fanout_hcl),
    Shape(
        "sleep",
        "N independent `sleep S` commands",
        ("apply",),
        sleep_yaml,
        sleep_hcl,
        sleeps=True,
    ),
    Shape(
        "journal",
        "the chain, every step journalled durably before and after",
        ("apply", "plan"),
        journal_yaml,
        chain_hcl,
    ),
    Shape(
        "startup",
        "`--version` and `validate` of a one-resource spec",
        ("version", "validate"),
        fanout_yaml,
        fanout_hcl,
    ),
    Shape(
        "cozystack",
        "the main spec on the in-process lab",
        ("apply", "plan"),
        cozystack_yaml,
        None,
        lab="in-process",
    ),
    Shape(
        "vm",
        "N proxmox_vm on the in-process lab",
        ("apply", "plan"),
        vm_yaml,
        None,
        "in-process",
    ),
    Shape(
        "vm-bg",
        "N proxmox_vm on a background lab",
        ("lab-up", "apply", "plan"),
        vm_yaml,
        None,
        lab="background",
        teardown=("lab-down",),
    ),
)
#: the shapes also measured with a command server (``NAME-warm``)
WARM = ("startup", "sleep", "cozystack")
SHAPES: dict[str, Shape] = {s.name: s for s in (*COLD, *(warm(c) for c in COLD if c.name in WARM))}
