"""Finding providers through the ``cozyplan.providers`` entry-point group.

The engine never imports a provider package by name: it asks this registry, which loads the
entry point whose name is the provider's name (a resource type's prefix before the first ``_``).
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from cozyplan.provider import Provider, Resource

GROUP = "cozyplan.providers"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    """The group's entry points by name. Read once: each ``entry_points()`` call reads every
    installed distribution's metadata (~5 ms with a few hundred installed)."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


@cache
def provider_name_of(resource_type: str) -> str:
    """The provider of a type: its prefix before the first ``_``, which is a provider's name or
    the ``type_prefix`` a provider declares (``k8s_manifest`` -> ``kubernetes``). When that
    provider has no such type, the one provider that declares it exactly (``proxmox_cluster``
    is the ``capmox`` provider's: it runs on Kubernetes, not against the Proxmox API)."""
    prefix = resource_type.split("_", 1)[0]
    by_prefix = prefix if prefix in _entry_points() else None
    if by_prefix is None:
        for name in available():
            cls = provider_class(name)
            if cls is not None and cls.type_prefix == prefix:
                by_prefix = name
                break
    if by_prefix is not None and resource_type in resource_types_of(by_prefix):
        return by_prefix
    declaring = [name for name in available() if resource_type in resource_types_of(name)]
    if len(declaring) == 1:
        return declaring[0]
    return by_prefix or prefix


@cache
def available() -> tuple[str, ...]:
    return tuple(sorted(_entry_points()))


@cache
def provider_class(name: str) -> type[Provider[Any]] | None:
    ep = _entry_points().get(name)
    if ep is None:
        return None
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise TypeError(f"entry point {ep.value} is not a cozyplan Provider")
    return cls


def resource_class(resource_type: str) -> type[Resource[Any, Any]] | None:
    cls = provider_class(provider_name_of(resource_type))
    if cls is None:
        return None
    for rt in cls.resource_types:
        if rt.type_name == resource_type:
            return rt
    return None


def resource_types_of(name: str) -> list[str]:
    cls = provider_class(name)
    return sorted(rt.type_name for rt in cls.resource_types) if cls else []
