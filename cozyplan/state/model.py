"""The state file format (version 1).

```json
{"version": 1, "serial": 7, "lineage": "uuid", "cozyplan_version": "0.1.0",
 "resources": {"ADDRESS": {"type": ..., "provider": ..., "status": "ready"|"tainted",
                "desired": {...}, "observed": {...}, "dependencies": ["ADDRESS", ...],
                "sensitive_paths": [["content"]], "pending": null | {...}}}}
```
Only direct dependencies are stored. Sensitive values are encrypted (see ``crypto``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from cozyplan import __version__
from cozyplan.errors import StateError
from cozyplan.state.files import ResourceFile, StateFile, check

FORMAT_VERSION = 1


@dataclass
class Pending:
    """A create that started but whose result was never recorded (crash marker)."""

    operation: str  # "create", or "create-before-destroy" (the old object still exists)
    started: float
    attributes: dict[str, Any]
    run_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "started": self.started,
            "attributes": self.attributes,
            "run_id": self.run_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pending:
        return cls(
            data["operation"],
            float(data["started"]),
            dict(data["attributes"]),
            str(data.get("run_id", "")),
        )


@dataclass
class ResourceState:
    type: str
    provider: str
    observed: dict[str, Any] | None = None
    desired: dict[str, Any] | None = None
    dependencies: list[str] = field(default_factory=list)
    sensitive_paths: list[list[str | int]] = field(default_factory=list)
    status: str = "ready"
    pending: Pending | None = None
    #: objects replaced with create-before-destroy whose delete has not happened yet
    deposed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.observed is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "provider": self.provider,
            "status": self.status,
            "desired": self.desired,
            "observed": self.observed,
            "dependencies": self.dependencies,
            "sensitive_paths": self.sensitive_paths,
            "pending": self.pending.to_json() if self.pending else None,
            "deposed": self.deposed,
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> ResourceState:
        """Build from the stored form; a malformed one raises StateError naming the field."""
        check(ResourceFile, data, where)
        return cls(
            type=data["type"],
            provider=data["provider"],
            observed=data.get("observed"),
            desired=data.get("desired"),
            dependencies=list(data.get("dependencies") or []),
            sensitive_paths=[list(p) for p in data.get("sensitive_paths") or []],
            status=data.get("status", "ready"),
            pending=Pending.from_json(data["pending"]) if data.get("pending") else None,
            deposed=list(data.get("deposed") or []),
        )


@dataclass
class State:
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    resources: dict[str, ResourceState] = field(default_factory=dict)
    #: the timeline of the last apply that changed something (``cozyplan.runlog.RunRecord``)
    last_run: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "serial": self.serial,
            "lineage": self.lineage,
            "cozyplan_version": __version__,
        }
        if self.last_run is not None:
            data["last_run"] = self.last_run
        data["resources"] = {a: r.to_json() for a, r in sorted(self.resources.items())}
        return data

    @classmethod
    def from_json(cls, data: Any) -> State:
        """Build from the stored form; a malformed one raises StateError naming the field."""
        if not isinstance(data, dict):
            raise StateError(f"expected a JSON object, found {_json_kind(data)}")
        version = data.get("version")
        if version != FORMAT_VERSION:
            data = upgrade(data)
        check(StateFile, data)
        return cls(
            lineage=str(data["lineage"]),
            serial=int(data["serial"]),
            resources={
                a: ResourceState.from_json(r, f"resources.{a}")
                for a, r in data["resources"].items()
            },
            last_run=data.get("last_run"),
        )


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Upgrade older state formats, one version at a time (none older than 1 exists yet)."""
    version = data.get("version")
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or not 1 <= version <= FORMAT_VERSION
    ):
        raise StateError(
            f"state format version {version!r} is not supported by cozyplan {__version__} "
            f"(supports up to {FORMAT_VERSION})"
        )
    return data


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "a number"
