"""One API call as the route handlers see it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cozyplan.lab.proxmox.core import Pve
from cozyplan.lab.proxmox.errors import param_error


@dataclass
class Call:
    path: dict[str, str]
    params: dict[str, str]
    user: str  # full token id, e.g. root@pam!cozyplan

    @property
    def node(self) -> str:
        return self.path["node"]

    @property
    def vmid(self) -> int:
        return self.int_path("vmid")

    def int_path(self, key: str) -> int:
        raw = self.path[key]
        if not raw.isdigit():
            raise param_error(**{key: f"type check ('integer') failed - got '{raw}'"})
        return int(raw)

    def required(self, key: str) -> str:
        value = self.params.get(key)
        if value is None or value == "":
            raise param_error(**{key: "property is missing and it is not optional"})
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.params.get(key)
        if value is None:
            return default
        return value.lower() in ("1", "true", "yes", "on")

    @property
    def owner(self) -> str:
        """The user a task is logged for (``root@pam!cozyplan`` like PVE)."""
        return self.user


Handler = Callable[[Pve, Call], Awaitable[Any]]
Route = tuple[str, str, Handler]
