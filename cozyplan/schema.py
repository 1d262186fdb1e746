"""Schema markers that drive the generic diff, and introspection of resource models.

Providers declare behaviour in the schema instead of coding it per resource::

    class VM(BaseModel):
        model_config = ConfigDict(extra="forbid")
        vmid: Annotated[int, RequiresReplace()]
        token: Annotated[str | None, Computed(), Sensitive()] = None
        uptime: Annotated[int | None, Computed(), Noise()] = None
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class RequiresReplace:
    """A change to this field replaces the resource instead of updating it."""


@dataclass(frozen=True)
class Computed:
    """Set by the provider. ``optional=True``: the spec may set it; otherwise read-only.

    ``stable=False``: the value may change whenever the resource is updated (e.g. a content
    hash), so the plan shows it as known after apply on update, not only on create.
    """

    optional: bool = False
    stable: bool = True


@dataclass(frozen=True)
class Sensitive:
    """Never printed: plans, logs and JSON show ``(sensitive)``; state encrypts it."""


@dataclass(frozen=True)
class Noise:
    """Changes to this field are not drift (timestamps, counters, uptime)."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    requires_replace: bool
    computed: bool
    settable: bool
    stable: bool
    sensitive: bool
    noise: bool
    nested: ResourceSchema | None


@dataclass(frozen=True)
class ResourceSchema:
    """The markers of a model's fields, flattened once per model class."""

    model: type[BaseModel]
    fields: dict[str, FieldSpec]

    def field(self, name: str) -> FieldSpec | None:
        return self.fields.get(name)

    def sensitive_at(self, path: tuple[str | int, ...]) -> bool:
        spec = self._walk(path)
        return any(f.sensitive for f in spec)

    def noise_at(self, path: tuple[str | int, ...]) -> bool:
        return any(f.noise for f in self._walk(path))

    def replace_at(self, path: tuple[str | int, ...]) -> bool:
        return any(f.requires_replace for f in self._walk(path))

    def _walk(self, path: tuple[str | int, ...]) -> list[FieldSpec]:
        found: list[FieldSpec] = []
        schema: ResourceSchema | None = self
        for part in path:
            if schema is None:
                break
            if not isinstance(part, str):
                continue
            spec = schema.fields.get(part)
            if spec is None:
                break
            found.append(spec)
            schema = spec.nested
        return found

    @property
    def computed_fields(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.computed]


def _markers(info: FieldInfo) -> list[Any]:
    return list(info.metadata)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


@cache
def schema_of(model: type[BaseModel]) -> ResourceSchema:
    fields: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        marks = _markers(info)
        computed = next((m for m in marks if isinstance(m, Computed)), None)
        nested_model = _nested_model(info.annotation)
        fields[name] = FieldSpec(
            name=name,
            requires_replace=any(isinstance(m, RequiresReplace) for m in marks),
            computed=computed is not None,
            settable=computed is None or computed.optional,
            stable=computed is None or computed.stable,
            sensitive=any(isinstance(m, Sensitive) for m in marks),
            noise=any(isinstance(m, Noise) for m in marks),
            nested=schema_of(nested_model) if nested_model is not None else None,
        )
    return ResourceSchema(model=model, fields=fields)
