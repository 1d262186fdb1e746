"""What every host resource shares: the ``host`` field and access to its connection."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator

from cozyplan.provider import PlanError, RequiresReplace, Resource, SpecModel, is_unknown
from cozyplan_host.provider import HostProvider
from cozyplan_host.ssh import HostConnection

__all__ = ["AbsPath", "HostModel", "HostResource", "RequiresReplace"]


def _absolute(path: str) -> str:
    if not path.startswith("/") or "\0" in path:
        raise ValueError(f"{path!r} must be an absolute path on the host (starting with /)")
    return posixpath.normpath(path) if path != "/" else path


AbsPath = Annotated[str, AfterValidator(_absolute)]


class HostModel(SpecModel):
    #: name of a host in the provider's ``hosts`` block
    host: Annotated[str, RequiresReplace()]


M = TypeVar("M", bound=HostModel)


class HostResource(Resource[HostProvider, M]):
    def conn(self, model: HostModel) -> HostConnection:
        return self.provider.connection(model.host)

    def check_plan(self, prior: M | None, planned: Mapping[str, Any]) -> None:
        host = planned.get("host")
        if (
            isinstance(host, str)
            and not is_unknown(host)
            and host not in (self.provider.config.hosts)
        ):
            known = ", ".join(sorted(self.provider.config.hosts)) or "none"
            raise PlanError(
                f"host {host!r} is not in the host provider's hosts (known: {known})", field="host"
            )
