"""``validate``-time checks of the capmox resources against the rest of the spec.

* ``proxmox_cluster``: the ipv4 pool must parse and must not contain a node address
  (``proxmox_vm`` ``ipv4_addresses``/``ipconfig0``, ``talos_node`` ``address``) nor overlap a
  MetalLB pool (``cozystack_networking``) or another cluster's pool; ``workers.template_id``
  must be a reference to a ``proxmox_vm_template`` (``${proxmox_vm_template.X.vmid}``), not a
  retyped number.
* ``proxmox_csi``: each node's ``zone`` must come from the VM resources
  (``${proxmox_vm.X.node}``), not be retyped.
Values only known at apply time are skipped, never guessed.
"""

from __future__ import annotations

import re
from typing import Any

from cozyplan.provider import SpecBlock, SpecProblem, SpecView
from cozyplan_cozystack.netranges import known, node_addresses, parse_range, spans

_REF = re.compile(r"\$\{\s*([a-z0-9_]+)\.")


def _refers_to(raw: Any, resource_type: str) -> bool:
    return isinstance(raw, str) and any(m == resource_type for m in _REF.findall(raw))


def validate_spec(spec: SpecView) -> list[SpecProblem]:
    out: list[SpecProblem] = []
    clusters = spec.of_type("proxmox_cluster")
    for block in clusters:
        out.extend(_cluster(spec, block, clusters))
    for block in spec.of_type("proxmox_csi"):
        out.extend(_csi(block))
    return out


def _cluster(spec: SpecView, block: SpecBlock, clusters: list[SpecBlock]) -> list[SpecProblem]:
    out: list[SpecProblem] = []
    addr = block.address
    raw_workers = block.body.get("workers")
    raw_template = raw_workers.get("template_id") if isinstance(raw_workers, dict) else None
    if raw_template is not None and not _refers_to(raw_template, "proxmox_vm_template"):
        out.append(
            SpecProblem(
                addr,
                ("workers", "template_id"),
                "the template id must be a reference to the proxmox_vm_template the spec "
                "builds (e.g. ${proxmox_vm_template.talos.vmid}), not a retyped number: "
                "capmox clones whatever VM has that id",
            )
        )
    pool = spec.static(block.body.get("ipv4_addresses"))
    if isinstance(pool, list):
        for i, item in enumerate(pool):
            if isinstance(item, str) and known(item):
                try:
                    parse_range(item)
                except ValueError as exc:
                    out.append(
                        SpecProblem(
                            addr,
                            ("ipv4_addresses", i),
                            f"{item!r} is not a CIDR or a range a.b.c.d-a.b.c.e ({exc})",
                        )
                    )
    mine = list(spans(addr, ("ipv4_addresses",), pool))
    for span in mine:
        for node in node_addresses(spec):
            if span.overlaps(node):
                out.append(
                    SpecProblem(
                        addr,
                        span.path,
                        f"the machines' address pool {span.text} contains the node address "
                        f"{node.text}: capmox would give a worker an address in use",
                        related=((node.address, node.path),),
                    )
                )
        for lb in spec.of_type("cozystack_networking"):
            for other in spans(lb.address, ("addresses",), spec.static(lb.body.get("addresses"))):
                if span.overlaps(other):
                    out.append(
                        SpecProblem(
                            addr,
                            span.path,
                            f"the machines' address pool {span.text} overlaps the MetalLB pool "
                            f"{other.text} of {lb.address}: MetalLB would announce a worker's "
                            "address for a Service",
                            related=((other.address, other.path),),
                        )
                    )
        for peer in clusters:
            if peer.address <= addr:
                continue
            for other in spans(
                peer.address, ("ipv4_addresses",), spec.static(peer.body.get("ipv4_addresses"))
            ):
                if span.overlaps(other):
                    out.append(
                        SpecProblem(
                            addr,
                            span.path,
                            f"the machines' address pool {span.text} overlaps {other.text} of "
                            f"{peer.address}: two clusters would hand out the same addresses",
                            related=((other.address, other.path),),
                        )
                    )
    return out


def _csi(block: SpecBlock) -> list[SpecProblem]:
    out: list[SpecProblem] = []
    nodes = block.body.get("nodes")
    if not isinstance(nodes, dict):
        return out
    for name, node in nodes.items():
        zone = node.get("zone") if isinstance(node, dict) else None
        if zone is not None and not _refers_to(zone, "proxmox_vm"):
            out.append(
                SpecProblem(
                    block.address,
                    ("nodes", name, "zone"),
                    "the zone is the Proxmox node the VM runs on: take it from the VM "
                    "resource (e.g. ${proxmox_vm.cp[cp1].node}), do not retype it",
                )
            )
    return out
