"""Cluster API Proxmox (capmox) release data: its CRDs as copied from the upstream tag.

Shared by the capmox provider (which kinds and fields exist) and the lab (which serves them).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from cozyplan import plainyaml

DATA = Path(__file__).parent / "data"
VERSIONS = ("v0.7.4",)
DEFAULT_VERSION = "v0.7.4"


@functools.cache
def _load(version: str) -> tuple[dict[str, Any], ...]:
    if version not in VERSIONS:
        raise ValueError(f"capmox {version!r} is not known; known: {', '.join(VERSIONS)}")
    return tuple(
        plainyaml.load_data_file(path) for path in sorted((DATA / version).glob("*.crd.yaml"))
    )


def crds(version: str = DEFAULT_VERSION) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions of ``version`` (ProxmoxCluster, ProxmoxMachine,
    ProxmoxMachineTemplate), fresh copies."""
    return [copy.deepcopy(doc) for doc in _load(version)]


def spec_fields(kind: str, version: str = DEFAULT_VERSION) -> set[str]:
    """The top-level ``spec`` fields of ``kind``."""
    for doc in _load(version):
        if doc["spec"]["names"]["kind"] == kind:
            schema = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
            return set(schema["properties"]["spec"].get("properties") or {})
    raise KeyError(kind)
