"""The provider class and its connection settings (resource types are attached in __init__)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from cozyplan.provider import Provider, Resource, SpecModel


class TalosConfig(SpecModel):
    timeout: float = Field(30.0, gt=0, description="seconds per API call")
    reboot_timeout: float = Field(600.0, gt=0, description="seconds to wait for a node to return")
    reboot_grace: float = Field(
        30.0, ge=0, description="seconds to wait for a rebooting node to go away"
    )
    poll_interval: float = Field(5.0, gt=0, description="seconds between polls")


class TalosProvider(Provider[TalosConfig]):
    name = "talos"
    lazy_modules = ("cozyplan_talos.client",)
    config_model = TalosConfig
    resource_types: ClassVar[list[type[Resource[Any, Any]]]] = []
