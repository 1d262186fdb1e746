"""The NexCage v0.7.3 configuration file, in the form its loader really parses.

Source: ``src/core/config.zig`` at tag v0.7.3. ``runtime`` is an object (``log_level``,
``log_path``, ``root_path``, ``routing``); the string form (``"runtime": "lxc"``, as the runbook
writes it) makes every nexcage command panic (exit 134). Keys the loader never reads are refused
here instead of being silently ignored.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, model_validator

from cozyplan.provider import SpecModel

IGNORED_KEYS = {
    "logging": "NexCage v0.7.3 ignores `logging`: use runtime.log_level and runtime.log_path",
    "kubernetes": "NexCage v0.7.3 ignores `kubernetes`: it has no CRI and no socket",
    "lxc_path": "NexCage v0.7.3 ignores `lxc_path`",
    "default_backend": "NexCage v0.7.3 ignores `default_backend`: use default_runtime or "
    "runtime.routing",
    "oci_fallback": "NexCage v0.7.3 ignores `oci_fallback`",
}


class RoutingRule(SpecModel):
    pattern: str
    runtime: Literal["lxc", "crun", "runc", "proxmox"] = "lxc"


class RuntimeSection(SpecModel):
    log_level: Literal["debug", "info", "warn", "error"] = "info"
    #: its directory must exist (else every command fails with FileNotFound): host_nexcage
    #: creates it
    log_path: str = "/var/log/nexcage/runtime.log"
    root_path: str = "/var/lib/nexcage"
    routing: list[RoutingRule] = Field(default_factory=lambda: [RoutingRule(pattern=".*")])


class NexCageConfig(SpecModel):
    runtime: RuntimeSection = Field(default_factory=RuntimeSection)
    default_runtime: str | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    temp_dir: str | None = None
    proxmox: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    security: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    container_config: dict[str, Any] | None = None
    storage: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _explain(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        runtime = data.get("runtime")
        if runtime is not None and not isinstance(runtime, dict):
            raise ValueError(
                f"runtime must be an object ({{log_level, log_path, root_path, routing}}), not "
                f"{json.dumps(runtime)}: NexCage v0.7.3 reads runtime as an object and the "
                "string form (as in the runbook) makes every nexcage command panic (exit 134)"
            )
        for key, why in IGNORED_KEYS.items():
            if key in data:
                raise ValueError(why)
        return data

    def render(self) -> str:
        """The file's text: stable key order, so unchanged settings give unchanged bytes."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2) + "\n"
