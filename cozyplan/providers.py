"""Configured provider instances for one run (the engine side of the provider API)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cozyplan import registry
from cozyplan.errors import Diagnostic, SpecError
from cozyplan.instances import Variables
from cozyplan.provider import EndpointResolver, Provider, ProviderContext, Resource
from cozyplan.spec.config import Config, model_errors
from cozyplan.spec.expr import ExprError, evaluate

SettingsOverlay = Callable[[str], Mapping[str, Any]]


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class ProviderSet:
    """Providers configured from the spec (plus the lab's overlay when rehearsing)."""

    def __init__(
        self,
        cfg: Config | None,
        variables: Variables | None,
        *,
        base_dir: Path,
        resolve_endpoint: EndpointResolver | None = None,
        overlay: SettingsOverlay | None = None,
        time_scale: float = 1.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.variables = variables
        self.base_dir = base_dir
        self.resolve_endpoint = resolve_endpoint
        self.overlay = overlay
        self.time_scale = time_scale
        self.log = log or (lambda message: None)
        self._providers: dict[str, Provider[Any]] = {}
        self._resources: dict[str, Resource[Any, Any]] = {}

    def provider(self, name: str) -> Provider[Any]:
        found = self._providers.get(name)
        if found is not None:
            return found
        cls = registry.provider_class(name)
        if cls is None:
            raise SpecError(
                [
                    Diagnostic(
                        f"provider {name!r} is not installed (installed: "
                        f"{', '.join(registry.available())})"
                    )
                ]
            )
        raw: dict[str, Any] = {}
        position = None
        if self.cfg is not None and name in self.cfg.providers:
            raw = self.cfg.providers[name]
            position = self.cfg.position(("providers", name))
        if self.variables is not None and raw:
            variables = self.variables
            try:
                raw = evaluate(raw, lambda ref: variables.resolve(ref)).value
            except ExprError as exc:
                raise SpecError(
                    [Diagnostic(str(exc), position, field_path=f"providers.{name}")]
                ) from None
        if self.overlay is not None:
            raw = deep_merge(raw, self.overlay(name))
        try:
            config = cls.config_model.model_validate(raw)
        except ValidationError:
            diags = [
                Diagnostic(
                    msg,
                    self.cfg.position(("providers", name, *loc)) if self.cfg else None,
                    field_path=f"providers.{name}.{'.'.join(str(p) for p in loc)}",
                )
                for loc, msg in model_errors(cls.config_model, raw, defer_templates=False)
            ]
            raise SpecError(diags) from None
        ctx = ProviderContext(base_dir=self.base_dir, time_scale=self.time_scale, log=self.log)
        if self.resolve_endpoint is not None:
            ctx.resolve_endpoint = self.resolve_endpoint
        provider = cls(config, ctx)
        self._providers[name] = provider
        return provider

    def resource(self, type_name: str) -> Resource[Any, Any]:
        found = self._resources.get(type_name)
        if found is not None:
            return found
        cls = registry.resource_class(type_name)
        if cls is None:
            raise SpecError([Diagnostic(f"unknown resource type {type_name!r}")])
        res = cls(self.provider(registry.provider_name_of(type_name)))
        self._resources[type_name] = res
        return res

    def warnings(self) -> list[str]:
        """Each configured provider's ``config_warnings``, once per run."""
        return [
            f"provider {name}: {w}"
            for name, provider in sorted(self._providers.items())
            for w in provider.config_warnings()
        ]

    async def close(self) -> None:
        for provider in self._providers.values():
            try:
                await provider.close()
            except Exception as exc:  # closing must not hide the run's own result
                self.log(f"provider {provider.name}: error while closing: {exc}")
